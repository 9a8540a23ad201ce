"""Goodbyes and fillers read from a whole turn (ivr.dialplan.closing); the phrasings are this
file's own, not the dialplan's examples."""

from __future__ import annotations

import pytest

from ivr.dialplan.closing import is_closing, is_filler

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "Lovely. Thanks. Bye.",
        "Great. That is all I needed.",
        "No, that's all, thanks",
        "cheers",
        "Bye bye!",
        "that's everything",
        "Thanks very much, goodbye!",
        "OK, that's me sorted, thank you",
        "Brilliant, you've been very helpful, bye now",
        "Nothing else, thanks.",
        "No thank you, have a good day",
        "Perfect, that answers my question. Cheers.",
        "that was all I wanted thanks",
        "I'm all set, thank you",
        "Right, I'm done. Ta ta.",
        "That’s all, thank you",  # a typographic apostrophe
    ],
)
def test_a_goodbye_is_heard_however_it_is_said(text):
    assert is_closing(text)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, and what's my balance?",  # thanks, then a request
        "That's all wrong.",
        "thank you",  # thanks alone may come before the request
        "Bye the way my bill is wrong",
        "I want to cancel, bye",
        "great",
        "Yes please",
        "no",
        "that's fine",  # consent, not a goodbye
        "Can I say goodbye to my contract",
        "my data, that's all",
        "sorry",
        "",
    ],
)
def test_a_request_or_an_answer_is_not_a_goodbye(text):
    assert not is_closing(text)


@pytest.mark.parametrize(
    "text", ["Sorry.", "Erm", "Well...", "OK so", "sorry, um", "Hello?", "hang on", "I'm sorry"]
)
def test_an_apology_or_a_hesitation_alone_is_a_filler(text):
    assert is_filler(text)


@pytest.mark.parametrize(
    "text",
    ["Sorry, I need to pay my bill", "so my bill", "sorry to bother you but my SIM is lost", "agent", ""],
)
def test_a_request_is_not_a_filler(text):
    assert not is_filler(text)
