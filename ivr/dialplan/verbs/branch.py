"""`branch`: the first case whose condition holds, else `else`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.expr import evaluate
from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("branch")
async def branch(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    ctx = r.context()
    for case in a["cases"]:
        if evaluate(r.dp.conditions[case["if"]], ctx):
            return str(case["goto"])
    return a.get("else")
