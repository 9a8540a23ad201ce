"""What one input means at a gather: an intent (with the knowledge base and a question back when
two intents are close), yes/no, digits, a number or free text, and a new request heard instead
of the answer (mixed initiative). The runner asks; this reads the answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ivr.conversation import Input, InputKind
from ivr.dialplan.acting import meant, needs_confirming
from ivr.dialplan.clarify import CLARIFY_MARGIN, clarify, close_pair
from ivr.dialplan.closing import is_closing, is_filler
from ivr.dialplan.digits import Reading, read_digits, spoken_digits
from ivr.dialplan.mixed import new_request
from ivr.dialplan.several import after_correction, correcting, requests_in
from ivr.dialplan.spoken import spoken_number, strip_yes_no, yes_or_no
from ivr.events import EventType
from ivr.nlu.intents import NONE, IntentMatch

REQUEST = object()  # a gather heard a new request instead of its answer
FILLER = object()  # only "sorry", "erm", "OK so": the request follows; not an answer, not a miss


class CallerGone(Exception):
    """The caller hung up."""


class Closing(Exception):
    """The caller said goodbye ("lovely, thanks, bye"): let them go."""


async def interpret(runner: Any, kind: str, a: Mapping[str, Any], item: Input) -> tuple[Any, str | None]:
    """(value, node) from one input; value None = no match / no input."""
    if item.kind is InputKind.NO_INPUT:
        return None, None
    if item.kind is InputKind.SPEECH:
        if is_closing(item.text) and not (kind == "yes_no" and yes_or_no(item.text) is not None):
            # a goodbye anywhere; "no, that's all" answering a yes/no question is that answer
            # (the gather's `no:` route, or its variable for the dialplan to decide on)
            raise Closing(item.text)
        if is_filler(item.text) and (
            kind == "intent"
            or (kind == "yes_no" and yes_or_no(item.text) is None)
            or (kind == "digits" and not spoken_digits(item.text))
        ):
            return FILLER, None
    pattern = a.get("pattern")
    if kind != "intent" and a.get("requests") and item.kind is InputKind.SPEECH and not a.get("secure"):
        target = await new_request(runner, kind, a, item.text)
        if target is not None:
            return REQUEST, target
    if kind == "intent":
        return await _intent(runner, a, item)
    if kind == "yes_no":
        if item.kind is InputKind.DTMF:
            answer = {"1": True, "2": False}.get(item.digit)
        else:
            answer = yes_or_no(item.text, readback=bool(a.get("corrects")))
        if answer is None:
            return None, None
        if answer is False and a.get("corrects") and item.kind is InputKind.SPEECH:
            digits = spoken_digits(strip_yes_no(item.text))
            if digits:  # "no, it's 471103": the right value, said with the no
                var = str(a["corrects"])
                runner.state.vars[var] = digits
                runner.conv.emit(EventType.CORRECTED, var=var, node=runner.state.path[-1])
                return "corrected", runner.state.path[-1]
        return ("yes" if answer else "no"), a.get("yes" if answer else "no")
    if kind == "digits":
        lo, hi = int(a.get("min_digits", 1)), int(a.get("max_digits", 32))
        reading = read_digits(item.text, lo, hi) if item.kind is InputKind.SPEECH else None
        digits = reading.digits if reading else await collect_digits(runner, a, item)
        if not lo <= len(digits) <= hi or (pattern and not re.fullmatch(pattern, digits)):
            return None, None
        if reading is not None and not await heard_right(runner, a, reading):
            return None, None
        runner.state.last["digits"] = digits
        return digits, None
    if kind == "number":
        if item.kind is InputKind.DTMF:
            number = int(await collect_digits(runner, a, item) or "0")
        else:
            found = spoken_number(item.text)
            if found is None:
                return None, None
            number = found
        if pattern and not re.fullmatch(pattern, str(number)):
            return None, None
        return number, None
    # text
    if item.kind is not InputKind.SPEECH:
        return None, None
    if pattern and not re.search(pattern, item.text):
        return None, None
    return item.text, None


async def _intent(runner: Any, a: Mapping[str, Any], item: Input) -> tuple[Any, str | None]:
    """An intent gather: the knowledge base when it answers more closely, a question back when
    the two likeliest intents are close, else the intent's route."""
    if item.kind is not InputKind.SPEECH:
        return None, None
    allowed = a.get("intents")
    if correcting(item.text):  # "I want to cancel. No wait." - the rest is coming
        return FILLER, None
    meant_text = after_correction(item.text)  # "..., no wait, actually I need my balance"
    match = await runner.conv.compute(lambda: runner.nlu.matcher.match(meant_text, allowed))
    routes = a.get("routes") or {}
    several = await requests_in(runner, meant_text, routes) if routes and match.by != "keyword" else []
    if several:  # "my balance, and also how much data I've used": the first now, the rest after
        (name, confidence, _), *rest = several
        match = IntentMatch(name, round(confidence, 3), match.candidates, "several")
        runner.state.waiting = rest
    if a.get("knowledge") and runner.nlu.live is not None:
        # the console's approved entries: answers the dialplan's own nodes do not give
        entry, score = await runner.conv.compute(lambda: runner.nlu.live.best(item.text))
        floor = float(runner.dp.settings.get("knowledge_threshold", 0.6))
        if entry is not None and score >= floor and score > match.confidence:
            # a question the knowledge base answers more closely than any intent
            runner.state.intent = {
                "name": "knowledge",
                "confidence": round(score, 3),
                "text": item.text,
            }
            runner.conv.emit(
                EventType.INTENT, name="knowledge", confidence=round(score, 3), text=item.text,
                node=runner.state.path[-1],
            )  # fmt: skip
            await runner.say_answer(entry)
            return "knowledge", str(a["knowledge"])
    runner.state.intent = {"name": match.name, "confidence": match.confidence, "text": item.text}
    runner.conv.emit(
        EventType.INTENT,
        name=match.name,
        confidence=match.confidence,
        text=item.text,
        node=runner.state.path[-1],
        candidates=[{"name": n, "score": c} for n, c in match.candidates],
        by=match.by,
    )
    pair = close_pair(match, routes, float(runner.dp.settings.get("clarify_margin", CLARIFY_MARGIN)))
    if pair is not None:  # about as close as each other: ask, do not guess
        match = await clarify(runner, pair, match, item.text)
        runner.state.intent = {"name": match.name, "confidence": match.confidence, "text": item.text}
        if match.name == NONE:  # neither of the two: the caller says what they need
            runner.state.intent = {}
            await runner.speak("Sorry about that. What can I help you with?")
            return FILLER, None
    if match.name == NONE or (routes and match.name not in routes and not a.get("next")):
        return None, None
    target = routes.get(match.name)
    if match.by not in ("clarified", "keyword") and needs_confirming(
        runner.dp, match.name, match.confidence, item.text, target
    ):
        said = await meant(runner, match.name, item.text)
        if isinstance(said, Input):  # the caller said something else: heard as a new turn
            runner.turns.replay = said
            return FILLER, None
        if not said:
            runner.state.intent = {}
            await runner.speak("Sorry about that. What can I help you with?")
            return FILLER, None
    return match.name, target


