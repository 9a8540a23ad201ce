"""Intent understanding with sentence embeddings (all-MiniLM-L6-v2, int8 ONNX, no torch).

Each intent is declared with a few example phrases. A softmax classifier trained on all of them
when the dialplan loads (`ivr.nlu.classifier`) ranks the intents; the similarity of the caller's
words to the chosen intent's examples (the mean of its two closest, so one odd example does not
decide alone) is the match's confidence, and below `threshold` the request is out of scope
("none") rather than forced onto an intent it is far from. The `none` examples train the
classifier's out-of-scope class. An intent's keywords (complain, sue) decide ahead of both.
The same embedder ranks knowledge-base questions for `answer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ivr.nlu.classifier import SoftmaxClassifier

NONE = "none"
TOP = 3
"""Candidates an intent match reports (the chat shows them, the intent event keeps them)."""
KEYWORD_CONFIDENCE = 0.9
"""The confidence of a match decided by one of the intent's keywords."""


def plain(text: str) -> str:
    """Text as the examples are written: lower case, no punctuation ("Can somebody help me?" ->
    "can somebody help me"). Whisper's punctuation moves the embedding (0.33 -> 0.28 here),
    so a spoken request would score lower than the same words typed."""
    return " ".join(re.sub(r"[^\w'\s]", " ", text.lower()).split())


class Embedder(Protocol):
    """Anything that embeds texts as L2-normalised rows: the speech service's client in a
    worker, or `speech.embed.Embedder` in one process."""

    def embed(self, texts: Sequence[str]) -> Any: ...


@dataclass(frozen=True, slots=True)
class IntentMatch:
    name: str
    confidence: float
    candidates: tuple[tuple[str, float], ...] = ()
    """The likeliest intents with the classifier's probabilities, best first (why the engine
    decided; with no classifier, the similarities)."""
    by: str = "classifier"
    """What decided: "classifier", "similarity" (no classifier: a dialplan of one intent),
    "keyword", "threshold" (out of scope: too far from the examples), or "clarified" (asked)."""


class IntentMatcher:
    """Matches text to the dialplan's intents; 'none' when out of scope."""

    def __init__(
        self,
        embedder: Embedder,
        intents: Mapping[str, Iterable[str]],
        threshold: float = 0.5,
        keywords: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._embedder = embedder
        self._keywords = [
            (
                name,
                re.compile(
                    r"\b(" + "|".join(re.escape(w.lower()) for w in words) + r")(s|es|d|ed|ing)?\b", re.I
                ),
            )
            for name, words in (keywords or {}).items()
            if list(words)
        ]
        self.threshold = threshold
        self._labels: list[str] = []
        phrases: list[str] = []
        for name, examples in intents.items():
            for ex in examples:
                self._labels.append(name)
                phrases.append(plain(ex))
        self._names = sorted(set(self._labels))
        self._matrix = embedder.embed(phrases) if phrases else np.zeros((0, 384), np.float32)
        self._label_idx = np.array([self._names.index(n) for n in self._labels], dtype=np.int64)
        self.classifier = (
            SoftmaxClassifier(self._names, np.asarray(self._matrix, np.float64), self._label_idx)
            if len(self._names) > 1
            else None
        )

    def embed(self, text: str) -> Any:
        """`text` as the embedder's row (for the knowledge base, which shares the embedder)."""
        return self._embedder.embed([text])[0]

    def scores(self, text: str) -> dict[str, float]:
        """Each intent's similarity to `text` (the mean of its two closest examples)."""
        if not self._labels or not text.strip():
            return {}
        return self._similarities(self._embedder.embed([plain(text)])[0])

    def _similarities(self, row: Any) -> dict[str, float]:
        sims = self._matrix @ row
        out: dict[str, float] = {}
        for i, name in enumerate(self._names):
            s = np.sort(sims[self._label_idx == i])[::-1]
            out[name] = float(s[:2].mean()) if len(s) > 1 else float(s[0])
        return out

    def match(self, text: str, allowed: Iterable[str] | None = None) -> IntentMatch:
        if not self._labels or not text.strip():
            return IntentMatch(NONE, 0.0)
        row = self._embedder.embed([plain(text)])[0]
        sims = self._similarities(row)
        keep = None if allowed is None else set(allowed) | {NONE}
        if keep is not None:
            sims = {k: v for k, v in sims.items() if k in keep}
        if not sims:
            return IntentMatch(NONE, 0.0)
        if self.classifier is not None:
            ranked = self.classifier.probabilities(row, keep)
            by = "classifier"
        else:
            ranked, by = sims, "similarity"
        order = sorted(ranked, key=lambda k: -ranked[k])
        top = tuple((k, round(ranked[k], 3)) for k in order[:TOP])
        for name, pattern in self._keywords:  # a complaint about the bill is a complaint
            if name in sims and pattern.search(text):
                return IntentMatch(name, round(max(sims[name], KEYWORD_CONFIDENCE), 3), top, "keyword")
        best = order[0]
        confidence = round(sims[best], 3)
        if best == NONE:
            return IntentMatch(NONE, confidence, top, by)
        if confidence < self.threshold:  # the classifier's choice, but far from anything it was shown
            return IntentMatch(NONE, confidence, top, "threshold")
        return IntentMatch(best, confidence, top, by)


class KnowledgeBase:
    """Questions -> answers, ranked by similarity to the caller's question.

    An entry scores its closest question or its answer, whichever is nearer: callers ask in
    words the answer uses ("do you send bills by post" for "can I get a paper bill" -> "yes,
    we post a paper bill ..."), which the one question an agent wrote down may not.
    """

    def __init__(self, embedder: Embedder, entries: Sequence[Mapping[str, object]]) -> None:
        self._embedder = embedder
        self._entries = list(entries)
        texts: list[str] = []
        self._owner: list[int] = []
        for i, entry in enumerate(self._entries):
            for q in [*(entry.get("questions") or []), entry.get("answer") or ""]:  # type: ignore[misc]
                if str(q).strip():
                    texts.append(str(q))
                    self._owner.append(i)
        self._matrix = embedder.embed(texts) if texts else np.zeros((0, 384), np.float32)

    def __len__(self) -> int:
        return len(self._entries)

    def best(self, question: str) -> tuple[Mapping[str, object] | None, float]:
        if not self._owner or not question.strip():
            return None, 0.0
        return self.best_of(self._embedder.embed([question])[0])

    def best_of(self, vector: Any) -> tuple[Mapping[str, object] | None, float]:
        """The best entry for an already embedded question."""
        if not self._owner:
            return None, 0.0
        sims = self._matrix @ vector
        i = int(np.argmax(sims))
        return self._entries[self._owner[i]], float(sims[i])
