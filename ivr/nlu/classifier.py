"""A linear classifier over sentence embeddings, trained on a dialplan's intent examples when the
dialplan loads (per version; ~40 ms for ~170 examples on one core).

Nearest examples alone let one close example decide ("I want to clear my balance" sits near a
balance example); a softmax layer weighs every example of every intent at once and learns which
directions of the embedding separate them. It is multinomial logistic regression with an L2
penalty, fitted by full-batch Adam from zero weights: deterministic (the same examples give the
same model), and small enough (384 x intents) that a numpy loop does the job; scikit-learn
would bring scipy (~100 MB) into every worker for this one fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

L2 = 1e-3
STEPS = 200
RATE = 0.5


class SoftmaxClassifier:
    """P(intent | embedding) over `names`, trained on rows `x` with labels `y` (indices into names)."""

    def __init__(
        self, names: Sequence[str], x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = STEPS
    ) -> None:
        self.names = list(names)
        k = len(self.names)
        n, dim = x.shape
        self.w = np.zeros((dim, k), np.float64)
        self.b = np.zeros(k, np.float64)
        if n == 0 or k < 2:
            return
        target = np.eye(k)[y]
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in (self.w, self.b)]
        for t in range(1, steps + 1):
            grad = (self._probs(x) - target) / n
            for p, g, (m, v) in zip(
                (self.w, self.b), (x.T @ grad + l2 * self.w, grad.sum(0)), moments, strict=True
            ):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                p -= RATE * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)

    def _probs(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w + self.b
        z -= z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        p: np.ndarray = e / e.sum(axis=-1, keepdims=True)
        return p

    def probabilities(self, row: np.ndarray, allowed: set[str] | None = None) -> dict[str, float]:
        """Each intent's probability for one embedded text; with `allowed`, over those only
        (renormalised: a gather that routes three intents chooses among those three)."""
        p = self._probs(np.asarray(row, np.float64)[None, :])[0]
        out = {n: float(v) for n, v in zip(self.names, p, strict=True) if allowed is None or n in allowed}
        total = sum(out.values()) or 1.0
        return {n: v / total for n, v in out.items()}
