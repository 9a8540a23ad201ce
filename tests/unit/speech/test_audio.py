"""Decoding recorded calls of any format, and resampling. Category: unit."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speech.audio import AudioError, AudioFrame, decode_file, frames_from_samples, resample
from tests.conftest import FIXTURES, tone

pytestmark = pytest.mark.unit


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def test_flac_at_native_rate_left_channel_by_default():
    samples, rate = decode_file(FIXTURES / "jfk.flac")
    assert rate == 44100
    assert samples.ndim == 1 and samples.dtype == np.float32
    assert 10.5 < len(samples) / rate < 11.5


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW", "PCM_16", "PCM_U8", "FLOAT"])
def test_g711_and_pcm_wavs_decode(tmp_path, subtype):
    path = tmp_path / f"x_{subtype}.wav"
    sf.write(path, tone(440, 1.0, 8000), 8000, subtype=subtype)
    samples, rate = decode_file(path)
    assert rate == 8000
    assert abs(dominant_hz(samples, rate) - 440) < 3
    assert 0.2 < np.max(np.abs(samples)) < 0.4


def test_stereo_channel_choice(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = tone(300, 1.0, 16000), tone(1200, 1.0, 16000)
    sf.write(path, np.stack([left, right], axis=1), 16000)
    assert abs(dominant_hz(decode_file(path)[0], 16000) - 300) < 3
    assert abs(dominant_hz(decode_file(path, channel=1)[0], 16000) - 1200) < 3
    with pytest.raises(AudioError, match="channel 2 does not exist"):
        decode_file(path, channel=2)


@pytest.mark.parametrize("src,dst", [(44100, 16000), (16000, 8000), (8000, 16000), (48000, 8000)])
def test_resampling_keeps_pitch_and_length(src, dst):
    x = tone(1000, 2.0, src)
    y = resample(x, src, dst)
    assert abs(len(y) - 2.0 * dst) <= 2
    assert abs(dominant_hz(y, dst) - 1000) < 2
    # a high-quality filter keeps the level (no droop at 1 kHz)
    assert abs(np.sqrt(np.mean(y[dst // 10 : -dst // 10] ** 2)) - 0.3 / np.sqrt(2)) < 0.01


def test_resampling_rejects_aliases():
    """A 6 kHz tone cannot exist at 8 kHz: the anti-alias filter must remove it."""
    y = resample(tone(6000, 1.0, 16000), 16000, 8000)
    assert np.sqrt(np.mean(y[800:-800] ** 2)) < 0.003


def test_frames_are_20ms_with_audio_time():
    frames = list(frames_from_samples(tone(440, 0.105, 8000), 8000))
    assert [f.t_ms for f in frames] == [0, 20, 40, 60, 80, 100]
    assert all(isinstance(f, AudioFrame) and len(f.pcm) == 320 for f in frames)
    assert frames[0].duration_ms == 20


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("hello, this is not audio"), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 8000), "no audio"),
        (lambda p: sf.write(p, np.zeros((0, 2), np.float32), 8000), "no audio"),
    ],
    ids=["missing", "not-audio", "empty", "empty-stereo"],
)
def test_bad_input_is_a_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as info:
        decode_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
