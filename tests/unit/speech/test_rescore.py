"""Rescoring a final towards the step's expected words: which texts are tried, and which wins
(the audio's scores given here; the real recogniser's are in tests/e2e/test_asr_rescore.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ivr.dialplan.understanding import Understanding
from ivr.settings import Settings, SettingsError
from speech.rescore import candidates, expected_words, rescore, sound_alikes, vocabulary

pytestmark = pytest.mark.unit

EXPECTED = vocabulary(
    [
        "what's my balance",
        "how much is roaming in France",
        "how much data have I used",
        "I want to cancel my contract",
    ]
)


def test_vocabulary_keeps_names_capitalised_and_drops_common_words() -> None:
    assert EXPECTED["france"] == "France"
    assert EXPECTED["balance"] == "balance"
    assert "my" not in EXPECTED and "how" not in EXPECTED


def test_sound_alikes_begin_with_the_same_sound() -> None:
    assert [w for _, w in sound_alikes("ballot", EXPECTED)] == ["balance"]
    assert "France" in [EXPECTED[w] for _, w in sound_alikes("front", EXPECTED)]
    assert sound_alikes("balance", EXPECTED) == []  # already expected
    assert sound_alikes("the", EXPECTED) == []  # common
    assert sound_alikes("dolphin", EXPECTED) == []  # nothing like it


def test_candidates_swap_a_word_each_time_it_is_heard() -> None:
    got = candidates("I want my ballot. I want my ballot", EXPECTED)
    assert "I want my balance. I want my balance" in got
    assert candidates("Ballot, please.", EXPECTED)[0] == "Balance, please."


def _scores(table: dict[str, float]):
    def score(texts: Sequence[str]) -> list[float]:
        return [table.get(t, -50.0) for t in texts]

    return score


def test_a_swap_the_audio_bears_out_wins() -> None:
    score = _scores({"Can you tell me my ballot?": -4.9, "Can you tell me my balance?": -0.3})
    assert rescore("Can you tell me my ballot?", EXPECTED, score) == "Can you tell me my balance?"


def test_a_swap_within_the_margin_wins_and_beyond_it_does_not() -> None:
    heard, meant = "Can you tell me my ballot?", "Can you tell me my balance?"
    assert rescore(heard, EXPECTED, _scores({heard: -1.0, meant: -1.8}), margin=1.0) == meant
    assert rescore(heard, EXPECTED, _scores({heard: -1.0, meant: -2.5}), margin=1.0) is None
    assert rescore(heard, EXPECTED, _scores({heard: -1.0, meant: -1.8}), margin=0.0) is None
    assert rescore(heard, EXPECTED, _scores({heard: -1.0, meant: -0.6}), margin=0.0) == meant


def test_two_misheard_words_are_swapped_one_after_the_other() -> None:
    heard = "My ballot in front?"
    one = "My balance in front?"
    two = "My balance in France?"
    score = _scores({heard: -9.0, one: -5.0, two: -1.0})
    assert rescore(heard, EXPECTED, score) == two


def test_nothing_to_swap_scores_nothing() -> None:
    def never(texts: Sequence[str]) -> list[float]:
        raise AssertionError("scored although no word sounds like an expected one")

    assert rescore("I would like to speak to someone", EXPECTED, never) is None


def test_expected_words_are_checked() -> None:
    assert expected_words(None) == {}
    assert expected_words(["France", "balance"]) == {"france": "France", "balance": "balance"}
    with pytest.raises(ValueError, match="expect"):
        expected_words("balance")
    with pytest.raises(ValueError, match="expect"):
        expected_words(["two words"])
    with pytest.raises(ValueError, match="expect"):
        expected_words(["x" * 41])


def test_the_margin_is_a_setting(monkeypatch) -> None:
    assert Settings.from_env().asr.rescore_margin == 1.0
    monkeypatch.setenv("IVR_ASR_RESCORE_MARGIN", "off")
    assert Settings.from_env().asr.rescore_margin < 0
    monkeypatch.setenv("IVR_ASR_RESCORE_MARGIN", "0.5")
    assert Settings.from_env().asr.rescore_margin == 0.5
    monkeypatch.setenv("IVR_ASR_RESCORE_MARGIN", "lots")
    with pytest.raises(SettingsError, match="IVR_ASR_RESCORE_MARGIN"):
        Settings.from_env()


def test_the_same_word_inflected_is_not_a_mishearing() -> None:
    stopped = vocabulary(["my data stopped", "using my phone abroad", "this month"])
    assert sound_alikes("stop", stopped) == []
    assert sound_alikes("use", stopped) == []
    assert sound_alikes("month's", stopped) == []
    assert vocabulary(["I'll pay what's due"]) == {"pay": "pay", "due": "due"}


def test_a_dialplan_of_many_words_stays_within_what_the_service_takes() -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    many = ["w" + letters[n // 676] + letters[n // 26 % 26] + letters[n % 26] for n in range(3000)]
    phrases = {"big": [*many, "x" * 60]}
    words = Understanding(matcher=None, kb=None, phrases=phrases).words_for(None)  # type: ignore[arg-type]
    assert len(words) == 2000 and expected_words(list(words))  # the service takes them all
