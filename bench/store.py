"""Store benchmark: call records written by 30 concurrent calls in 8 worker-like processes
(each with its one writer thread), on SQLite and on PostgreSQL (IVR_TEST_PG_URL, as
`scripts/with-postgres.sh` sets it); then `ivr calls list` over 100,000 calls.

Prints events per second at full speed, the p95 time from an event handed over to it being
committed (sampled while 30 calls stream at a live call's pace and at full speed), and the
time to the first page of 100,000 calls (the store, the CLI, the API).

    bash scripts/with-postgres.sh .venv/bin/python bench/store.py
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from common import ROOT, pct

sys.path.insert(0, str(ROOT))

PROCESSES = 8
EVENTS_PER_CALL = 400  # a 3-minute call: partials, finals, prompts, radar, nodes


def _one_process(url: str, calls: int, pace_s: float, out: mp.Queue) -> None:
    from ivr.call.record import CallRecord
    from ivr.events import EventType as T
    from ivr.events import make
    from ivr.records import Store

    store = Store(url)
    writer = store.writer
    latencies: list[float] = []
    stop = threading.Event()

    from ivr.store.writer import CallEvents, CallStarted

    probe = f"probe-{uuid.uuid4().hex[:12]}"
    writer.submit(CallStarted({"id": probe, "started_at": time.time()}))
    writer.flush()

    def sampler() -> None:  # how long an event handed over now takes to be committed
        seq = 0
        while not stop.is_set():
            row = {"call_id": probe, "seq": seq, "t_ms": seq, "type": "say", "data": '{"text": "probe"}'}
            t0 = time.perf_counter()
            writer.submit(CallEvents([row]))
            writer.flush()
            latencies.append(time.perf_counter() - t0)
            seq += 1
            stop.wait(0.02)

    def call(i: int) -> None:
        cid = f"bench-{uuid.uuid4().hex[:12]}"
        rec = CallRecord(cid, writer, caller={"number": f"+4477009{i:05d}"})
        rec(make(cid, 0, T.CALL_START, sample_rate=8000))
        for k in range(EVENTS_PER_CALL - 2):
            t = 100 * k
            kind = k % 4
            if kind == 0:
                rec(make(cid, t, T.PARTIAL_TRANSCRIPT, text="what is my balance"))
            elif kind == 1:
                rec(make(cid, t, T.FINAL_TRANSCRIPT, text="what is my balance please"))
            elif kind == 2:
                rec(make(cid, t, T.AFFECT, anger=0.1, anxiety=0.2, level="calm"))
            else:
                rec(make(cid, t, T.SAY, text="Your balance is 12 pounds."))
            if pace_s:
                time.sleep(pace_s)
        rec(make(cid, 100 * EVENTS_PER_CALL, T.CALL_END, duration_ms=100 * EVENTS_PER_CALL))

    s = threading.Thread(target=sampler, daemon=True)
    s.start()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=call, args=(i,)) for i in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.flush()
    took = time.perf_counter() - t0
    stop.set()
    s.join()
    out.put((calls * EVENTS_PER_CALL, took, latencies, writer.stats.batches))
    store.close()


def stream(url: str, calls: int, pace_s: float) -> dict:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    per = [calls // PROCESSES + (1 if i < calls % PROCESSES else 0) for i in range(PROCESSES)]
    procs = [ctx.Process(target=_one_process, args=(url, n, pace_s, out)) for n in per if n]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    events = sum(r[0] for r in results)
    lat = [x for r in results for x in r[2]]
    slowest = max(r[1] for r in results)
    return {
        "events": events,
        "eps": events / slowest,
        "wall": wall,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "batches": sum(r[3] for r in results),
    }


def hundred_thousand(url: str, data_dir: Path | None) -> dict:
    from sqlalchemy import insert

    from ivr.records import Store
    from ivr.store.engine import write_tx
    from ivr.store.tables import calls

    store = Store(url)
    now = time.time()
    rows = [
        {"id": f"c{i:06d}", "caller": f"+44770090{i % 10000:04d}", "status": "ended", "started_at": now - i * 30,
         "ended_at": now - i * 30 + 95, "duration_ms": 95000, "outcome": ("ai_resolved", "transferred", "abandoned")[i % 3]}
        for i in range(100_000)
    ]  # fmt: skip
    with write_tx(store.engine) as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(calls), rows[i : i + 5000])
    t0 = time.perf_counter()
    page = store.calls.list(limit=50)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    cursor = page.next_cursor
    for _ in range(200):  # 10,000 calls deep by keyset
        cursor = store.calls.list(limit=50, cursor=cursor).next_cursor
    deep = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter()
    store.calls.list(limit=50, outcome="abandoned")
    filtered = time.perf_counter() - t0
    from fastapi.testclient import TestClient

    from ivr.api import create_app

    store.users.add("bench", "supervisor", "bench password", replace=True)
    token = store.users.login("bench", "bench password", 600)
    client = TestClient(create_app(store=store))
    t0 = time.perf_counter()
    r = client.get("/api/calls", headers={"Authorization": f"Bearer {token}"})
    api = time.perf_counter() - t0
    assert r.status_code == 200 and len(r.json()["calls"]) == 50
    cli = None
    if data_dir is not None:  # the command a user types, Python's start included
        exe = Path(sys.executable).with_name("ivr")
        t0 = time.perf_counter()
        subprocess.run(
            [str(exe), "calls", "list", "--data-dir", str(data_dir)], check=True, capture_output=True
        )
        cli = time.perf_counter() - t0
    store.close()
    return {"first": first, "deep": deep, "filtered": filtered, "api": api, "cli": cli}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ivr-store-bench-"))
    backends = [("sqlite", f"sqlite:///{tmp / 'ivr.sqlite3'}", tmp)]
    if os.environ.get("IVR_TEST_PG_URL"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"ivr_bench_{uuid.uuid4().hex[:8]}"
        with create_engine(os.environ["IVR_TEST_PG_URL"], isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        backends.append(
            (
                "postgresql",
                make_url(os.environ["IVR_TEST_PG_URL"]).set(database=name).render_as_string(False),
                None,
            )
        )
    print(f"store: {args.calls} calls of {EVENTS_PER_CALL} events in {PROCESSES} processes")
    for label, url, data_dir in backends:
        from ivr.records import Store

        Store(url).close()  # migrated once, before the writers start
        live = stream(url, args.calls, pace_s=0.1)  # 10 events/s a call: a live call's pace
        full = stream(url, args.calls, pace_s=0.0)
        print(
            f"  {label:<10} live pace : {live['events'] / live['wall']:7.0f} events/s offered, commit p50 {live['p50'] * 1000:5.1f} ms, p95 {live['p95'] * 1000:5.1f} ms"
        )
        print(
            f"  {label:<10} full speed: {full['eps']:7.0f} events/s, commit p50 {full['p50'] * 1000:5.1f} ms, p95 {full['p95'] * 1000:5.1f} ms, {full['events'] / max(full['batches'], 1):.0f} events a commit"
        )
        big = hundred_thousand(url, data_dir)
        cli = f", `ivr calls list` {big['cli'] * 1000:.0f} ms (with Python's start)" if big["cli"] else ""
        print(f"  {label:<10} 100,000 calls: first page {big['first'] * 1000:.1f} ms, a page 10,000 deep {big['deep'] * 1000:.1f} ms, "
              f"by outcome {big['filtered'] * 1000:.1f} ms, GET /api/calls {big['api'] * 1000:.1f} ms{cli}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
