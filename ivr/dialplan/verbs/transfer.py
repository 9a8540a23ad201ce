"""`transfer`: to a `queue` with a tier, skill, priority and reason; the agent gets the
call's context (the runner's `transfer`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.acting import turn_complete
from ivr.dialplan.verbs import END, verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("transfer")
async def transfer(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    if a.get("say"):
        await r.speak(a["say"])
    await turn_complete(r, spoke=bool(a.get("say")))  # the caller may go on: "..., actually, ..."
    reason = r.render(a.get("reason") or f"route to {a['queue']}")
    await r.transfer(a["queue"], a.get("tier", "L2"), reason, int(a.get("priority", 0)), a.get("skill", ""))
    return END
