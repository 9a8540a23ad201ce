"""The radar's encoder head: anger and anxiety from what the recogniser's encoder heard.

The speech service pools whisper's encoder states over each final's own frames (mean and
standard deviation: `speech.asr.pool_states`). Relative to the caller's own first utterances
(or, before those, to the population's mean voice) and projected on a few principal
components, two logistic heads read anger and anxiety, as the prosody head does from pitch and
loudness. The radar blends the two heads' scores (`weight`: the encoder's share).

Fitted by `bench/radar_encoder.py` on emotion_dev (leave-one-corpus-out chosen), refitted on a
deployment's labelled calls by `ivr radar retrain` (`prosody.learn`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from prosody.radar_fit import Logistic, capped


def _pack(a: np.ndarray, dtype: str = "<f4") -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()


def _unpack(s: str, shape: tuple[int, ...] | None = None, dtype: str = "<f4") -> np.ndarray:
    a = np.frombuffer(base64.b64decode(s), dtype=dtype).astype(np.float64)
    return a.reshape(shape) if shape else a


@dataclass(frozen=True)
class Projection:
    """Standardise each pooled number, then keep the leading principal components."""

    mean: np.ndarray
    std: np.ndarray
    components: np.ndarray  # k x dim

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = ((np.atleast_2d(x) - self.mean) / self.std) @ self.components.T
        return out

    @classmethod
    def fit(cls, x: np.ndarray, k: int) -> Projection:
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        _, _, vt = np.linalg.svd((x - mean) / std, full_matrices=False)
        return cls(mean, std, vt[:k])

    def to_json(self) -> dict[str, Any]:
        k, dim = self.components.shape
        return {
            "dim": dim,
            "k": k,
            "mean": _pack(self.mean),
            "std": _pack(self.std),
            "components": _pack(self.components, "<f2"),  # unit vectors: half precision is plenty
            "components_dtype": "<f2",
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Projection:
        dim, k = int(d["dim"]), int(d["k"])
        dtype = str(d.get("components_dtype", "<f4"))
        return cls(_unpack(d["mean"]), _unpack(d["std"]), _unpack(d["components"], (k, dim), dtype))


def fit_heads(
    z: np.ndarray, emotion: np.ndarray, w: np.ndarray, l2: float, rest_p: float,
    at_rest: np.ndarray | None = None,
) -> tuple[Logistic, Logistic]:  # fmt: skip
    """anger (angry vs the rest) and anxiety (fearful vs the rest) on projected rows `z`; a
    voice no different from its baseline (`at_rest`, the projection of zero) reads at most `rest_p`."""
    zero = np.zeros(z.shape[1]) if at_rest is None else at_rest
    heads = [
        Logistic.fit(z, (emotion == p).astype(float), l2=l2, sample_weight=w) for p in ("angry", "fearful")
    ]
    return capped(heads[0], zero, rest_p), capped(heads[1], zero, rest_p)


@dataclass(frozen=True)
class EncoderHead:
    projection: Projection
    anger: Logistic
    anxiety: Logistic
    population: np.ndarray
    """The population's mean pooled voice: a caller's first words are compared with it."""
    weight: float = 0.5
    """The encoder's share of the radar's scores (the prosody head has the rest)."""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.projection.dim

    def project(self, delta: np.ndarray) -> np.ndarray:
        """Pooled states relative to a reference -> the heads' inputs (k numbers)."""
        return self.projection(delta)

    def scores_of(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = self.projection(delta)
        return self.anger(z), self.anxiety(z)

    def heads_of(self, z: np.ndarray) -> tuple[float, float]:
        """anger and anxiety from projected inputs (a stored utterance's cues)."""
        z2 = np.atleast_2d(z)
        return float(self.anger(z2)[0]), float(self.anxiety(z2)[0])

    def with_heads(self, anger: Logistic, anxiety: Logistic, **meta: Any) -> EncoderHead:
        return replace(self, anger=anger, anxiety=anxiety, meta={**self.meta, **meta})

    def to_json(self, full: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "weight": self.weight,
            "anger": self.anger.to_json(),
            "anxiety": self.anxiety.to_json(),
            "meta": self.meta,
        }
        if full:
            d["projection"] = self.projection.to_json()
            d["population"] = _pack(self.population)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], base: EncoderHead | None = None) -> EncoderHead:
        """A head from JSON; one without its projection (a retrained head in the store) takes
        the projection and population of `base` (the shipped head)."""
        if "projection" in d:
            projection, population = Projection.from_json(d["projection"]), _unpack(d["population"])
        elif base is not None:
            projection, population = base.projection, base.population
        else:
            raise ValueError("an encoder head without its projection, and no shipped head to take it from")
        head = cls(projection, Logistic.from_json(d["anger"]), Logistic.from_json(d["anxiety"]), population,
                   float(d.get("weight", 0.5)), dict(d.get("meta", {})))  # fmt: skip
        k = projection.components.shape[0]
        if len(head.anger.weights) != k or len(head.anxiety.weights) != k:
            raise ValueError(
                f"the encoder head has weights for {len(head.anger.weights)} inputs, its projection {k}"
            )
        return head
