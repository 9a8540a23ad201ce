"""Near-duplicates among candidates and entries, for the supervisor deciding what to merge:
cosine similarity of sentence embeddings (the speech service's embedder), or the share of
shared words when no embedder is at hand (said so in `method`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

WORDS = re.compile(r"[a-z0-9']+")


def _jaccard(a: str, b: str) -> float:
    wa, wb = set(WORDS.findall(a.lower())), set(WORDS.findall(b.lower()))
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def annotate(candidates: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]], embedder: Any = None,
             limit: int = 3) -> dict[str, Any]:  # fmt: skip
    """Each candidate gets `similar`: the nearest live entries and other candidates, scored."""
    others: list[tuple[str, Any, str]] = [("entry", e["key"], q) for e in entries for q in e["questions"]]
    others += [("candidate", c["id"], c["question"]) for c in candidates]
    if not candidates:
        return {"method": "none", "candidates": []}
    if embedder is not None:
        texts = [c["question"] for c in candidates] + [o[2] for o in others]
        m = np.asarray(embedder.embed(texts))
        sims = m[: len(candidates)] @ m[len(candidates) :].T
        method = "embedding cosine"
    else:
        sims = np.array([[_jaccard(c["question"], o[2]) for o in others] for c in candidates])
        method = "shared words"
    out = []
    for i, c in enumerate(candidates):
        best: dict[tuple[str, Any], tuple[float, str]] = {}
        for j, (kind, ref, text) in enumerate(others):
            if kind == "candidate" and ref == c["id"]:
                continue
            s = float(sims[i, j])
            if s > best.get((kind, ref), (-1.0, ""))[0]:
                best[(kind, ref)] = (s, text)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:limit]
        out.append(
            {
                **c,
                "similar": [
                    {"kind": k, "ref": r, "text": t, "score": round(s, 3)} for (k, r), (s, t) in ranked
                ],
            }
        )
    return {"method": method, "candidates": out}
