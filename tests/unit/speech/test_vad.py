"""Utterance segmentation on audio time. Category: unit (webrtcvad, no model).

The timing rules are tested with a synthetic voice, which Silero (rightly) does not take for
speech: these run with webrtcvad deciding voice; tests/unit/speech/test_vad_noise.py has
Silero on real speech."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from speech.audio import decode_file, frames_from_samples, resample
from speech.vad import Segmenter, SegmentKind, VadSettings
from tests.conftest import FIXTURES, voiced

pytestmark = pytest.mark.unit
WEBRTC = VadSettings(
    detector="webrtc", foreground_db=0, bed_gate_db=0, barge_margin_db=0, barge_level_db=-200
)


def segment(samples: np.ndarray, rate: int, settings: VadSettings | None = None):
    seg = Segmenter(rate, settings or WEBRTC)
    events = []
    for frame in frames_from_samples(samples, rate):
        events.extend(seg.process(frame))
    events.extend(seg.flush())
    return events


def silence(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.standard_normal(int(seconds * rate)) * 0.0005).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_one_utterance_timed_on_audio(rate):
    s = WEBRTC
    audio = np.concatenate([silence(1.0, rate), voiced(2.0, rate), silence(1.5, rate)])
    events = segment(audio, rate, s)
    assert [e.kind for e in events] == [SegmentKind.START, SegmentKind.END]
    start, end = events
    assert abs(start.onset_ms - 1000) <= 60
    # confirmed once min_speech_ms of voice was heard
    assert 1000 + s.min_speech_ms - 20 <= start.t_ms <= 1000 + s.min_speech_ms + 100
    # ended after end_silence_ms of silence following the voice at 3.0 s
    assert abs(end.t_ms - (3000 + s.end_silence_ms)) <= 100
    assert end.reason == "silence"
    # the utterance audio covers the voice (plus pre-roll, minus most trailing silence)
    audio_ms = len(end.audio) * 1000 // (2 * rate)
    assert 2000 <= audio_ms <= 2000 + s.pre_roll_ms + 300


def test_same_events_every_run():
    audio = np.concatenate([silence(0.5, 8000), voiced(1.0, 8000), silence(1.0, 8000)] * 3)
    first = [(e.kind, e.t_ms, e.onset_ms) for e in segment(audio, 8000)]
    assert first == [(e.kind, e.t_ms, e.onset_ms) for e in segment(audio, 8000)]
    assert len(first) == 6


@pytest.mark.parametrize("burst_ms", [60, 120])
def test_cough_length_burst_is_not_an_utterance(burst_ms):
    rate = 8000
    rng = np.random.default_rng(7)
    burst = (rng.standard_normal(rate * burst_ms // 1000) * 0.3).astype(np.float32)
    audio = np.concatenate([silence(1.0, rate), burst, silence(1.0, rate)])
    assert segment(audio, rate) == []
    # and a short voiced click is not either
    audio = np.concatenate([silence(1.0, rate), voiced(burst_ms / 1000, rate), silence(1.0, rate)])
    assert segment(audio, rate) == []


def test_short_answer_is_an_utterance():
    """A 400 ms 'yes' must count, though a cough does not."""
    audio = np.concatenate([silence(1.0, 8000), voiced(0.4, 8000), silence(1.0, 8000)])
    assert [e.kind for e in segment(audio, 8000)] == [SegmentKind.START, SegmentKind.END]


def test_two_minute_monologue_is_cut_at_max_length():
    s = replace(WEBRTC, max_utterance_ms=15000)
    audio = np.concatenate([silence(0.5, 8000), voiced(118.0, 8000), silence(1.0, 8000)])
    events = segment(audio, 8000, s)
    ends = [e for e in events if e.kind is SegmentKind.END]
    starts = [e for e in events if e.kind is SegmentKind.START]
    assert len(starts) == len(ends) == 8
    assert all(e.duration_ms <= 15000 for e in ends)
    assert [e.reason for e in ends] == ["max_length"] * 7 + ["silence"]
    # nothing of the monologue is lost between pieces
    total_ms = sum(len(e.audio) for e in ends) * 1000 // (2 * 8000)
    assert total_ms >= 117_500


def test_real_speech_is_found_in_jfk():
    samples, rate = decode_file(FIXTURES / "jfk.flac")
    for target in (16000, 8000):
        events = segment(resample(samples, rate, target), target)
        starts = [e for e in events if e.kind is SegmentKind.START]
        ends = [e for e in events if e.kind is SegmentKind.END]
        assert len(starts) == len(ends) >= 2
        assert starts[0].onset_ms < 500  # he speaks at once
        assert ends[-1].t_ms > 10_000  # and to the end
        speech_ms = sum(e.duration_ms for e in ends)
        assert 8_000 < speech_ms < 11_500


def test_settings_are_checked():
    with pytest.raises(ValueError, match="aggressiveness"):
        Segmenter(8000, VadSettings(aggressiveness=5))
    with pytest.raises(ValueError, match="max_utterance_ms"):
        Segmenter(8000, VadSettings(max_utterance_ms=60000))
    with pytest.raises(ValueError, match="sample rate"):
        Segmenter(11025)


def test_a_pause_mid_thought_waits_for_the_clause_silence():
    """hold_open (the transcript so far ends on a comma or "and"): a 700 ms pause does not end
    the turn, the voice after it belongs to the same utterance; then 1 s of silence ends it."""
    rate, s = 8000, WEBRTC
    audio = np.concatenate([silence(0.5, rate), voiced(1.0, rate), silence(0.7, rate), voiced(0.8, rate),
                            silence(2.0, rate)])  # fmt: skip
    plain = segment(audio, rate, s)
    assert [e.kind for e in plain].count(SegmentKind.END) == 2  # 450 ms ends the first part
    seg, events, held = Segmenter(rate, s), [], False
    for frame in frames_from_samples(audio, rate):
        events.extend(seg.process(frame))
        if seg.in_speech and seg.trailing_silence_ms >= 100 and not seg.held_open and not held:
            seg.hold_open()  # what the pipeline does when the speculative final reads unfinished
            held = True
    events.extend(seg.flush())
    assert [e.kind for e in events] == [SegmentKind.START, SegmentKind.END]
    assert events[1].reason == "silence"  # the voice came back: the next pause is judged afresh
    assert abs(events[1].t_ms - (3000 + s.end_silence_ms)) <= 100
    seg, events = Segmenter(rate, s), []
    for frame in frames_from_samples(
        np.concatenate([silence(0.5, rate), voiced(1.0, rate), silence(2.0, rate)]), rate
    ):
        events.extend(seg.process(frame))
        if seg.in_speech and seg.trailing_silence_ms >= 100:
            seg.hold_open()
    assert events[1].reason == "clause" and abs(events[1].t_ms - (1500 + s.clause_silence_ms)) <= 100
