"""Audio frames, decoding of recorded calls and high-quality resampling.

Everything inside the IVR is 16-bit mono PCM carried with its sample rate. Decoding
accepts what engineers actually have on disk: WAV (PCM, float, G.711 mu-law/A-law),
FLAC, OGG, at any rate and channel count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

FRAME_MS = 20
SUPPORTED_RATES = (8000, 16000)


class AudioError(Exception):
    """A recording that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One frame of 16-bit mono PCM audio.

    pcm: little-endian signed 16-bit samples.
    sample_rate: samples per second of `pcm`.
    t_ms: audio time of the frame's first sample since the call started.
    """

    pcm: bytes
    sample_rate: int
    t_ms: int

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (2 * self.sample_rate)

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, dtype="<i2")


def decode_file(path: str | Path, channel: int = 0) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 mono samples in [-1, 1] and its sample rate.

    channel: which channel of a multi-channel file to keep (0 = left).
    Raises AudioError with a one-line reason for a missing, unreadable or empty file.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(f"{p}: not a readable audio file ({_reason(e)})") from None
    if info.frames <= 0:
        raise AudioError(f"{p}: contains no audio (0 samples)")
    if channel < 0 or channel >= info.channels:
        raise AudioError(f"{p}: has {info.channels} channel(s); channel {channel} does not exist")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{p}: cannot decode audio ({_reason(e)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{p}: contains no audio (0 samples)")
    return np.ascontiguousarray(data[:, channel]), int(rate)


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return text.replace("Error opening", "error opening")


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample float32 audio with soxr's high-quality filter (no-op when rates match)."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    out: np.ndarray = soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ")
    return out


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian 16-bit PCM, clipping overs."""
    clipped = np.clip(samples, -1.0, 1.0)
    return bytes((clipped * 32767.0).round().astype("<i2").tobytes())


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def call_rate_for(file_rate: int) -> int:
    """The telephone rate a recording is replayed at: 8 kHz for narrowband files, else 16 kHz."""
    return 8000 if file_rate <= 8000 else 16000


def frames_from_samples(
    samples: np.ndarray, sample_rate: int, frame_ms: int = FRAME_MS, start_ms: int = 0
) -> Iterator[AudioFrame]:
    """Cut float samples into PCM frames of `frame_ms`; the last one is zero-padded."""
    step = sample_rate * frame_ms // 1000
    pcm = np.frombuffer(to_pcm16(samples), dtype="<i2")
    for i in range(0, len(pcm), step):
        chunk = pcm[i : i + step]
        if len(chunk) < step:
            chunk = np.concatenate([chunk, np.zeros(step - len(chunk), dtype="<i2")])
        yield AudioFrame(chunk.tobytes(), sample_rate, start_ms + i * 1000 // sample_rate)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write mono or (n, channels) float samples to a WAV file."""
    sf.write(str(path), samples, sample_rate, subtype=subtype, format="WAV")