async def heard_right(runner: Any, a: Mapping[str, Any], reading: Reading) -> bool:
    """Spoken digits read back when the reading was mended, or always (`confirm: always`);
    never for a secure gather. A no (or no answer) is a miss: the caller is asked again, and
    offered the keypad."""
    mode = str(a.get("confirm", "auto"))
    if a.get("secure") or mode == "never" or (mode == "auto" and reading.sure):
        return True
    spaced = " ".join(reading.digits)
    item = await runner.ask(f"I heard {spaced}. Is that right?", digits=True)
    answer = yes_or_no(item.text, readback=True) if item.kind is InputKind.SPEECH else None
    if item.kind is InputKind.DTMF:
        answer = {"1": True, "2": False}.get(item.digit)
    runner.conv.emit(EventType.READBACK, confirmed=answer is True, node=runner.state.path[-1])
    return answer is True


async def collect_digits(runner: Any, a: Mapping[str, Any], first: Input) -> str:
    if first.kind is InputKind.SPEECH:
        return spoken_digits(first.text)
    terminator = a.get("terminator", "#")
    hi = int(a.get("max_digits", 32))
    digits = "" if first.digit == terminator else first.digit
    if first.digit == terminator:
        return digits
    while len(digits) < hi:
        item = await runner.conv.wait_input(3000)  # inter-digit time
        if item.kind is InputKind.HANGUP:
            raise CallerGone()
        if item.kind is not InputKind.DTMF or item.digit == terminator:
            break
        digits += item.digit
    return digits
