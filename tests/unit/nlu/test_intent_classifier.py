"""The intent classifier trained at load, and when two intents are close enough to ask. Category: unit."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.dialplan.clarify import close_pair
from ivr.nlu.classifier import SoftmaxClassifier
from ivr.nlu.intents import IntentMatch, IntentMatcher
from tests.fakes import WordsEmbedder

pytestmark = pytest.mark.unit


def Axes() -> WordsEmbedder:
    """Texts on three axes by the word they contain."""
    return WordsEmbedder(["bill", "data", "weather"], floor=0.1, tail=0.0, lower=False)


def test_the_classifier_learns_the_examples_and_is_the_same_each_time():
    x = Axes().embed(["pay the bill", "bill please", "my data", "data left", "weather", "the weather"])
    y = np.array([0, 0, 1, 1, 2, 2])
    a = SoftmaxClassifier(["pay", "data", "none"], x.astype(np.float64), y)
    b = SoftmaxClassifier(["pay", "data", "none"], x.astype(np.float64), y)
    assert np.array_equal(a.w, b.w)  # deterministic: the same dialplan gives the same model
    p = a.probabilities(Axes().embed(["the bill"])[0])
    assert max(p, key=p.get) == "pay" and abs(sum(p.values()) - 1) < 1e-9
    only = a.probabilities(Axes().embed(["the bill"])[0], {"data", "none"})
    assert set(only) == {"data", "none"} and abs(sum(only.values()) - 1) < 1e-9


def test_the_matcher_decides_by_the_classifier_and_out_of_scope_holds():
    m = IntentMatcher(
        Axes(),
        {
            "pay_bill": ["pay the bill", "bill"],
            "data_usage": ["data left", "my data"],
            "none": ["weather", "rain weather"],
        },
        0.5,
    )
    got = m.match("about my bill")
    assert (got.name, got.by) == ("pay_bill", "classifier") and got.candidates[0][0] == "pay_bill"
    assert m.match("the weather").name == "none"
    assert m.match("data", ["pay_bill"]).name in ("none", "pay_bill")  # never an intent not allowed


def test_close_pair_asks_only_between_two_routed_intents_close_in_probability():
    close = IntentMatch(
        "pay_bill", 0.6, (("pay_bill", 0.40), ("complaint", 0.35), ("none", 0.1)), "classifier"
    )
    assert close_pair(close, {"pay_bill": "a", "complaint": "b"}, 0.1) == ("pay_bill", "complaint")
    assert close_pair(close, {"pay_bill": "a"}, 0.1) is None  # the other one is not routed here
    assert close_pair(close, {"pay_bill": "a", "complaint": "b"}, 0) is None  # turned off
    clear = IntentMatch("pay_bill", 0.6, (("pay_bill", 0.70), ("complaint", 0.1)), "classifier")
    assert close_pair(clear, {}, 0.1) is None
    keyword = IntentMatch("complaint", 0.9, close.candidates, "keyword")
    assert close_pair(keyword, {}, 0.1) is None  # a keyword decided: nothing to ask
    vs_none = IntentMatch("pay_bill", 0.6, (("pay_bill", 0.40), ("none", 0.35)), "classifier")
    assert close_pair(vs_none, {}, 0.1) is None
