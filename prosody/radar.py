"""The emotion radar: anger and anxiety relative to the caller's own voice.

Each utterance's statistics are compared with the caller's baseline (learned from their
first calm utterances, median so one outlier does not skew it, then updated slowly) and
with population norms; the two scores are weighted by how much of the caller has been
heard (`baseline_prior_s`: the seconds of their voice at which the two weigh the same), so
a caller heard for one short utterance is judged mostly against everyone, one heard for
half a minute against themselves. Two logistic models (fitted by
`bench/radar_calibrate.py`, shipped in `models/radar.json`) turn the differences into
`anger` and `anxiety` in [0, 1]. The radar level (`calm`, `rising`, `escalate`) follows
scores smoothed over utterances, weighted by their length so one loud word cannot
escalate, with separate thresholds up and down so the level does not flap.

The words fuse in when the transcript is known (`prosody.words`): the voice says how aroused
the caller is, the words which way. Negative words lift the scores (x up to 1 + words_lift),
positive words damp them (x down to 1 - words_damp): a raised voice saying "great, thanks,
that's brilliant" is not escalated, one saying "this is ridiculous" is escalated sooner, and
calm words in a calm voice stay calm (the lift multiplies what the voice gave, so words alone
never escalate; a calm-voiced "I'll sue" is the dialplan's keywords' to route).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prosody.features import UtteranceStats, utterance_stats

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "radar.json"


def _oct(a: float, b: float) -> float:
    return math.log2(max(a, 1e-3) / max(b, 1e-3))


# Every difference from the reference voice the radar knows how to take.
DELTAS: dict[str, Callable[[UtteranceStats, dict[str, float]], float]] = {
    "d_f0_st": lambda s, r: s.f0_st - r["f0_st"],
    "d_f0_range_st": lambda s, r: s.f0_range_st - r["f0_range_st"],
    "d_f0_p90_st": lambda s, r: s.f0_p90_st - r["f0_p90_st"],
    "d_loud_db": lambda s, r: s.loud_db - r["loud_db"],
    "d_loud_p90_db": lambda s, r: s.loud_p90_db - r["loud_p90_db"],
    "d_loud_range_db": lambda s, r: s.loud_range_db - r["loud_range_db"],
    "d_centroid_oct": lambda s, r: _oct(s.centroid_hz, r["centroid_hz"]),
    "d_alpha_db": lambda s, r: s.alpha_db - r["alpha_db"],
    "d_hammarberg_db": lambda s, r: s.hammarberg_db - r["hammarberg_db"],
    "d_hnr_db": lambda s, r: s.hnr_db - r["hnr_db"],
    "d_jitter": lambda s, r: 10 * (s.jitter - r["jitter"]),
    "d_rate_oct": lambda s, r: _oct(s.rate_hz, r["rate_hz"]),
    "d_voiced": lambda s, r: s.voiced_ratio - r["voiced_ratio"],
    "d_loud_delta_db": lambda s, r: s.loud_delta_db - r["loud_delta_db"],
    "d_f0_slope": lambda s, r: s.f0_slope_st_s - r["f0_slope_st_s"],
    "d_f0_end_st": lambda s, r: s.f0_end_st - r["f0_end_st"],
    "d_high_db": lambda s, r: s.high_db - r["high_db"],
}

# Robust cues only: pitch level and top, loudness, spectral tilt and brightness, voice
# quality. Jitter, rate and energy dynamics vary too much between ordinary sentences.
FEATURES = (
    "d_f0_st",
    "d_f0_range_st",
    "d_f0_p90_st",
    "d_loud_db",
    "d_loud_p90_db",
    "d_centroid_oct",
    "d_alpha_db",
    "d_hammarberg_db",
    "d_hnr_db",
)


def relative(
    stats: UtteranceStats, ref: dict[str, float], features: tuple[str, ...] = FEATURES
) -> np.ndarray:
    """The utterance's differences from a reference voice, in `features` order."""
    return np.array([DELTAS[f](stats, ref) for f in features], dtype=np.float64)


