"""What a human is told when the dialplan hands a call over: the whisper the agent hears
before the caller is connected, and the one-line summary for their screen and the headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivr.intents import NONE


def handover_whisper(caller: Mapping[str, Any], state: Any, queue: str, reason: str) -> str:
    """Who, why, and how they feel, spoken to the agent."""
    who = caller.get("name") or "an unknown caller"
    if caller.get("tier"):
        who += f", {caller['tier']} customer"
    parts = [f"Call from {who}, for {queue.replace('_', ' ')}."]
    if state.intent.get("name") and state.intent["name"] != NONE:
        parts.append(f"They want {str(state.intent['name']).replace('_', ' ')}.")
    if reason and not reason.startswith("route to"):
        parts.append(reason.rstrip(".") + ".")
    level = state.affect.get("level")
    if level in ("rising", "escalate"):
        parts.append("They sound upset." if level == "escalate" else "They may be getting upset.")
    return " ".join(parts)


def handover_summary(caller: Mapping[str, Any], state: Any, reason: str) -> str:
    """Caller, intent, the facts gathered, the last words and the reason, on one line."""
    who = caller.get("name") or caller.get("number") or "unknown caller"
    if caller.get("tier"):
        who += f" ({caller['tier']})"
    parts = [who]
    if state.intent.get("name") and state.intent["name"] != NONE:
        parts.append(f"wants {state.intent['name']}")
    slots = {
        k: v for k, v in state.vars.items() if not isinstance(v, (dict, list)) and k not in state.secret
    }
    if slots:
        parts.append(", ".join(f"{k}={v}" for k, v in slots.items()))
    if state.transcript:
        parts.append(f"last said: {state.transcript[-1]!r}")
    if reason:
        parts.append(reason)
    return "; ".join(parts)
