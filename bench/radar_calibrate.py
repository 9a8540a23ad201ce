"""Fit the radar's coefficients on all of emotion_dev and write models/radar.json.

The recipe (which differences from the reference voice, the ridge, corpus balance, piper's
calm sentences as negatives, how the caller's own baseline and population norms are
weighted) is the one best on leave-one-corpus-out (`radar_select.select`): cues that hold
across RAVDESS, URDU, EMOVO and CASIA rather than fit one. Then both models are fitted on
every corpus:

- anger: angry vs every other emotion; anxiety: fearful vs every other emotion (happy,
  surprised and disgust are negatives, so loud joy does not count as anger);
- features relative to each speaker's own two neutral clips (`radar_data.split`: chosen per
  corpus), population norms for URDU speakers without a neutral clip;
- piper's calm sentences, each against three others, as negatives when the recipe keeps
  them: RAVDESS says the same two sentences in every emotion, so without them ordinary
  sentence-to-sentence variation can look like emotion.

    .venv/bin/python bench/radar_calibrate.py            # select, fit, write models/radar.json
    .venv/bin/python bench/radar_calibrate.py --dry-run  # select and print only
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from radar_data import (
    calm_sentence_rows,
    calm_sentence_stats,
    design,
    load_clips,
    population,
    reference,
    split,
)
from radar_select import CORPORA, Data, Recipe, fit_pair, row_weights, select, table

from prosody.radar import DEFAULT_THRESHOLDS, FEATURES, RadarModel, relative

_CALM: list | None = None


def calm_stats() -> list:
    global _CALM
    if _CALM is None:
        from speech.tts import PiperTts

        _CALM = calm_sentence_stats(PiperTts())
    return _CALM


def fit(clips, baselines, recipe: Recipe | None = None):  # type: ignore[no-untyped-def]
    """The two models on `clips` (the recipe's cues; the shipped features by default), the
    rows built as `radar_select.fit` builds them."""
    r = recipe or Recipe(FEATURES)
    x = design(clips, baselines, r.features)
    emotions = np.array([c.emotion for c in clips])
    ds = np.array([c.dataset for c in clips])
    if r.at_rest:  # each baseline clip against its own reference: a normal voice
        rows = [
            (relative(c.stats, reference(b), r.features), c.dataset) for b in baselines.values() for c in b
        ]
        x = np.vstack([x, np.stack([v for v, _ in rows])])
        emotions = np.concatenate([emotions, ["neutral"] * len(rows)])
        ds = np.concatenate([ds, [d for _, d in rows]])
    if r.calm_tts:
        calm_x, calm_labels = calm_sentence_rows(calm_stats(), features=r.features)
        x = np.vstack([x, calm_x])
        emotions = np.concatenate([emotions, calm_labels])
        ds = np.concatenate([ds, ["tts"] * len(calm_x)])
    return fit_pair(x, emotions, row_weights(ds, emotions, r), r)


def shipped_recipe() -> Recipe:
    """The recipe models/radar.json was written with (so radar_eval measures what ships)."""
    m = RadarModel.load()
    r = m.meta.get("recipe", {})
    return Recipe(m.features, float(r.get("l2", 10.0)), bool(r.get("corpus_balance", False)),
                  bool(r.get("calm_tts", True)), float(m.thresholds.get("baseline_prior_s", 0.0)),
                  float(r.get("calm_share", 0.0)), bool(r.get("at_rest", False)), float(r.get("rest_p", 0.5)))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="select and print; do not write models/radar.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    clips = load_clips(samples=False)
    d = Data(clips, calm_stats())
    print(f"selecting on leave-one-corpus-out ({len(d.rest)} clips of {len(set(d.speaker))} speakers)")
    r = select(d)
    print("  LOCO per corpus (angry, fearful, escalate UAR; happy, surprised, calm escalated):")
    loco = table(d, r, "corpus")
    baselines, rest = split(clips)
    anger, anxiety = fit(rest, baselines, r)
    prior = r.prior_s if r.prior_s != float("inf") else 1e9
    model = RadarModel(
        anger,
        anxiety,
        population(baselines),
        {**DEFAULT_THRESHOLDS, "baseline_prior_s": prior},
        meta={
            "data": "emotion_dev: "
            + ", ".join(sorted({c.dataset for c in rest}))
            + f" ({len({c.speaker for c in clips})} speakers), 8 kHz",
            "clips": len(rest),
            "recipe": {
                "l2": r.l2,
                "corpus_balance": r.corpus_balance,
                "calm_tts": r.calm_tts,
                "calm_share": r.calm_share,
                "at_rest": r.at_rest,
                "rest_p": r.rest_p,
            },
            "chosen_on": "leave-one-corpus-out escalate UAR, pooled",
            "loco": {c: {k: round(v, 3) for k, v in loco[c].items()} for c in (*CORPORA, "pooled")},
            "script": "bench/radar_calibrate.py",
        },
        features=r.features,
    )
    if not args.dry_run:
        # the encoder head is bench/radar_encoder.py's: kept as it is (rerun that after a change
        # of the prosody recipe, to choose its weight against the new prosody head)
        model = model.with_encoder(RadarModel.load().encoder)
        model.save()
        print(f"wrote models/radar.json from {len(rest)} clips of {len(baselines)} baselined speakers"
              f"{'; the encoder head kept' if model.encoder is not None else ''}")  # fmt: skip
    for name, m in (("anger", anger), ("anxiety", anxiety)):
        top = sorted(zip(r.features, m.weights, strict=True), key=lambda p: -abs(p[1]))[:6]
        print(f"  {name}: " + ", ".join(f"{f} {w:+.2f}" for f, w in top))
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
