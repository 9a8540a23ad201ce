"""`ivr radar`: score recordings as a call's radar would (`ivr radar FILE...`, i.e. `score`), and
the radar's learning: `retrain`, `versions`, `approve`, `reject`, `rollback`, `budget`, `label`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ivr.cli.common import UsageError, fail, settings_from, when
from ivr.cli.context import open_store
from ivr.nlu.intents import plain
from ivr.radar.admin import describe, run_retrain
from ivr.radar.records import RadarError
from prosody.radar import Radar, RadarModel
from prosody.words import WORDS_PATH, WordsModel
from speech.audio import AudioError, decode_file
from speech.embed import Embedder


def _shipped() -> RadarModel:
    try:
        return RadarModel.load()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(
            f"models/radar.json is unreadable ({e}); bench/radar_calibrate.py remakes it"
        ) from None


def cmd_radar(args: argparse.Namespace) -> int:
    if args.action == "score":
        return _score(args)
    settings = settings_from(args)
    store = open_store(settings)
    try:
        return _admin(args, store.radar)
    except RadarError as e:
        raise UsageError(str(e)) from None
    finally:
        store.close()


def _admin(args: argparse.Namespace, radar: Any) -> int:
    who = args.by
    if args.action == "retrain":
        until = when(args.until, "--until") if args.until else None
        out = run_retrain(radar, _shipped(), when(args.since, "--since"), args.since, until,
                          args.budget, args.dry_run, who)  # fmt: skip
        print(json.dumps(out, indent=1, default=str) if args.json else describe(out))
        return 0 if out["accepted"] else 1
    if args.action == "versions":
        rows = radar.versions()
        if args.json:
            print(
                json.dumps(
                    {"versions": rows, "budget": radar.budget(), "labels": radar.counts()}, default=str
                )
            )
            return 0
        print(f"false-alarm budget: {radar.budget()} per 100 calm calls; labelled calls: {radar.counts()}")
        a = radar.agreement()
        if a["upset_calls"] or a["calm_calls"]:
            print(f"as the labelled calls ran, the radar escalated {a['upset_escalated']} of {a['upset_calls']} upset "
                  f"calls and {a['false_per_100']} per 100 of {a['calm_calls']} calm ones")  # fmt: skip
        live = [r["version"] for r in rows if r["state"] == "active"]
        print(f"live: version {live[0] if live else 0}{'' if live else ' (as shipped)'}")
        for r in rows:
            rep = r["report"]
            after, ran = rep.get("after", {}), rep.get("before", {})
            same = rep.get("before_at_budget") or ran
            print(f"  v{r['version']:<3} {r['state']:<11} since {r['since']:<12} by {r['created_by'] or '-':<10} "
                  f"held-out UAR {same.get('uar', float('nan')):.3f} (live at the budget) -> {after.get('uar', float('nan')):.3f}, "
                  f"false/100 {ran.get('false_per_100', '-')} (live as it ran) -> {after.get('false_per_100', '-')}")  # fmt: skip
        return 0
    if args.action == "approve":
        row = radar.approve(args.version, who)
        print(
            f"version {row['version']} is live (replacing {row['replaces'] or 'the shipped model'}): the next call uses it"
        )
    elif args.action == "reject":
        radar.reject(args.version, who)
        print(f"version {args.version} rejected")
    elif args.action == "rollback":
        back = radar.rollback(who)
        print(f"rolled back: {'version ' + str(back) if back else 'the shipped model'} is live")
    elif args.action == "budget":
        if args.per_100 is None:
            print(f"{radar.budget()} false escalations per 100 calm calls")
        else:
            print(
                f"false-alarm budget: {radar.set_budget(args.per_100, who)} per 100 calm calls (the next retraining uses it)"
            )
    else:
        row = radar.label(args.call_id, args.source, args.label, who, args.started_ms)
        print(f"{row['call_id']}: {row['label']} ({row['source']}, {row['features']} utterances' cues kept)")
    return 0


def _valence(text: str) -> Any:
    """What `text` says (models/words.json on the intent embedder), as a call's radar hears it."""
    if not WORDS_PATH.exists():
        raise UsageError(f"--words: {WORDS_PATH} is missing (bench/radar_words.py --write makes it)")
    try:
        model = WordsModel.load()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(
            f"--words: {WORDS_PATH} is unreadable ({e}); bench/radar_words.py --write remakes it"
        ) from None
    return model.valence(Embedder().embed([plain(text)])[0])


def _score(args: argparse.Namespace) -> int:
    """Each FILE is scored on its own radar, after the --baseline recordings."""
    model = _shipped()
    words = _valence(args.words) if args.words else None
    baselines = []
    for b in args.baseline:
        try:
            baselines.append(decode_file(b))
        except AudioError as e:
            raise UsageError(f"--baseline {e}") from None
    failures = 0
    for f in args.files:
        try:
            samples, rate = decode_file(f)
        except AudioError as e:
            fail(str(e))
            failures += 1
            continue
        radar = Radar(model)
        for b_samples, b_rate in baselines:
            if not radar.learn_baseline(b_samples, b_rate):
                fail("a --baseline recording has too little voice to learn from")
        update = radar.update(samples, rate, words=words)
        if update is None:
            fail(f"{f}: too little voice to judge")
            failures += 1
            continue
        row = {"file": f, "anger": update.anger, "anxiety": update.anxiety, "level": update.level,
               "escalate": update.level == "escalate"}  # fmt: skip
        if update.valence is not None:
            row["valence"] = update.valence
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{f}: anger {update.anger:.2f}, anxiety {update.anxiety:.2f}, level {update.level}"
                + ("" if update.valence is None else f", words {update.valence:+.2f}")
                + (" -> ESCALATE" if row["escalate"] else "")
            )
    return 2 if failures else 0
