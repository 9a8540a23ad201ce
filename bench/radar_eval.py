"""Emotion radar benchmark on emotion_dev (53 speakers: RAVDESS en, URDU ur, EMOVO it, CASIA zh).

Two splits, each fitted with bench/radar_calibrate.py's `fit` on the training part only:
- leave-one-speaker-out (LOSO): each speaker is held out in turn;
- leave-one-corpus-out (LOCO): train on three corpora, test on the fourth.

Each held-out clip is scored three ways:
- `call`: as a call does it (the same Radar class): the speaker's two neutral clips given as
  the baseline when the corpus has them, else population norms at the radar's first-utterance
  trust;
- `own`: relative to the speaker's own baseline, speakers who have one;
- `population`: relative to population norms at full trust, every speaker.

Prints per corpus and pooled: UAR angry vs neutral+calm, fearful vs neutral+calm, escalate
(angry+fearful) vs not (neutral, calm, happy, sad, surprised); the escalation rate of happy and
of surprised; false escalation on neutral/calm; and the features' real-time factor.
Targets (LOSO pooled): angry >= 0.95, escalate >= 0.85, false escalation <= 5%, happy and
surprised <= 15%; LOCO escalate >= 0.80.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from radar_calibrate import fit, shipped_recipe
from radar_data import load_clips, population, split
from radar_select import uar

from prosody.features import utterance_stats
from prosody.radar import DEFAULT_THRESHOLDS, Radar, RadarModel

MODES = ("call", "own", "population")
NOT_ESCALATE = ("neutral", "calm", "happy", "sad", "surprised")
RECIPE = None  # the shipped model's (cues, ridge, weighting), read once in main


def held_out(train, test, baselines) -> dict[str, list[tuple[str, str, bool]]]:  # type: ignore[no-untyped-def]
    """(dataset, emotion, escalated) of each test clip, by mode."""
    train_speakers = {c.speaker for c in train}
    train_bases = {s: b for s, b in baselines.items() if s in train_speakers}
    r = RECIPE
    anger, anxiety = fit(train, train_bases, r)
    t = {**DEFAULT_THRESHOLDS, "baseline_prior_s": r.prior_s}
    model = RadarModel(anger, anxiety, population(train_bases), t, features=r.features)
    own = RadarModel(anger, anxiety, model.population, {**t, "baseline_prior_s": 0.0}, features=r.features)
    full = RadarModel(anger, anxiety, model.population, {**t, "population_trust": 1.0}, features=r.features)
    out: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    for c in test:
        base = baselines.get(c.speaker, [])
        for mode in MODES:
            if mode == "own" and not base:
                continue
            radar = Radar({"population": full, "own": own}.get(mode, model))
            if mode != "population":
                for b in base:
                    radar.learn_baseline(b.samples, 8000)
            update = radar.update(c.samples, 8000)
            out[mode].append((c.dataset, c.emotion, bool(update and update.level == "escalate")))
    return out


def report(title: str, results: dict[str, list[tuple[str, str, bool]]]) -> None:
    print(f"  {title}")
    print(
        f"    {'mode':10s} {'corpus':8s} {'angry':>6s} {'fear':>6s} {'escal.':>6s} {'happy%':>7s} {'surpr%':>7s} {'calm FA':>7s}  clips"
    )
    for mode in MODES:
        rows = results.get(mode, [])
        for corpus in ("ravdess", "urdu", "emovo", "casia", "pooled"):
            sel = [r for r in rows if corpus == "pooled" or r[0] == corpus]
            if not sel:
                continue

            def hits(*emotions: str, sel=sel) -> list[bool]:  # type: ignore[no-untyped-def]
                return [h for _, e, h in sel if e in emotions]

            calm = hits("neutral", "calm")
            rate = lambda v: f"{np.mean(v):6.0%}" if v else "     -"  # noqa: E731
            print(
                f"    {mode:10s} {corpus:8s} {uar(hits('angry'), calm):6.3f} {uar(hits('fearful'), calm):6.3f}"
                f" {uar(hits('angry', 'fearful'), hits(*NOT_ESCALATE)):6.3f} {rate(hits('happy'))} "
                f"{rate(hits('surprised'))} {rate(calm)}  {len(sel)}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-loso", action="store_true", help="leave-one-corpus-out only")
    args = ap.parse_args()
    global RECIPE
    RECIPE = shipped_recipe()
    t0 = time.perf_counter()
    clips = load_clips()
    baselines, rest = split(clips)
    speakers = sorted({c.speaker for c in clips})
    print(
        f"Emotion radar on emotion_dev ({len(clips)} clips, {len(speakers)} speakers, 8 kHz; "
        f"{len(baselines)} speakers with a two-clip neutral baseline; loaded in {time.perf_counter() - t0:.0f} s)"
    )
    print(
        "  columns: UAR angry vs neutral+calm, fearful vs neutral+calm, escalate vs not; escalation rate of happy,"
    )
    print("  of surprised, and of neutral+calm (false alarms)")
    if not args.no_loso:
        loso: dict[str, list] = defaultdict(list)
        for speaker in speakers:
            train = [c for c in rest if c.speaker != speaker]
            for mode, rows in held_out(train, [c for c in rest if c.speaker == speaker], baselines).items():
                loso[mode] += rows
        report(
            "leave-one-speaker-out (targets pooled: angry >= 0.95, escalate >= 0.85, calm FA <= 5%, happy/surprised <= 15%)",
            loso,
        )
    loco: dict[str, list] = defaultdict(list)
    for corpus in ("ravdess", "urdu", "emovo", "casia"):
        train = [c for c in rest if c.dataset != corpus]
        for mode, rows in held_out(train, [c for c in rest if c.dataset == corpus], baselines).items():
            loco[mode] += rows
    report("leave-one-corpus-out (target pooled escalate >= 0.80)", loco)

    audio = np.concatenate([c.samples for c in rest[:20]])
    seconds = len(audio) / 8000
    t1 = time.perf_counter()
    step = 3 * 8000
    for i in range(0, len(audio), step):  # 3 s utterances
        utterance_stats(audio[i : i + step])
    rtf = (time.perf_counter() - t1) / seconds
    print(f"  real-time factor per stream: {rtf:.4f} over {seconds:.0f} s of audio (target <= 0.002)")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
