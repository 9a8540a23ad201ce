"""Joining a turn the VAD cut mid-thought: when it joins, and what ends the chance. Category: unit."""

from __future__ import annotations

import pytest

from ivr.conversation import Input, InputKind
from ivr.dialplan.turns import Rejoin, Turns

pytestmark = pytest.mark.unit


def speech(text: str, gap_ms: int | None) -> Input:
    return Input(InputKind.SPEECH, text=text, gap_ms=gap_ms)


def test_a_turn_within_the_grace_joins_the_last_and_goes_back_to_its_step():
    turns = Turns(1200)
    turns.at_step("menu", 2, {"vars": {}})
    turns.heard(speech("I'd like to pay my bill.", None), secure=False)
    assert turns.may_go_on
    turns.at_step("pay", 0, {"vars": {"x": 1}})
    with pytest.raises(Rejoin) as r:
        turns.heard(speech("but it's wrong again", 400), secure=False)
    node, step, state = turns.rejoin(r.value)
    assert (node, step, state) == ("menu", 2, {"vars": {}})
    assert turns.take_replay().text == "I'd like to pay my bill. but it's wrong again"


@pytest.mark.parametrize("between", ["late", "key", "secure", "commit"])
def test_a_late_turn_a_key_a_secure_answer_or_a_post_in_between_is_never_joined(between):
    turns = Turns(1200)
    turns.at_step("menu", 0, {})
    turns.heard(speech("my number is 07700900123", None), secure=between == "secure")
    if between == "key":
        turns.heard(Input(InputKind.DTMF, digit="1"), secure=False)
    if between == "commit":  # a POST ran (the SIM was blocked): going back would send it again
        turns.commit()
    turns.heard(speech("and my wallet too", 1500 if between == "late" else 300), secure=False)  # no Rejoin
    assert turns.replay is None


def test_a_grace_of_zero_turns_joining_off():
    turns = Turns(0)
    turns.at_step("menu", 0, {})
    turns.heard(speech("yes.", None), secure=False)
    assert not turns.may_go_on
    turns.heard(speech("how much data", 100), secure=False)
