"""What the caller's words say, for the radar: prosody measures arousal well and valence poorly
(anger and joy sound alike); the transcript carries the valence ("this is ridiculous", "third
time I'm calling" vs "great, thanks").

A softmax classifier on the sentence embedding of the final transcript (the intent embedder,
already in the speech service) gives P(negative), P(neutral), P(positive). Its coefficients,
`models/words.json`, are written by `bench/radar_words.py --write` from the phrases in
`bench/data/valence_phrases.tsv` (negative = angry or anxious). The radar fuses them with the
acoustic scores (`prosody.radar.Radar.update`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WORDS_PATH = Path(__file__).resolve().parent.parent / "models" / "words.json"


@dataclass(frozen=True, slots=True)
class Valence:
    negative: float
    positive: float

    @property
    def score(self) -> float:
        """-1 (negative words: angry, anxious) .. +1 (positive words): the affect event's
        `valence`."""
        return round(self.positive - self.negative, 3)


class WordsModel:
    def __init__(
        self, classes: list[str], w: np.ndarray, b: np.ndarray, meta: dict[str, Any] | None = None
    ) -> None:
        if "negative" not in classes or "positive" not in classes:
            raise ValueError(f"a words model needs negative and positive classes, not {classes}")
        self.classes, self.w, self.b, self.meta = list(classes), w, b, meta or {}

    @classmethod
    def load(cls, path: str | Path = WORDS_PATH) -> WordsModel:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            list(d["classes"]),
            np.array(d["weights"], np.float64),
            np.array(d["bias"], np.float64),
            d.get("meta"),
        )

    def save(self, path: str | Path = WORDS_PATH) -> None:
        d = {
            "classes": self.classes,
            "weights": np.round(self.w, 5).tolist(),
            "bias": np.round(self.b, 5).tolist(),
            "meta": self.meta,
        }
        Path(path).write_text(json.dumps(d) + "\n", encoding="utf-8")

    def valence(self, row: Any) -> Valence:
        z = np.asarray(row, np.float64) @ self.w + self.b
        p = np.exp(z - z.max())
        p /= p.sum()
        return Valence(float(p[self.classes.index("negative")]), float(p[self.classes.index("positive")]))
