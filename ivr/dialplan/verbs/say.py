"""`say`: TTS of a template (`{caller.*}`, `{vars.*}`, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb
from ivr.nlu.intents import NONE

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("say")
async def say(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    await r.speak(a["text"], interruptible=a.get("interruptible", True))
    if r.state.intent.get("name") not in (None, NONE):
        r.state.answered = True  # said after a request was heard: its answer, or news about it
    return None
