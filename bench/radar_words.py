"""What the words say (issue #16, the lexical half of the radar): a softmax classifier on
sentence embeddings (the intent embedder, `ivr.nlu.classifier`) trained on
`bench/data/valence_phrases.tsv` (negative: angry or anxious; positive; neutral requests) and
tested on `valence_test.tsv`, written apart. Prints accuracy, recall per class, and how often
positive words would be read as negative (what would let a happy, loud caller escalate).
`--write` fits on both sets and writes `models/words.json` (what calls use, prosody/words.py)."""

from __future__ import annotations

import argparse
import csv
import time

import numpy as np
from common import ROOT

from ivr.nlu.classifier import SoftmaxClassifier
from ivr.nlu.intents import plain
from prosody.words import WordsModel
from speech.embed import Embedder

CLASSES = ("negative", "neutral", "positive")


def load(name: str) -> list[tuple[str, str]]:
    with open(ROOT / "bench" / "data" / name, encoding="utf-8") as f:
        return [(r["valence"], r["text"]) for r in csv.DictReader(f, delimiter="\t")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true", help="fit on both sets, write models/words.json")
    args = ap.parse_args()
    embedder = Embedder()
    train, test = load("valence_phrases.tsv"), load("valence_test.tsv")
    x = np.asarray(embedder.embed([plain(t) for _, t in train]), np.float64)
    y = np.array([CLASSES.index(v) for v, _ in train])
    t0 = time.perf_counter()
    clf = SoftmaxClassifier(CLASSES, x, y)
    fit_ms = (time.perf_counter() - t0) * 1000
    rows = np.asarray(embedder.embed([plain(t) for _, t in test]), np.float64)
    probs = [clf.probabilities(r) for r in rows]
    got = [max(p, key=p.get) for p in probs]
    want = [v for v, _ in test]
    print(f"Words' valence ({len(train)} training phrases, {len(test)} held-out; fit {fit_ms:.0f} ms)")
    print(f"  accuracy {np.mean([g == w for g, w in zip(got, want, strict=True)]):.1%}")
    for c in CLASSES:
        idx = [i for i, w in enumerate(want) if w == c]
        print(
            f"  {c:9s} recall {np.mean([got[i] == c for i in idx]):6.1%}  mean P(negative) {np.mean([probs[i]['negative'] for i in idx]):.2f}"
        )
    pos = [i for i, w in enumerate(want) if w == "positive"]
    print(f"  positive words read as negative: {np.mean([got[i] == 'negative' for i in pos]):.1%}")
    for i, (w, t) in enumerate(test):
        if got[i] != w:
            print(f"    {w} -> {got[i]}: {t!r}")
    if args.write:
        both = train + test
        xb = np.asarray(embedder.embed([plain(t) for _, t in both]), np.float64)
        full = SoftmaxClassifier(CLASSES, xb, np.array([CLASSES.index(v) for v, _ in both]))
        meta = {
            "phrases": len(both),
            "data": "bench/data/valence_phrases.tsv + valence_test.tsv",
            "script": "bench/radar_words.py --write",
        }
        WordsModel(list(CLASSES), full.w, full.b, meta).save()
        print(f"  wrote models/words.json ({len(both)} phrases)")


if __name__ == "__main__":
    main()
