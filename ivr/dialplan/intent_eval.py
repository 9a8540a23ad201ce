"""How well a dialplan's intents understand a test set an admin writes: accuracy, recall and
precision per intent, the confusions, the utterances that failed, and the examples two intents
share (near-identical examples under different intents are where a matcher guesses)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ivr.nlu.intents import NONE, IntentMatcher


class TestSetError(ValueError):
    """The test file cannot be used; the message names the file and the line."""


def load_test_set(path: str | Path, known: Sequence[str]) -> list[tuple[str, str, int]]:
    """(utterance, expected intent, line) from a TSV: `utterance<TAB>intent` per line (a header
    line `text<TAB>intent` or `intent<TAB>text` is recognised; # starts a comment)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TestSetError(f"{p}: cannot read ({e})") from None
    rows = list(csv.reader(lines, delimiter="\t"))
    flip = False
    start = 0
    if rows and [c.strip().lower() for c in rows[0]][:2] in (
        ["text", "intent"],
        ["utterance", "intent"],
        ["intent", "text"],
        ["intent", "utterance"],
    ):
        flip = rows[0][0].strip().lower() == "intent"
        start = 1
    out = []
    allowed = set(known) | {NONE}
    for i, row in enumerate(rows[start:], start=start + 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2:
            raise TestSetError(f"{p}:{i}: expected utterance<TAB>intent, got {len(row)} column(s)")
        text, intent = (row[1], row[0]) if flip else (row[0], row[1])
        text, intent = text.strip(), intent.strip()
        if intent not in allowed:
            raise TestSetError(
                f"{p}:{i}: intent {intent!r} is not in the dialplan (one of {', '.join(sorted(allowed))})"
            )
        if not text:
            raise TestSetError(f"{p}:{i}: empty utterance")
        out.append((text, intent, i))
    if not out:
        raise TestSetError(f"{p}: no test lines")
    return out


def evaluate(matcher: IntentMatcher, intents: dict[str, list[str]], tests: Sequence[tuple[str, str, int]],
             overlap_at: float = 0.9) -> dict[str, Any]:  # fmt: skip
    predicted = [(text, want, line, matcher.match(text)) for text, want, line in tests]
    names = sorted({w for _, w, _ in tests} | {m.name for *_, m in predicted})
    per: dict[str, dict[str, Any]] = {}
    for n in names:
        tp = sum(1 for _, w, _, m in predicted if w == n and m.name == n)
        expected = sum(1 for _, w, _, _ in predicted if w == n)
        got = sum(1 for *_, m in predicted if m.name == n)
        per[n] = {
            "expected": expected, "predicted": got,
            "recall": round(tp / expected, 3) if expected else None,
            "precision": round(tp / got, 3) if got else None,
        }  # fmt: skip
    failed = [
        {"line": line, "text": text, "expected": want, "got": m.name, "confidence": m.confidence, "by": m.by,
         "likeliest": [{"name": n, "score": c} for n, c in m.candidates]}
        for text, want, line, m in predicted if m.name != want
    ]  # fmt: skip
    confusions = Counter((f["expected"], f["got"]) for f in failed)
    return {
        "tests": len(tests),
        "accuracy": round(1 - len(failed) / len(tests), 4),
        "in_scope_accuracy": _acc([p for p in predicted if p[1] != NONE]),
        "out_of_scope_recall": _acc([p for p in predicted if p[1] == NONE]),
        "per_intent": per,
        "confusions": [{"expected": a, "got": b, "count": c} for (a, b), c in confusions.most_common()],
        "failed": failed,
        "overlapping_examples": overlaps(matcher, intents, overlap_at),
    }


def _acc(rows: Sequence[Any]) -> float | None:
    return round(sum(1 for _, w, _, m in rows if m.name == w) / len(rows), 4) if rows else None


def overlaps(matcher: IntentMatcher, intents: dict[str, list[str]], at: float) -> list[dict[str, Any]]:
    """Pairs of examples of different intents that mean nearly the same (cosine >= `at`)."""
    texts = [(n, e) for n, ex in intents.items() for e in ex]
    if len(texts) < 2:
        return []
    m = np.asarray(matcher._embedder.embed([e for _, e in texts]))
    sims = m @ m.T
    out = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if texts[i][0] != texts[j][0] and sims[i, j] >= at:
                out.append({"a": texts[i][0], "a_example": texts[i][1], "b": texts[j][0], "b_example": texts[j][1],
                            "similarity": round(float(sims[i, j]), 3)})  # fmt: skip
    return sorted(out, key=lambda o: -o["similarity"])
