"""Asking rather than guessing: when the two closest intents score about the same ("my bill":
paying it, or the balance?), an intent gather asks "Is that about paying your bill, or your
balance?" and routes by the answer: the one it names ("the second one" too), or the one its words
are closer to; an answer that is plainly a third request ("no, I want to complain") is that
request; an answer that is neither ("no", "no thank you", a number) takes neither (the caller
is asked what they need); silence keeps the likelier one. Close means the classifier's probabilities of the two are within
`clarify_margin` (0.1: about 2% of the benchmark's requests are asked about)."""

from __future__ import annotations

import re
from typing import Any

from ivr.conversation import InputKind
from ivr.dialplan.spoken import yes_or_no
from ivr.events import EventType
from ivr.nlu.intents import NONE, IntentMatch

CLARIFY_MARGIN = 0.1
_FIRST = re.compile(r"\b(first|former|earlier)\b", re.IGNORECASE)
_SECOND = re.compile(r"\b(second|latter|last|other)\b", re.IGNORECASE)
_STOP = frozenset("a an the my your it is that about to of for with and or on in i i'm me".split())


def close_pair(match: IntentMatch, routes: Any, margin: float) -> tuple[str, str] | None:
    """The two intents to ask between, or None (one is clearly closer, a keyword decided, or
    one of them is out of scope or not routed here)."""
    if (
        margin <= 0
        or match.by not in ("classifier", "similarity")
        or match.name == NONE
        or len(match.candidates) < 2
    ):
        return None
    (a, sa), (b, sb) = match.candidates[:2]
    if b == NONE or sa - sb >= margin:
        return None
    if routes and (a not in routes or b not in routes):
        return None
    return a, b


def label(dp: Any, intent: str) -> str:
    return dp.ask_as.get(intent) or intent.replace("_", " ")


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if w not in _STOP}


def _chosen(
    pair: tuple[str, str], reply: str, named: list[str], other: IntentMatch, among: IntentMatch
) -> str:
    """Which of `pair` an answer takes: one it names, a third request, or NONE for neither."""
    a, b = pair
    if len(named) == 1:
        return named[0]
    if other.name not in (*pair, NONE) and (other.by == "keyword" or not named):
        return other.name  # "no, I want to complain": neither, a request of its own
    if not named and (_FIRST.search(reply) or _SECOND.search(reply)):
        return a if _FIRST.search(reply) else b  # "the second one"
    answer = yes_or_no(reply)
    if not named and (answer is False or (among.name not in pair and answer is None)):
        return NONE  # "no thank you", "triple two": not about either
    return among.name if among.name in pair else a  # a bare "yes": the likelier


async def clarify(runner: Any, pair: tuple[str, str], match: IntentMatch, text: str) -> IntentMatch:
    """Ask which of `pair` the caller meant; their answer (one turn, the global handlers
    apply) is matched against those two only. Returns the match chosen (`by` "clarified"),
    NONE when the answer was about neither."""
    a, b = pair
    matcher = runner.nlu.matcher
    item = await runner.ask(f"Is that about {label(runner.dp, a)}, or {label(runner.dp, b)}?")
    chosen, reply = a, ""
    if item.kind is InputKind.SPEECH and item.text.strip():
        reply = item.text
        said = _words(reply)
        named = [x for x in pair if said & _words(label(runner.dp, x))]
        other = await runner.conv.compute(lambda: matcher.match(reply))
        among = await runner.conv.compute(lambda: matcher.match(reply, list(pair)))
        chosen = _chosen(pair, reply, named, other, among)
    whole = f"{text} / {reply}" if reply else text
    scores = await runner.conv.compute(lambda: matcher.scores(reply or text))
    score = round(scores.get(chosen, 0.0 if chosen == NONE else match.confidence), 3)
    runner.conv.emit(
        EventType.INTENT,
        name=chosen,
        confidence=score,
        text=whole,
        node=runner.state.path[-1],
        by="clarified",
    )
    return IntentMatch(chosen, score, match.candidates, "clarified")
