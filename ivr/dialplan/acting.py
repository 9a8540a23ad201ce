"""Acting only on what the caller meant. A route that starts something that cannot be taken back
(a transfer, a hang-up, a POST to a backend) is taken only on a confident intent from a whole
turn. From a fragment ("Sorry." was once read as a complaint and the caller transferred before
they finished "... I need to pay my bill") or a weak match, the IVR first waits out the join
grace (the rest of the turn joins it), then asks "Sorry, was that about {ask_as}?"."""

from __future__ import annotations

import re
from typing import Any

from ivr.conversation import Input, InputKind
from ivr.dialplan.clarify import label
from ivr.dialplan.spoken import yes_or_no
from ivr.dialplan.turns import LAST_WORD_MS
from ivr.events import EventType

ACT_THRESHOLD = 0.5
"""The confidence a route that cannot be taken back needs by default (settings.act_threshold)."""
FRAGMENT_WORDS = 2
"""A turn this short is a fragment: it may be the start of something longer."""
_LOOKAHEAD = 6  # steps of a node looked through for the first that acts


def irreversible(dp: Any, node: str | None) -> bool:
    """The node soon does what cannot be undone: its first steps (through `say`s, `set`s and
    `goto`s) reach a transfer, a hang-up or a POST before any question to the caller."""
    seen: set[str] = set()
    while node is not None and node not in seen:
        seen.add(node)
        nxt = None
        for step in dp.nodes.get(node, [])[:_LOOKAHEAD]:
            if step.verb in ("transfer", "hangup"):
                return True
            if step.verb == "lookup":
                return str(step.args.get("method", "GET")).upper() == "POST"
            if step.verb == "goto":
                nxt = str(step.args.get("node") or "") or None
                break
            if step.verb not in ("say", "set", "play"):
                return False
        node = nxt
    return False


def threshold(dp: Any, intent: str) -> float:
    default = float(dp.settings.get("act_threshold", ACT_THRESHOLD))
    return float(dp.act_threshold.get(intent, default))


def needs_confirming(dp: Any, intent: str, confidence: float, text: str, target: str | None) -> bool:
    """A weak match, or a fragment, about to start what cannot be taken back."""
    if not irreversible(dp, target):
        return False
    short = len(re.findall(r"[a-z0-9']+", text.lower())) <= FRAGMENT_WORDS
    limit = threshold(dp, intent)
    return limit > 0 and (confidence < limit or short)


async def turn_complete(runner: Any, spoke: bool) -> None:
    """Before something that cannot be taken back: if the caller goes on with the turn that led
    here ("I want to complain. Actually, scratch that, ..."), the runner hears the whole turn
    again (Rejoin) instead. After a prompt (`spoke`) the grace has mostly run while it played
    (the caller interrupts it to go on): a last moment is listened to; else the whole grace."""
    if runner.turns.may_go_on and getattr(runner.conv, "joins_turns", False):
        wait = LAST_WORD_MS if spoke else runner.turns.grace_ms
        await runner.ask(None, timeout_ms=wait, count_silence=False, answer_expected=False)


async def meant(runner: Any, intent: str, text: str) -> Input | bool:
    """Whether the caller meant `intent`: True, False, or the caller's next turn when it was
    neither an answer nor the rest of this one (to be heard as a new turn)."""
    item = await runner.ask(f"Sorry, was that about {label(runner.dp, intent)}?")
    assert isinstance(item, Input)
    answer = None
    if item.kind is InputKind.SPEECH:
        answer = yes_or_no(item.text)
    elif item.kind is InputKind.DTMF:
        answer = {"1": True, "2": False}.get(item.digit)
    runner.conv.emit(
        EventType.INTENT,
        name=intent if answer else "none",
        confidence=1.0 if answer else 0.0,
        text=f"{text} / {item.text}" if item.kind is InputKind.SPEECH else text,
        node=runner.state.path[-1],
        by="confirmed",
    )
    if answer is None and item.kind is InputKind.SPEECH and item.text.strip():
        return item  # not a yes or a no: the caller said what they want instead
    runner.turns.commit()  # "Yes." answered the question: "It is." after it is no new request
    return bool(answer)
