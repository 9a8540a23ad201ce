"""`hangup`: an optional goodbye, then the IVR ends the call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.turns import LAST_WORD_MS
from ivr.dialplan.verbs import END, verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("hangup")
async def hangup(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    if a.get("say"):
        await r.speak(a["say"])
    if r.turns.may_go_on and getattr(r.conv, "joins_turns", False):
        # "No." -> "Goodbye" while the caller goes on ("..., it's wrong, I want to
        # complain"): listen through the goodbye; a turn that continues the last one
        # raises Rejoin and the call goes on where that turn was heard
        await r.ask(None, timeout_ms=LAST_WORD_MS, count_silence=False)
    await r.conv.hangup(a.get("reason") or "dialplan")
    return END
