"""What an answer to "Is that about paying your bill, or your balance?" takes."""

from __future__ import annotations

import pytest

from ivr.dialplan.clarify import _chosen
from ivr.nlu.intents import NONE, IntentMatch

pytestmark = pytest.mark.unit

PAIR = ("pay_bill", "check_balance")


def _m(name: str, by: str = "classifier") -> IntentMatch:
    return IntentMatch(name, 0.6, (), by)


def test_the_one_named() -> None:
    assert (
        _chosen(PAIR, "my balance", ["check_balance"], _m("check_balance"), _m("check_balance"))
        == "check_balance"
    )


def test_a_third_request_is_that_request() -> None:
    assert _chosen(PAIR, "no, I want to complain", [], _m("complaint"), _m(NONE)) == "complaint"


def test_first_or_second() -> None:
    assert _chosen(PAIR, "the second one", [], _m(NONE), _m(NONE)) == "check_balance"
    assert _chosen(PAIR, "the first", [], _m(NONE), _m("check_balance")) == "pay_bill"


def test_an_answer_about_neither_takes_neither() -> None:
    assert _chosen(PAIR, "No thank you.", [], _m(NONE), _m("pay_bill")) == NONE
    assert _chosen(PAIR, "Triple 2.", [], _m(NONE), _m(NONE)) == NONE


def test_words_closer_to_one_take_it() -> None:
    assert _chosen(PAIR, "how much I owe", [], _m("check_balance"), _m("check_balance")) == "check_balance"
    assert _chosen(PAIR, "yes", [], _m(NONE), _m("check_balance")) == "check_balance"
    assert _chosen(PAIR, "yes please", [], _m(NONE), _m(NONE)) == "pay_bill"  # the likelier