@dataclass(frozen=True)
class Logistic:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.std) @ self.weights + self.bias
        p: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        return p

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Logistic:
        return cls(np.array(d["mean"]), np.array(d["std"]), np.array(d["weights"]), float(d["bias"]))

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, l2: float = 1.0, class_weight: bool = True,
        sample_weight: np.ndarray | None = None,
    ) -> Logistic:  # fmt: skip
        """Ridge logistic regression by Newton's method (IRLS), balanced classes; each row
        weighted by `sample_weight` too (e.g. so each corpus counts alike)."""
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / std
        a = np.hstack([z, np.ones((len(z), 1))])
        rw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        sw = rw.copy()
        if class_weight:
            pos = max(1e-9, float(rw[y > 0].sum()))
            neg = max(1e-9, float(rw[y <= 0].sum()))
            sw = rw * np.where(y > 0, rw.sum() / (2 * pos), rw.sum() / (2 * neg))
        w = np.zeros(a.shape[1])
        reg = l2 * np.eye(a.shape[1])
        reg[-1, -1] = 0.0
        for _ in range(50):
            p = 1 / (1 + np.exp(-np.clip(a @ w, -30, 30)))
            grad = a.T @ (sw * (p - y)) + reg @ w
            hess = (a * (sw * p * (1 - p))[:, None]).T @ a + reg
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        return cls(mean, std, w[:-1], float(w[-1]))


@dataclass(frozen=True)
class RadarModel:
    anger: Logistic
    anxiety: Logistic
    population: dict[str, float]
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = FEATURES
    """The differences (`DELTAS`) the two models read, in their weights' order."""

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> RadarModel:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        features = tuple(d["features"])
        unknown = [f for f in features if f not in DELTAS]
        if unknown:
            raise ValueError(f"{path}: unknown features {unknown}; run bench/radar_calibrate.py")
        model = cls(
            Logistic.from_json(d["anger"]),
            Logistic.from_json(d["anxiety"]),
            d["population"],
            d["thresholds"],
            d.get("meta", {}),
            features,
        )
        for m in (model.anger, model.anxiety):
            if len(m.weights) != len(features):
                raise ValueError(f"{path}: {len(m.weights)} weights for {len(features)} features")
        return model

    def save(self, path: str | Path = MODEL_PATH) -> None:
        d = {
            "features": list(self.features),
            "anger": self.anger.to_json(),
            "anxiety": self.anxiety.to_json(),
            "population": self.population,
            "thresholds": self.thresholds,
            "meta": self.meta,
        }
        Path(path).write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")

    def scores(self, stats: UtteranceStats, ref: dict[str, float]) -> tuple[float, float]:
        x = relative(stats, ref, self.features)[None, :]
        return float(self.anger(x)[0]), float(self.anxiety(x)[0])


DEFAULT_THRESHOLDS = {
    "escalate_on": 0.5,  # smoothed score that escalates
    "escalate_off": 0.3,  # ... and that it must fall under to calm down again
    "rising_on": 0.3,
    "rising_off": 0.2,
    "weight_full_s": 2.5,  # an utterance this long counts fully; a 0.5 s word counts a fifth
    "weight_max": 1.0,  # the most one utterance moves the smoothed score
    "population_trust": 0.25,  # weight of scores against population norms (first utterance only)
    "baseline_prior_s": 0.0,  # seconds of the caller heard at which own baseline and norms weigh alike
    "words_lift": 0.6,  # negative words: scores x (1 + 0.6 P(negative))
    "words_damp": 0.7,  # positive words: scores x (1 - 0.7 P(positive))
}


@dataclass(frozen=True, slots=True)
class AffectUpdate:
    anger: float
    anxiety: float
    level: str
    smoothed_anger: float
    smoothed_anxiety: float
    baseline_utterances: int
    valence: float | None = None
    """What the words said, -1 negative .. +1 positive (None: no words were given)."""


