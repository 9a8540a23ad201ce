"""Several requests in one turn: "Can you tell me my balance, and also how much data I have
used?" is two. The turn is cut at the words that join requests ("and also", "as well as",
"plus", "and"); when its parts are confidently two different requests this gather routes, the
first is answered now and the others wait in the call's state. The next gather that would ask
what else the caller wants (an intent gather, or a yes/no gather with `requests:`) answers the
next one instead of asking ("Now, your data usage."), and "anything else?" comes after the
last."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ivr.dialplan.clarify import label
from ivr.events import EventType
from ivr.nlu.intents import NONE

_JOINS = re.compile(
    r"(?:[,;.]\s*)?\b(?:and also|and then|and another thing|and what about|and how about|also|as well as|plus|and)\b",
    re.IGNORECASE,
)
MIN_WORDS = 3
"""A part shorter than this is no request of its own ("balance and data" is read whole)."""
PART_CONFIDENCE = 0.5
"""Each part must be at least this sure of its intent to be taken as a request of its own."""


_CORRECTED = re.compile(
    r"\b(?:no[\s,.]+wait|wait[\s,.]+no|no[\s,.]+sorry|sorry[\s,.]+no|no way|i mean|i meant|actually|scratch that"
    r"|let me rephrase|rather)\b[\s,.]*",
    re.IGNORECASE,
)


def after_correction(text: str) -> str:
    """The request a caller corrected themselves to: "I want to pay my bill, no wait, actually
    I need my balance" -> "I need my balance" (what follows the last correction, if it is long
    enough to be a request); otherwise the whole turn."""
    pieces = _CORRECTED.split(text)
    last = pieces[-1].strip(" ,.;")
    if len(pieces) > 1 and len(re.findall(r"[a-z0-9']+", last.lower())) >= MIN_WORDS:
        return last
    return text


def correcting(text: str) -> bool:
    """The turn ends on a correction ("I want to cancel my contract. No wait."): the corrected
    request is still to come."""
    pieces = _CORRECTED.split(text)
    return len(pieces) > 1 and not re.search(r"[a-z0-9]", pieces[-1].lower())


def parts_of(text: str) -> list[str]:
    """The turn cut where requests may join, keeping only parts long enough to be one."""
    parts = [p.strip(" ,.;?!") for p in _JOINS.split(text)]
    return [p for p in parts if len(re.findall(r"[a-z0-9']+", p.lower())) >= MIN_WORDS]


async def requests_in(runner: Any, text: str, routes: Mapping[str, Any]) -> list[tuple[str, float, str]]:
    """The distinct requests of the turn, in the order said, when there are two or more:
    (intent, confidence, the words of it); [] when the turn is one request."""
    parts = parts_of(text)
    if len(parts) < 2:
        return []
    found: list[tuple[str, float, str]] = []
    for part in parts:
        m = await runner.conv.compute(lambda part=part: runner.nlu.matcher.match(part, list(routes)))
        if m.name == NONE or m.name not in routes or m.confidence < PART_CONFIDENCE:
            continue
        if all(m.name != name for name, _, _ in found):
            found.append((m.name, m.confidence, part))
    return found if len(found) >= 2 else []


def asks_what_else(kind: str, a: Mapping[str, Any]) -> bool:
    """This gather asks the caller what they want (next)."""
    return kind == "intent" or (kind == "yes_no" and bool(a.get("requests")))


def next_waiting(runner: Any, kind: str, a: Mapping[str, Any]) -> tuple[str, str] | None:
    """(intent, node) of the next request waiting that this gather can route, or None."""
    routes = a.get("routes") or {}
    if kind == "yes_no":
        gather = next(
            (st.args for st in runner.dp.nodes.get(str(a["requests"]), []) if st.verb == "gather"), None
        )
        routes = (gather or {}).get("routes") or {}
    while runner.state.waiting:
        name, confidence, text = runner.state.waiting.pop(0)
        if name in routes:
            runner.state.intent = {"name": name, "confidence": confidence, "text": text}
            runner.conv.emit(
                EventType.INTENT, name=name, confidence=confidence, text=text, node=runner.state.path[-1],
                by="waiting",
            )  # fmt: skip
            return name, str(routes[name])
    return None


def now_about(runner: Any, intent: str) -> str:
    return f"Now, {label(runner.dp, intent)}."
