"""`goto`: jump to a node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("goto")
async def goto(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    return str(a["node"])
