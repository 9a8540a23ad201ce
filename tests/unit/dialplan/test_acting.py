"""Which routes start something that cannot be taken back, and when a match must be confirmed
first (ivr.dialplan.acting), on the shipped hotline."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.dialplan import load_dialplan
from ivr.dialplan.acting import irreversible, needs_confirming

pytestmark = pytest.mark.unit
HOTLINE = load_dialplan(Path(__file__).resolve().parents[3] / "dialplans" / "hotline.yaml")


def test_transfers_and_hangups_are_irreversible_questions_and_answers_are_not():
    menu = next(st.args for st in HOTLINE.nodes["menu"] if st.verb == "gather")
    acts = {intent: irreversible(HOTLINE, node) for intent, node in menu["routes"].items()}
    assert acts["complaint"] and acts["cancel_service"] and acts["agent_request"]
    assert not acts["check_balance"] and not acts["lost_sim"]  # they ask before they act
    assert irreversible(HOTLINE, "goodbye") and not irreversible(HOTLINE, None)


def test_a_fragment_or_a_weak_match_is_confirmed_a_whole_confident_turn_is_not():
    assert needs_confirming(HOTLINE, "complaint", 0.37, "Sorry.", "complaint")
    assert needs_confirming(HOTLINE, "complaint", 0.9, "Terrible!", "complaint")  # one word
    assert not needs_confirming(HOTLINE, "complaint", 0.8, "I want to make a complaint", "complaint")
    assert not needs_confirming(HOTLINE, "check_balance", 0.31, "balance", "balance")  # nothing to undo
