"""The radar's retraining on a generated labelled day (tests/data/radar_day.json.gz: emotion_dev
speakers' calls through the shipped radar, kept as cues; `bench/radar_day.py` makes it), in a
fresh SQLite store each run, as `ivr radar retrain` runs it: labels, held-out before/after,
the budget's threshold, what is refused and why, and the time and memory it takes.

    .venv/bin/python bench/radar_retrain.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT  # noqa: F401  (puts the project on sys.path)

from ivr.radar import retrain
from ivr.radar.admin import run_retrain
from ivr.records import Store
from prosody.radar import RadarModel
from tests.tools.radar_day import load_day, write_day

CASES = (
    ("every call labelled, a quarter reviewed", {}),
    ("half the calls labelled", {"labelled": 0.5}),
    ("a quarter of the calls labelled", {"labelled": 0.25}),
    ("labels contradict on half the reviewed calls", {"reviewed": 0.6, "contradict": 0.5}),
    ("labels shuffled (they say nothing)", {"shuffle_labels": True}),
    ("40 calls only", {"calls_n": 40}),
)


def run(shipped: RadarModel, budget: float | None = None, **kw) -> tuple[dict, float]:  # type: ignore[no-untyped-def, type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'ivr.sqlite3'}")
        try:
            day = write_day(store.engine, **kw)
            t0 = time.perf_counter()
            out = run_retrain(
                store.radar, shipped, day["first"] - 1, "2026-11-30", budget=budget, dry_run=True
            )
            return out, time.perf_counter() - t0
        finally:
            store.close()


def line(name: str, out: dict, seconds: float) -> str:  # type: ignore[type-arg]
    lab = out["labels"]
    head = f"  {name:46s} {lab['upset']:4d}/{lab['calm']:<4d}"
    if "before" not in out:
        return f"{head} {'':62s} refused: {out['reason']}"
    b, same, a = out["before"], out["before_at_budget"], out["after"]
    verdict = "accepted" if out["accepted"] else f"refused: {out['reason']}"
    return (f"{head} {b['uar']:.3f} / {same['uar']:.3f} -> {a['uar']:.3f}  {b['false_per_100']:5.1f} / "
            f"{same['false_per_100']:4.1f} -> {a['false_per_100']:4.1f}  {out.get('encoder_weight')}  "
            f"{out.get('confidence', 0):4.0%}  {seconds:4.1f} s  {verdict}")  # fmt: skip


def main() -> int:
    shipped = RadarModel.load()
    day = load_day()
    truth = [c["truth"] for c in day["calls"]]
    print(f"generated day: {len(truth)} calls ({truth.count('angry')} angry, {truth.count('anxious')} anxious, "
          f"{truth.count('neither')} calm) of {day['meta']['speakers']} emotion_dev speakers; "
          f"encoder head: {day['meta']['encoder']}")  # fmt: skip
    print("  held-out calls: the live model as it runs / at the budget -> retrained (for the budget); the")
    print(
        "  encoder's share; on how many resamples of the held-out calls the retrained one beats the live at the budget"
    )
    print(
        f"  {'labels':46s} {'up/calm':9s} {'held-out UAR':25s} {'false/100 calm':22s} {'enc':4s} {'sure':5s} time"
    )
    for name, kw in CASES:
        out, seconds = run(shipped, **kw)
        print(line(name, out, seconds))
    retrain.ENCODER_WEIGHTS = (0.0,)  # what the encoder cues add: the same refit without them
    out, seconds = run(shipped)
    retrain.ENCODER_WEIGHTS = (0.0, 0.25, 0.5)
    print(line("every call labelled, the encoder's share held at 0", out, seconds))
    print(
        "  the false-alarm budget (every call labelled): threshold set on the training calls, held-out figures"
    )
    for budget in (0.0, 1.0, 2.0, 5.0, 10.0):
        out, _ = run(shipped, budget=budget)
        if "after" in out:
            a = out["after"]
            print(f"    budget {budget:4.1f}/100: escalate at {out['thresholds']['escalate_on']:.2f}; held-out UAR "
                  f"{a['uar']:.3f}, angry {a['angry_caught']:.0%}, anxious {a['anxious_caught']:.0%}, "
                  f"false {a['false_per_100']:.1f}/100")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory {peak:.0f} MB; CPU {time.process_time():.1f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