class Baseline:
    """The caller's normal voice: median of their first calm utterances, then slow updates."""

    def __init__(self, size: int = 3, alpha: float = 0.1) -> None:
        self.size = size
        self.alpha = alpha
        self._first: list[dict[str, float]] = []
        self._ref: dict[str, float] | None = None
        self.given = False  # recordings of the caller's normal voice were supplied
        self.heard_s = 0.0  # seconds of voice the baseline was learned from

    @property
    def count(self) -> int:
        return len(self._first)

    @property
    def ready(self) -> bool:
        return self._ref is not None

    def reference(self) -> dict[str, float] | None:
        return self._ref

    def add(self, stats: UtteranceStats) -> None:
        d = stats.as_dict()
        self.heard_s += stats.duration_s
        if len(self._first) < self.size:
            self._first.append(d)
            keys = self._first[0].keys()
            self._ref = {k: float(np.median([u[k] for u in self._first])) for k in keys}
        elif self._ref is not None:  # slow drift: the caller warms up, the line changes
            self._ref = {k: (1 - self.alpha) * v + self.alpha * d[k] for k, v in self._ref.items()}


class Radar:
    """One caller's radar: feed utterances, read anger, anxiety and the level."""

    def __init__(self, model: RadarModel, baseline_size: int = 3) -> None:
        self.model = model
        self.t = {**DEFAULT_THRESHOLDS, **model.thresholds}
        self.baseline = Baseline(baseline_size)
        self.level = "calm"
        self._anger = 0.0
        self._anxiety = 0.0

    def learn_baseline(self, samples: np.ndarray, rate: int) -> bool:
        """A recording of the caller's normal voice; False if it had too little voice."""
        stats = utterance_stats(samples, rate)
        if stats is None:
            return False
        self.baseline.add(stats)
        self.baseline.given = True
        return True

    def update(self, samples: np.ndarray, rate: int, words: Any = None) -> AffectUpdate | None:
        """Score one utterance (and its words' `prosody.words.Valence`, when known); None when
        it has too little voice to judge."""
        stats = utterance_stats(samples, rate)
        if stats is None:
            return None
        ref = self.baseline.reference()
        if ref is None:  # the first utterance: only population norms to compare with
            anger, anxiety = self.model.scores(stats, self.model.population)
            trust = self.t["population_trust"]
        else:
            anger, anxiety = self.model.scores(stats, ref)
            prior = self.t["baseline_prior_s"]
            if prior > 0:  # the caller's own voice, and everyone's, by how much of them was heard
                own = self.baseline.heard_s / (self.baseline.heard_s + prior)
                pop_anger, pop_anxiety = self.model.scores(stats, self.model.population)
                anger = own * anger + (1 - own) * pop_anger
                anxiety = own * anxiety + (1 - own) * pop_anxiety
            complete = self.baseline.given or self.baseline.count >= self.baseline.size
            trust = 1.0 if complete else 0.5 + 0.5 * self.baseline.count / self.baseline.size
        anger, anxiety = trust * anger, trust * anxiety
        if words is not None:  # the voice's arousal, the words' direction
            gain = (1 + self.t["words_lift"] * words.negative) * (1 - self.t["words_damp"] * words.positive)
            anger, anxiety = min(1.0, anger * gain), min(1.0, anxiety * gain)
        if not self.baseline.given and self.baseline.count < self.baseline.size:
            # the caller's first utterances are their normal voice, however loud or high it
            # is; the median keeps one upset utterance among them from skewing it
            self.baseline.add(stats)
        elif self.level == "calm" and max(anger, anxiety) < 0.3:
            self.baseline.add(stats)  # slow drift
        w = min(self.t["weight_max"], self.t["weight_max"] * stats.duration_s / self.t["weight_full_s"])
        self._anger += w * (anger - self._anger)
        self._anxiety += w * (anxiety - self._anxiety)
        self.level = self._next_level(max(self._anger, self._anxiety))
        return AffectUpdate(
            round(anger, 3),
            round(anxiety, 3),
            self.level,
            round(self._anger, 3),
            round(self._anxiety, 3),
            self.baseline.count,
            None if words is None else words.score,
        )

    def _next_level(self, s: float) -> str:
        t = self.t
        if self.level == "escalate":
            if s >= t["escalate_off"]:
                return "escalate"
            return "rising" if s >= t["rising_off"] else "calm"
        if s >= t["escalate_on"]:
            return "escalate"
        if self.level == "rising":
            return "rising" if s >= t["rising_off"] else "calm"
        return "rising" if s >= t["rising_on"] else "calm"
