"""`set`: `NAME: template` into the call's variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("set")
async def set_vars(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    for k, v in a.items():
        r.state.vars[k] = r.render(v)
    return None
