"""Fit the radar's coefficients on emotion_dev and write models/radar.json.

anger: angry vs every other emotion; anxiety: fearful vs every other emotion (happy,
surprised and disgust are negatives, so loud joy does not count as anger). Features are
relative to each speaker's own two neutral baseline clips. Calm piper sentences compared
with other sentences are added as negatives: RAVDESS says the same two sentences in every
emotion, so without them ordinary sentence-to-sentence variation looked like emotion.
"""

from __future__ import annotations

import sys

import numpy as np
from radar_data import calm_sentence_rows, design, load_clips, population, split

from prosody.radar import DEFAULT_THRESHOLDS, FEATURES, Logistic, RadarModel

L2 = 10.0


_CALM: tuple[np.ndarray, list[str]] | None = None


def calm_rows():  # type: ignore[no-untyped-def]
    global _CALM
    if _CALM is None:
        from speech.tts import PiperTts

        _CALM = calm_sentence_rows(PiperTts())
    return _CALM


def fit(clips, baselines):  # type: ignore[no-untyped-def]
    calm_x, calm_labels = calm_rows()
    x = np.vstack([design(clips, baselines), calm_x])
    emotions = np.array([c.emotion for c in clips] + calm_labels)
    anger = Logistic.fit(x, (emotions == "angry").astype(float), l2=L2)
    anxiety = Logistic.fit(x, (emotions == "fearful").astype(float), l2=L2)
    return anger, anxiety


def main() -> None:
    clips = load_clips()
    baselines, rest = split(clips)
    anger, anxiety = fit(rest, baselines)
    model = RadarModel(
        anger,
        anxiety,
        population(baselines),
        dict(DEFAULT_THRESHOLDS),
        meta={
            "data": "RAVDESS actors 01-04 (emotion_dev), 8 kHz",
            "clips": len(rest),
            "l2": L2,
            "script": "bench/radar_calibrate.py",
        },
    )
    model.save()
    print(f"wrote models/radar.json from {len(rest)} clips of {len(baselines)} speakers")
    for name, m in (("anger", anger), ("anxiety", anxiety)):
        top = sorted(zip(FEATURES, m.weights, strict=True), key=lambda p: -abs(p[1]))[:5]
        print(f"  {name}: " + ", ".join(f"{f} {w:+.2f}" for f, w in top))


if __name__ == "__main__":
    sys.exit(main())
