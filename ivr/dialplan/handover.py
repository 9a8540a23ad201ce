"""What a human is told when the dialplan hands a call over: the whisper the agent hears
before the caller is connected, and the one-line summary for their screen (and the SIP
headers `ivr.telephony.handoff` builds from it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ivr.conversation import TransferRequest
from ivr.nlu.intents import NONE
from ivr.queues import QueueRules


def transfer_request(
    rules: QueueRules, queue: str, tier: str, reason: str, priority: int, skill: str, caller: Mapping[str, Any],
    state: Any, shown_vars: Mapping[str, Any], summary: str, assistant: Any = None,
) -> TransferRequest:  # fmt: skip
    """The hand-over to `queue` (its `rules`) with what the agent should see."""
    context = {
        "caller": dict(caller),
        "intent": dict(state.intent),
        "vars": json.loads(json.dumps(dict(shown_vars), default=str)),
        "transcript": list(state.transcript),
        "affect": dict(state.affect),
        "path": list(state.path),
        "summary": summary,
    }
    return TransferRequest(
        queue, tier, reason, priority, skill, context, rules,
        whisper=handover_whisper(caller, state, queue, reason), assistant=assistant,
    )  # fmt: skip


def kb_answer(nlu: Any, text: str, min_score: float = 0.6) -> str | None:
    """The knowledge base's answer to what a caller on hold asked, if it has a good one
    (blocking: the embedder)."""
    kb = getattr(nlu, "kb", None)
    if kb is None or not text.strip():
        return None
    entry, score = kb.best(text)
    return str(entry["answer"]) if entry is not None and score >= min_score else None


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
    slots = {k: v for k, v in state.vars.items() if not isinstance(v, (dict, list)) and k not in state.secret}
    if slots:
        parts.append(", ".join(f"{k}={v}" for k, v in slots.items()))
    if state.transcript:
        parts.append(f"last said: {state.transcript[-1]!r}")
    if reason:
        parts.append(reason)
    return "; ".join(parts)
