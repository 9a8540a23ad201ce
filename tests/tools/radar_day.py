"""A generated day of labelled calls in a store, for the radar's retraining: the calls of
tests/data/radar_day.json.gz (emotion_dev speakers' utterances through the shipped radar, kept
as cues; `bench/radar_day.py` makes it) written as call records with their affect events, and
labelled as agents and reviewers would: the agent's wrap-up on most calls, a reviewer's on some
(where the upset started marked on about half of the upset ones), a share wrong on purpose."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from ivr.radar.records import RadarRecords
from ivr.store.engine import write_tx
from ivr.store.tables import call_events, calls

DAY = Path(__file__).resolve().parent.parent / "data" / "radar_day.json.gz"


def load_day() -> dict[str, Any]:
    with gzip.open(DAY, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def write_day(
    engine: Engine, day: str = "2026-11-30", calls_n: int | None = None, labelled: float = 1.0,
    reviewed: float = 0.25, contradict: float = 0.0, shuffle_labels: bool = False, seed: int = 5,
    prefix: str = "rad",
) -> dict[str, Any]:  # fmt: skip
    """Write the generated calls (the first `calls_n`) over `day` and label a `labelled` share:
    the agent's wrap-up, and on a `reviewed` share a reviewer's too; `contradict`: that share of
    the twice-labelled calls get a reviewer who says the opposite (upset / calm);
    `shuffle_labels`: every label is another call's (labels that say nothing)."""
    rng = random.Random(seed)
    source = load_day()["calls"][:calls_n]
    start = datetime.fromisoformat(day).replace(hour=8, tzinfo=ZoneInfo("Europe/London")).timestamp()
    rows, evs = [], []
    speakers = sorted({c["speaker"] for c in source})
    for n, c in enumerate(source):
        cid = f"{prefix}-{day}-{n:05d}"
        t0 = start + n * 90.0
        end_ms = (c["utterances"][-1]["t_ms"] if c["utterances"] else 0) + 1000
        rows.append({"id": cid, "caller": f"+4477009{speakers.index(c['speaker']):05d}", "source": "radar-day", "host": "synthetic", "status": "ended",
                     "started_at": t0, "answered_at": t0, "ended_at": t0 + end_ms / 1000, "duration_ms": end_ms,
                     "dialplan": "hotline.yaml", "outcome": "transferred"})  # fmt: skip
        for seq, u in enumerate(c["utterances"]):
            data = {"anger": 0.0, "anxiety": 0.0, "level": "calm", "cues": u["cues"]}
            evs.append(
                {"call_id": cid, "seq": seq, "t_ms": u["t_ms"], "type": "affect", "data": json.dumps(data)}
            )
    with write_tx(engine) as conn:
        conn.execute(insert(calls), rows)
        for k in range(0, len(evs), 5000):
            conn.execute(insert(call_events), evs[k : k + 5000])
    truths = [c["truth"] for c in source]
    if shuffle_labels:
        rng.shuffle(truths)
    radar = RadarRecords(engine)
    counts = {"labelled": 0, "reviewed": 0, "contradicted": 0}
    for n, (c, truth) in enumerate(zip(source, truths, strict=True)):
        if rng.random() >= labelled:
            continue
        cid = f"{prefix}-{day}-{n:05d}"
        upset_from = c["upset_from_ms"] if truth != "neither" else None
        mark = upset_from if (upset_from is not None and rng.random() < 0.5) else None
        radar.label(cid, "wrapup", truth, "ann")
        counts["labelled"] += 1
        if rng.random() < reviewed:
            said = truth
            if rng.random() < contradict:
                said = "neither" if truth != "neither" else "angry"
                counts["contradicted"] += 1
            radar.label(cid, "qa", said, "sue", mark if said == truth else None)
            counts["reviewed"] += 1
    return {"calls": len(rows), "first": start, "truth": {k: truths.count(k) for k in ("angry", "anxious", "neither")},
            **counts}  # fmt: skip
