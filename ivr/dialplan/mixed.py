"""Mixed initiative: a gather that asks for yes/no, digits or a number still hears a new request,
and sends it where the dialplan's intent gather (`requests: NODE`) would."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ivr.dialplan.digits import spoken_digits
from ivr.dialplan.spoken import spoken_number, strip_yes_no
from ivr.events import EventType
from ivr.nlu.intents import NONE


async def new_request(runner: Any, kind: str, a: Mapping[str, Any], text: str) -> str | None:
    """Mixed initiative: the node a request made at a yes/no, digits or number gather goes
    to ("yes, how much data have I got left" -> data; "no, it's wrong, I want to complain"
    -> complaint; "I don't know it, can I talk to someone" -> agent), as the intent gather
    `requests:` names would route it; None when the words are just the answer."""
    rest = text
    if kind == "yes_no":
        rest = strip_yes_no(text)
    elif (kind == "digits" and spoken_digits(text)) or (kind == "number" and spoken_number(text) is not None):
        return None  # the answer asked for is here
    if len(re.findall(r"[a-z']+", rest.lower())) < 3:
        return None  # "yes please", "no thanks": an answer, not a request
    gather = next(
        (st.args for st in runner.dp.nodes.get(str(a["requests"]), []) if st.verb == "gather"), None
    )
    routes = (gather or {}).get("routes") or {}
    match = await runner.conv.compute(lambda: runner.nlu.matcher.match(rest, list(routes)))
    if match.name == NONE or match.name not in routes:
        return None
    if match.name == runner.state.intent.get("name"):
        # the rest of the turn just answered ("I'm travelling to France next week." + "Will my
        # phone work there?" when the VAD split it): not a new request; it gets the gather's reprompt
        return None
    runner.state.intent = {"name": match.name, "confidence": match.confidence, "text": text}
    runner.conv.emit(
        EventType.INTENT, name=match.name, confidence=match.confidence, text=text, node=runner.state.path[-1],
        candidates=[{"name": n, "score": c} for n, c in match.candidates], by=match.by,
    )  # fmt: skip
    return str(routes[match.name])
