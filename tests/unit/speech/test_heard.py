"""The judgement on a decoded utterance: the caller's words, or noise. Category: unit (no model)."""

from __future__ import annotations

import pytest

from speech.heard import Heard, HearingSettings, noise_reason

pytestmark = pytest.mark.unit
ON = HearingSettings(enabled=True)


def test_clear_speech_is_the_caller_s():
    heard = Heard("I'd like to check my balance.", avg_logprob=-0.3, no_speech_prob=0.02)
    assert noise_reason(heard, voice_prob=0.9, level_db=-22, caller_db=-24, settings=ON) == ""


def test_a_voice_well_below_the_caller_is_someone_behind_them():
    heard = Heard("Dogs are sitting by the door.", avg_logprob=-0.4, no_speech_prob=0.05)
    assert noise_reason(heard, 0.9, level_db=-38, caller_db=-24, settings=ON) == "background"
    # before the caller has been heard, telephone speech's nominal level (-23 dBFS) is the reference
    assert noise_reason(heard, 0.9, level_db=-38, caller_db=None, settings=ON) == "background"
    assert noise_reason(heard, 0.9, level_db=-30, caller_db=None, settings=ON) == ""


def test_a_dialplan_s_hints_repeated_over_noise_are_not_the_caller_s():
    hints = "Acme Mobile, how can I help? I want to cancel my contract."
    echo = Heard("I want to cancel my contract.", avg_logprob=-0.5, no_speech_prob=0.1)
    assert noise_reason(echo, 0.7, hints=hints, settings=ON) == "invented"
    said = Heard("I want to cancel my contract.", avg_logprob=-0.2, no_speech_prob=0.02)
    assert noise_reason(said, 0.95, hints=hints, settings=ON) == ""  # a caller may say it
    # ... and did, on a clean line, with the voice detector less sure than of most speech
    clean = Heard("I want to cancel my contract.", avg_logprob=-0.06, no_speech_prob=0.0003)
    assert noise_reason(clean, 0.77, hints=hints, settings=ON) == ""
    other = Heard("I want to cancel my direct debit.", avg_logprob=-0.5, no_speech_prob=0.1)
    assert noise_reason(other, 0.7, hints=hints, settings=ON) == ""


def test_whisper_s_own_doubt_and_the_voice_detector_s():
    assert noise_reason(Heard("I'm going to cancel.", -0.9, 0.5), 0.9, settings=ON) == "noise"
    assert noise_reason(Heard("I'm going to cancel my contract.", -1.8, 0.1), 0.9, settings=ON) == "unsure"
    assert noise_reason(Heard("cancel my contract", -0.3, 0.05), voice_prob=0.3, settings=ON) == "noise"


def test_the_phrases_whisper_invents_on_noise_need_a_clear_voice():
    assert noise_reason(Heard("Thank you.", -0.7, 0.35), 0.7, settings=ON) == "invented"
    assert noise_reason(Heard("Bye.", -0.2, 0.05), 0.6, settings=ON) == "invented"
    # said clearly by the caller they are words like any other
    assert noise_reason(Heard("Thank you.", -0.2, 0.05), 0.95, settings=ON) == ""


def test_a_loop_is_not_words():
    text = "I want to I want to I want to I want to I want to I want to"
    assert noise_reason(Heard(text, -0.3, 0.05), 0.9, settings=ON) == "loop"


def test_nothing_is_judged_when_off_or_empty():
    assert noise_reason(Heard("Thank you.", -2.0, 0.9), 0.1, settings=HearingSettings(enabled=False)) == ""
    assert noise_reason(Heard("", -2.0, 0.9), 0.1, settings=ON) == ""
