"""The radar's logistic heads: fitted by ridge IRLS, optionally pulled toward a prior model
(a deployment's retraining starts from the shipped heads and moves as far as its labels say)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Logistic:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = self.logit(x)
        p: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        return p

    def logit(self, x: np.ndarray) -> np.ndarray:
        z: np.ndarray = ((x - self.mean) / self.std) @ self.weights + self.bias
        return z

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
        sample_weight: np.ndarray | None = None, prior: Logistic | None = None,
    ) -> Logistic:  # fmt: skip
        """Ridge logistic regression by Newton's method (IRLS), balanced classes; each row
        weighted by `sample_weight` too (e.g. so each corpus counts alike). With a `prior`, the
        inputs are standardised as the prior's were and the ridge pulls the weights toward the
        prior's (not toward zero): few labels move the model a little, many as far as they say."""
        if prior is not None:
            mean, std = prior.mean, prior.std
        else:
            mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / std
        a = np.hstack([z, np.ones((len(z), 1))])
        rw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        sw = rw.copy()
        if class_weight:
            pos = max(1e-9, float(rw[y > 0].sum()))
            neg = max(1e-9, float(rw[y <= 0].sum()))
            sw = rw * np.where(y > 0, rw.sum() / (2 * pos), rw.sum() / (2 * neg))
        w0 = np.zeros(a.shape[1]) if prior is None else np.concatenate([prior.weights, [prior.bias]])
        w = w0.copy()
        reg = l2 * np.eye(a.shape[1])
        reg[-1, -1] = 0.0
        for _ in range(50):
            p = 1 / (1 + np.exp(-np.clip(a @ w, -30, 30)))
            grad = a.T @ (sw * (p - y)) + reg @ (w - w0)
            hess = (a * (sw * p * (1 - p))[:, None]).T @ a + reg + 1e-9 * np.eye(a.shape[1])
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        return cls(mean, std, w[:-1], float(w[-1]))


def capped(m: Logistic, at_rest: np.ndarray, rest_p: float) -> Logistic:
    """`m` with its bias lowered so that `at_rest` (a voice no different from its baseline)
    reads at most `rest_p`."""
    z0 = float(m.logit(np.atleast_2d(at_rest))[0])
    cap = float(np.log(rest_p / (1 - rest_p)))
    return Logistic(m.mean, m.std, m.weights, m.bias - max(0.0, z0 - cap))
