"""The radar in whole scripted calls, voice and words (piper's voice at 8 kHz, raised by
gain_db/semitones; whisper; the words model shipped in models/words.json). The acoustic part is
both a transparent model (anger ~0.5 at +5 dB and +2.5 semitones over the caller's baseline),
which tests the fusion and the radar's logic, and the shipped models/radar.json (calibrated on
emotion_dev), which tests what a caller of `make run` meets. Category: e2e."""

from __future__ import annotations

import pytest

from prosody.radar import RadarModel
from tests.e2e import test_dialplan_replay as golden
from tests.e2e.test_dialplan_replay import call, kinds
from tests.unit.prosody.test_prosody import _loudness_pitch_model

directory, hotline = golden.directory, golden.hotline  # the golden calls' fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(params=["transparent", "shipped"])
def model(request):
    return _loudness_pitch_model() if request.param == "transparent" else RadarModel.load()


def levels(events):
    return [a["level"] for a in kinds(events, "affect")]


def test_a_raised_voice_with_happy_words_is_not_escalated(speech_address, hotline, directory, model):
    events = call(speech_address, hotline, directory, "radar_happy_loud.yaml", radar_model=model)
    affects = kinds(events, "affect")
    assert "escalate" not in levels(events), affects
    assert any(a.get("valence", 0) > 0.5 for a in affects), affects  # the words were heard as positive
    assert not [t for t in kinds(events, "transfer") if t["queue"] == "priority"]


def test_the_same_raised_voice_with_the_words_ignored_is_escalated(speech_address, hotline, directory, model):
    """The control: without the fusion the happy caller's voice alone escalates, so the test
    above tests the words, not a script too quiet to matter."""
    m = model
    deaf = RadarModel(m.anger, m.anxiety, m.population, {**m.thresholds, "words_lift": 0.0, "words_damp": 0.0},
                      m.meta, m.features)  # fmt: skip
    events = call(speech_address, hotline, directory, "radar_happy_loud.yaml", radar_model=deaf)
    assert "escalate" in levels(events), kinds(events, "affect")


def test_a_louder_caller_with_angry_words_is_escalated_within_two_utterances(
    speech_address, hotline, directory, model
):
    events = call(speech_address, hotline, directory, "radar_angry_words.yaml", radar_model=model)
    got = levels(events)
    assert got[0] == "calm" and "escalate" in got[1:3], kinds(events, "affect")
    assert kinds(events, "affect")[1]["valence"] < -0.5
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "priority"


def test_a_loud_but_calm_caller_stays_calm_all_call(speech_address, hotline, directory, model):
    events = call(speech_address, hotline, directory, "radar_loud_calm.yaml", radar_model=model)
    assert levels(events) and "escalate" not in levels(events), kinds(events, "affect")
    assert kinds(events, "hangup") == [{"reason": "resolved"}]


def test_each_affect_event_keeps_the_cues_a_retraining_reads(speech_address, hotline, directory):
    """The finals bring the encoder's pooled states through the speech service: every affect
    event holds the prosody and encoder cues (against the population, then the caller's own voice)."""
    model = RadarModel.load()
    assert model.encoder is not None
    events = call(speech_address, hotline, directory, "radar_angry_words.yaml", radar_model=model)
    affects = kinds(events, "affect")
    k = model.encoder.projection.components.shape[0]
    assert affects and all(
        len(a["cues"]["pp"]) == len(model.features) and len(a["cues"]["ep"]) == k for a in affects
    )
    assert any(len(a["cues"].get("eo", [])) == k and a["cues"]["own"] > 0 for a in affects[1:]), affects
