"""Helpers shared by the benchmarks: fixtures, percentiles, a 60 s test call."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "audio_fixtures"

from speech.audio import decode_file, resample  # noqa: E402


def references() -> dict[str, str]:
    with open(FIXTURES / "transcripts.tsv", encoding="utf-8") as f:
        return {row["file"]: row["transcript"] for row in csv.DictReader(f, delimiter="\t")}


def phone_audio(name: str, rate: int = 8000) -> np.ndarray:
    """A fixture at telephone rate through G.711 mu-law, as a caller's line delivers it."""
    samples, file_rate = decode_file(FIXTURES / name)
    x = resample(samples, file_rate, rate)
    return mulaw_roundtrip(x)


def mulaw_roundtrip(x: np.ndarray) -> np.ndarray:
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    y = np.round(y * 127) / 127
    return (np.sign(y) * (np.expm1(np.abs(y) * np.log1p(mu)) / mu)).astype(np.float32)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def sixty_second_call(rate: int = 8000) -> np.ndarray:
    """About 60 s: the fixtures spoken in turn, with 2 s pauses, repeated."""
    parts: list[np.ndarray] = []
    total = 0
    names = list(references())
    i = 0
    while total < 60 * rate:
        x = phone_audio(names[i % len(names)], rate)
        parts += [x, np.zeros(2 * rate, np.float32)]
        total += len(x) + 2 * rate
        i += 1
    return np.concatenate(parts)[: 60 * rate]
