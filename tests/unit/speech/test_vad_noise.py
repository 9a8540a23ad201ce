"""Voice detection on a noisy line: Silero decides voice, the caller's level is the reference.
Category: unit (Silero's ONNX model from faster-whisper's wheel; no speech service)."""

from __future__ import annotations

import numpy as np
import pytest

from speech.audio import decode_file, frames_from_samples, resample
from speech.line import brown_noise, level_db, phone_line, pink_noise, scale_to
from speech.vad import Segmenter, SegmentKind, VadSettings
from tests.conftest import FIXTURES

pytestmark = pytest.mark.unit
RATE = 8000
SILERO = VadSettings()


def clip(name: str) -> np.ndarray:
    x, rate = decode_file(FIXTURES / name)
    return scale_to(resample(x, rate, RATE), -24.0)


def ends(audio: np.ndarray, seg: Segmenter) -> list:
    out = []
    for frame in frames_from_samples(audio, RATE):
        out += [e for e in seg.process(frame) if e.kind is SegmentKind.END]
    return out + seg.flush()


def padded(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(RATE // 2, np.float32), x, np.zeros(RATE * 3 // 2, np.float32)])


@pytest.mark.parametrize("snr", [10, 5])
def test_a_sentence_in_road_noise_is_one_utterance(snr):
    speech = padded(clip("cmu_arctic_us_aew_a0003.wav"))
    line = phone_line(speech, RATE, brown_noise(len(speech), np.random.default_rng(1)), snr, 0.02, seed=snr)
    got = ends(line, Segmenter(RATE, SILERO))
    assert len(got) == 1
    assert got[0].voiced_ms > 1500 and got[0].voice_prob > 0.6


def test_noise_alone_is_no_utterance_for_silero_while_webrtcvad_fires():
    rng = np.random.default_rng(2)
    bed = scale_to(pink_noise(20 * RATE, rng), -30.0)
    # a car door, a bus: the noise swells and falls
    bed = bed * np.repeat(1 + 3 * (np.sin(np.linspace(0, 6 * np.pi, 20 * 50)) > 0.7), RATE // 50)
    line = phone_line(bed, RATE, None, seed=1)
    assert ends(line, Segmenter(RATE, SILERO)) == []
    assert len(ends(line, Segmenter(RATE, VadSettings(detector="webrtc")))) >= 1


def test_once_the_caller_is_heard_a_talker_behind_them_starts_nothing():
    caller = clip("cmu_arctic_us_aew_a0001.wav")
    behind = scale_to(clip("cmu_arctic_us_aew_a0002.wav"), -24.0 - 16)  # 16 dB under the caller
    seg = Segmenter(RATE, SILERO)
    first = ends(padded(caller), seg)
    assert len(first) == 1
    seg.learn_level(first[0])  # the caller's words were accepted: their level is the reference
    assert seg.caller_db is not None and abs(seg.caller_db - level_db(caller)) < 6
    assert ends(padded(behind), seg) == []
    # the same talker with no caller heard yet is an utterance (the words are judged later)
    assert len(ends(padded(behind), Segmenter(RATE, SILERO))) == 1
    # and the caller still is, after
    assert len(ends(padded(caller), seg)) == 1


def barge_ms(audio: np.ndarray, seg: Segmenter) -> int:
    """The most voice a prompt would have heard as a barge-in."""
    most = 0
    for frame in frames_from_samples(audio, RATE):
        seg.process(frame)
        most = max(most, seg.barge_voice_ms)
    return most


def test_barge_in_voice_must_stand_above_the_line_s_noise():
    speech = padded(clip("cmu_arctic_us_aew_a0003.wav"))
    assert barge_ms(phone_line(speech, RATE, seed=1), Segmenter(RATE, SILERO)) >= 300
    # chatter that is the line's noise: talkers mixed at one level, with nobody near
    rng = np.random.default_rng(4)
    talkers = [clip(n) for n in ("cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0002.wav", "jfk.flac")]
    chatter = scale_to(
        sum(np.roll(np.resize(t, 20 * RATE), int(rng.integers(0, RATE * 5))) for t in talkers), -36
    )
    line = phone_line(chatter, RATE, pink_noise(20 * RATE, rng), 20, seed=2, speech_level_db=-36)
    assert barge_ms(line, Segmenter(RATE, SILERO)) < 300


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"detector": "energy"}, "vad.detector must be one of"),
        ({"bed_gate_db": -3.0}, "vad.bed_gate_db must not be negative"),
        ({"voice_release": 0.7}, "voice_release <= voice_threshold"),
        ({"voice_threshold": 1.5}, "Silero probabilities"),
    ],
)
def test_a_wrong_voice_setting_is_refused_with_its_name(change, says):
    with pytest.raises(ValueError, match=says):
        Segmenter(RATE, VadSettings(**change))
