"""Writes the noise beds the noisy scripted callers use (tests/scripts/noise/), from material
the repository may ship: the read speech of audio_fixtures/ (JFK, CMU ARCTIC aew) and numpy.

- chatter.wav: six talkers at once (the fixtures, four of them shifted in pitch and pace so
  they are other voices), each at one level: an open office, a shop.
- street.wav: brown noise (road rumble) with a bus passing twice (a 10 dB swell over ~4 s).

Both 8 kHz G.711 mu-law, 12 s (looped by the line). Reproducible:
    .venv/bin/python -m tests.tools.noise_fixtures
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speech.audio import decode_file, resample, write_wav
from speech.line import babble, brown_noise, scale_to

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "scripts" / "noise"
RATE = 8000
SECONDS = 12


def talkers() -> list[np.ndarray]:
    voices = []
    for name in ("jfk.flac", "cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0002.wav",
                 "cmu_arctic_us_aew_a0003.wav"):  # fmt: skip
        x, rate = decode_file(ROOT / "audio_fixtures" / name)
        x = resample(x, rate, RATE)
        for shift in (1.0, 0.84, 1.19):  # the same words in three voices
            voices.append(resample(x, round(RATE * shift), RATE))
    return voices


def chatter(rng: np.random.Generator) -> np.ndarray:
    return scale_to(babble(talkers(), SECONDS * RATE, rng, count=6), -30.0)


def street(rng: np.random.Generator) -> np.ndarray:
    n = SECONDS * RATE
    rumble = brown_noise(n, rng)
    t = np.arange(n) / RATE
    swell = 1 + 2.2 * (np.exp(-(((t - 3.0) / 1.5) ** 2)) + np.exp(-(((t - 9.0) / 1.5) ** 2)))
    return scale_to((rumble * swell).astype(np.float32), -30.0)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    write_wav(OUT / "chatter.wav", chatter(rng), RATE, subtype="ULAW")
    write_wav(OUT / "street.wav", street(rng), RATE, subtype="ULAW")
    for p in sorted(OUT.glob("*.wav")):
        print(p.relative_to(ROOT), p.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
