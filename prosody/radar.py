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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from prosody.encoder import EncoderHead
from prosody.features import UtteranceStats, utterance_stats
from prosody.radar_fit import Logistic

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


@dataclass(frozen=True, slots=True)
class Cues:
    """What the radar's heads read from one utterance, kept with its affect event so a
    deployment can refit the heads on its labelled calls (numbers, never the audio)."""

    pp: tuple[float, ...]
    """Prosody differences from the population's norms (the model's `features`)."""
    po: tuple[float, ...] | None = None
    """... from the caller's own baseline (None: not heard long enough)."""
    ep: tuple[float, ...] | None = None
    """The encoder's projected differences from the population's mean voice (None: no encoder)."""
    eo: tuple[float, ...] | None = None
    own: float = 0.0
    """The own baseline's share of the scores (the rest: population norms)."""
    trust: float = 1.0
    gain: float = 1.0
    """What the words did to the scores (1: no words)."""
    s: float = 0.0
    """The utterance's seconds of voice (its weight in the smoothed score)."""

    def to_json(self) -> dict[str, Any]:
        def r(v: tuple[float, ...] | None) -> list[float] | None:
            return None if v is None else [round(float(x), 3) for x in v]

        d = {"pp": r(self.pp), "po": r(self.po), "ep": r(self.ep), "eo": r(self.eo),
             "own": round(self.own, 4), "trust": round(self.trust, 4), "gain": round(self.gain, 4), "s": round(self.s, 3)}  # fmt: skip
        return {k: v for k, v in d.items() if v is not None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Cues:
        def t(k: str) -> tuple[float, ...] | None:
            return None if d.get(k) is None else tuple(float(x) for x in d[k])

        return cls(t("pp") or (), t("po"), t("ep"), t("eo"), float(d.get("own", 0.0)), float(d.get("trust", 1.0)),
                   float(d.get("gain", 1.0)), float(d.get("s", 0.0)))  # fmt: skip


@dataclass(frozen=True)
class RadarModel:
    anger: Logistic
    anxiety: Logistic
    population: dict[str, float]
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = FEATURES
    """The differences (`DELTAS`) the two models read, in their weights' order."""
    encoder: EncoderHead | None = None
    """The encoder head (`prosody.encoder`), blended in when a final brings pooled states."""

    @property
    def version(self) -> int:
        """The deployment's version of the model (0: as shipped)."""
        return int(self.meta.get("version", 0))

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> RadarModel:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_json(cls, d: dict[str, Any], base: RadarModel | None = None) -> RadarModel:
        """A model from JSON; a retrained one (heads and thresholds, as the store keeps it)
        takes the encoder's projection from `base`, the shipped model."""
        features = tuple(d["features"])
        unknown = [f for f in features if f not in DELTAS]
        if unknown:
            raise ValueError(f"unknown features {unknown}; run bench/radar_calibrate.py")
        encoder = None
        if d.get("encoder"):
            encoder = EncoderHead.from_json(d["encoder"], base.encoder if base is not None else None)
        model = cls(
            Logistic.from_json(d["anger"]),
            Logistic.from_json(d["anxiety"]),
            d["population"],
            d["thresholds"],
            d.get("meta", {}),
            features,
            encoder,
        )
        for m in (model.anger, model.anxiety):
            if len(m.weights) != len(features):
                raise ValueError(f"{len(m.weights)} weights for {len(features)} features")
        return model

    def to_json(self, full: bool = True) -> dict[str, Any]:
        """As JSON; `full=False` leaves out the encoder's projection (the store's versions share
        the shipped one)."""
        d = {
            "features": list(self.features),
            "anger": self.anger.to_json(),
            "anxiety": self.anxiety.to_json(),
            "population": self.population,
            "thresholds": self.thresholds,
            "meta": self.meta,
        }
        if self.encoder is not None:
            d["encoder"] = self.encoder.to_json(full)
        return d

    def save(self, path: str | Path = MODEL_PATH) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    def with_encoder(self, head: EncoderHead | None) -> RadarModel:
        return replace(self, encoder=head)

    def scores(self, stats: UtteranceStats, ref: dict[str, float]) -> tuple[float, float]:
        x = relative(stats, ref, self.features)[None, :]
        return float(self.anger(x)[0]), float(self.anxiety(x)[0])

    def read(self, c: Cues) -> tuple[float, float]:
        """anger and anxiety of one utterance's cues: each head blends the caller's own
        baseline and the population's norms, the encoder head has its share, then the trust
        in the baseline and the words."""

        def head(anger: Logistic, anxiety: Logistic, pop: Any, own: Any) -> np.ndarray:
            xp = np.asarray(pop, dtype=np.float64)[None, :]
            out = np.array([anger(xp)[0], anxiety(xp)[0]])
            if own is not None and c.own > 0:
                xo = np.asarray(own, dtype=np.float64)[None, :]
                out = c.own * np.array([anger(xo)[0], anxiety(xo)[0]]) + (1 - c.own) * out
            return out

        scores = head(self.anger, self.anxiety, c.pp, c.po)
        enc = self.encoder
        if enc is not None and c.ep is not None:
            scores = (1 - enc.weight) * scores + enc.weight * head(enc.anger, enc.anxiety, c.ep, c.eo)
        scores = np.minimum(1.0, scores * c.trust * c.gain)
        return float(scores[0]), float(scores[1])


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
    cues: Cues | None = None
    """What the heads read (kept with the affect event for retraining)."""


class Baseline:
    """The caller's normal voice: median of their first calm utterances, then slow updates
    (their pitch and loudness, and what the encoder heard of them when it is given)."""

    def __init__(self, size: int = 3, alpha: float = 0.1) -> None:
        self.size = size
        self.alpha = alpha
        self._first: list[dict[str, float]] = []
        self._ref: dict[str, float] | None = None
        self._pooled: list[np.ndarray] = []
        self.pooled: np.ndarray | None = None
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

    def add(self, stats: UtteranceStats, pooled: np.ndarray | None = None) -> None:
        d = stats.as_dict()
        self.heard_s += stats.duration_s
        if len(self._first) < self.size:
            self._first.append(d)
            keys = self._first[0].keys()
            self._ref = {k: float(np.median([u[k] for u in self._first])) for k in keys}
        elif self._ref is not None:  # slow drift: the caller warms up, the line changes
            self._ref = {k: (1 - self.alpha) * v + self.alpha * d[k] for k, v in self._ref.items()}
        if pooled is not None:
            if len(self._pooled) < self.size:
                self._pooled.append(pooled)
                self.pooled = np.mean(self._pooled, axis=0)
            elif self.pooled is not None:
                self.pooled = (1 - self.alpha) * self.pooled + self.alpha * pooled


class Radar:
    """One caller's radar: feed utterances, read anger, anxiety and the level."""

    def __init__(self, model: RadarModel, baseline_size: int = 3) -> None:
        self.model = model
        self.t = {**DEFAULT_THRESHOLDS, **model.thresholds}
        self.baseline = Baseline(baseline_size)
        self.level = "calm"
        self._anger = 0.0
        self._anxiety = 0.0

    def learn_baseline(self, samples: np.ndarray, rate: int, pooled: np.ndarray | None = None) -> bool:
        """A recording of the caller's normal voice; False if it had too little voice."""
        stats = utterance_stats(samples, rate)
        if stats is None:
            return False
        self.baseline.add(stats, self._usable(pooled))
        self.baseline.given = True
        return True

    def _usable(self, pooled: np.ndarray | None) -> np.ndarray | None:
        enc = self.model.encoder
        if pooled is None or enc is None or len(pooled) != enc.dim:
            return None  # no encoder head, or pooled by another encoder than the head's
        return np.asarray(pooled, dtype=np.float64)

    def cues(self, stats: UtteranceStats, words: Any = None, pooled: np.ndarray | None = None) -> Cues:
        """What the heads read from the utterance, against the baseline as it stands."""
        m, b, t = self.model, self.baseline, self.t
        ref = b.reference()
        pooled = self._usable(pooled)
        enc = m.encoder if pooled is not None else None
        ep = eo = po = None
        if enc is not None and pooled is not None:
            ep = tuple(enc.project(pooled - enc.population)[0])
            if b.pooled is not None and ref is not None:
                eo = tuple(enc.project(pooled - b.pooled)[0])
        pp = tuple(relative(stats, m.population, m.features))
        if ref is None:  # the first utterance: only population norms to compare with
            own, trust = 0.0, t["population_trust"]
        else:
            po = tuple(relative(stats, ref, m.features))
            prior = t["baseline_prior_s"]
            own = b.heard_s / (b.heard_s + prior) if prior > 0 else 1.0
            complete = b.given or b.count >= b.size
            trust = 1.0 if complete else 0.5 + 0.5 * b.count / b.size
        gain = 1.0
        if words is not None:  # the voice's arousal, the words' direction
            gain = (1 + t["words_lift"] * words.negative) * (1 - t["words_damp"] * words.positive)
        return Cues(pp, po, ep, eo, own, trust, gain, stats.duration_s)

    def update(
        self, samples: np.ndarray, rate: int, words: Any = None, pooled: np.ndarray | None = None
    ) -> AffectUpdate | None:
        """Score one utterance (with its words' `prosody.words.Valence` and the encoder's
        pooled states of it, when known); None when it has too little voice to judge."""
        stats = utterance_stats(samples, rate)
        if stats is None:
            return None
        cues = self.cues(stats, words, pooled)
        anger, anxiety = self.model.read(cues)
        if not self.baseline.given and self.baseline.count < self.baseline.size:
            # the caller's first utterances are their normal voice, however loud or high it
            # is; the median keeps one upset utterance among them from skewing it
            self.baseline.add(stats, self._usable(pooled))
        elif self.level == "calm" and max(anger, anxiety) < 0.3:
            self.baseline.add(stats, self._usable(pooled))  # slow drift
        self.level = self.smooth(anger, anxiety, stats.duration_s)
        return AffectUpdate(
            round(anger, 3),
            round(anxiety, 3),
            self.level,
            round(self._anger, 3),
            round(self._anxiety, 3),
            self.baseline.count,
            None if words is None else words.score,
            cues,
        )

    @property
    def smoothed(self) -> float:
        """The higher of the smoothed scores (what the levels follow)."""
        return max(self._anger, self._anxiety)

    def smooth(self, anger: float, anxiety: float, seconds: float) -> str:
        """Move the smoothed scores by the utterance's weight; the level that follows."""
        w = min(self.t["weight_max"], self.t["weight_max"] * seconds / self.t["weight_full_s"])
        self._anger += w * (anger - self._anger)
        self._anxiety += w * (anxiety - self._anxiety)
        self.level = self._next_level(max(self._anger, self._anxiety))
        return self.level

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
