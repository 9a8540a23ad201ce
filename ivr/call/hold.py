"""Hold music: the admin's WAV or the default (a soft, slow arpeggio generated here, no
licence to worry about), made once into a 16-bit mono WAV at the call's rate, the one
format pjmedia's player takes as it is, and looped for every caller on hold."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from speech.audio import AudioError, decode_file, resample, to_pcm16, write_wav

RATE = 8000
NOTES_HZ = (261.63, 329.63, 392.00, 523.25, 392.00, 329.63)  # C major, up and down
NOTE_S = 0.75


def hold_music(rate: int = RATE) -> np.ndarray:
    """Six soft notes with gentle attacks and decays, 4.5 s, looping seamlessly."""
    n = int(NOTE_S * rate)
    t = np.arange(n) / rate
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-2.5 * t)
    notes = [envelope * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t)) for f in NOTES_HZ]
    return (0.12 * np.concatenate(notes)).astype(np.float32)


def default_hold_music(data_dir: str | Path) -> Path:
    path = Path(data_dir).resolve() / "prompts" / "hold-8k.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.wav")  # workers may write it at once
        write_wav(tmp, hold_music(), RATE)
        tmp.replace(path)
    return path


def hold_loop(music: str | None, data_dir: str | Path, rate: int) -> tuple[Path, bytes, str]:
    """(a WAV pjmedia can loop, the same audio as PCM, the music's name) for `music` (any
    file decode_file reads, at any rate or channel count) or the default. Raises AudioError
    for a file that is not audio."""
    source = Path(music) if music else default_hold_music(data_dir)
    try:
        stat = source.stat()
    except OSError as e:
        raise AudioError(f"{source}: {e.strerror or e}") from None
    key = hashlib.sha1(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{rate}".encode()).hexdigest()[
        :12
    ]
    hit = _LOOPS.get(key)  # every caller put on hold with the same music: decoded once
    if hit is not None:
        return hit
    samples, file_rate = decode_file(source)
    audio = resample(samples, file_rate, rate)
    path = Path(data_dir).resolve() / "prompts" / f"hold-{key}-{rate}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.wav")  # workers may write it at once
        write_wav(tmp, audio, rate)
        tmp.replace(path)
    _LOOPS[key] = (path, to_pcm16(audio), source.name)
    while len(_LOOPS) > 16:
        _LOOPS.pop(next(iter(_LOOPS)))
    return _LOOPS[key]


_LOOPS: dict[str, tuple[Path, bytes, str]] = {}
