"""Learning from calls, timed: QA screening per call, the report over 100,000 calls, and the
delay from a KB approval to the AI giving that answer (a worker's LiveKnowledge, the real
sentence embedder). SQLite in a temp dir; `--pg URL` for PostgreSQL."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from ivr.analytics.report import report
from ivr.kb.live import LiveKnowledge
from ivr.qa.config import load_qa_config
from ivr.qa.screen import Screener
from ivr.records import Store
from ivr.store.tables import kb_candidates

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers
from tests.tools.synthetic import generate_day  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--screen", type=int, default=2000, help="calls to screen")
    ap.add_argument("--report-calls", type=int, default=100_000)
    ap.add_argument("--approvals", type=int, default=20)
    ap.add_argument("--pg", default="", help="a PostgreSQL URL instead of a SQLite file")
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp())
    store = Store(a.pg or f"sqlite:///{d / 'bench.sqlite3'}")
    qa = load_qa_config("dialplans/qa.yaml")

    generate_day(store.engine, a.screen, day="2026-11-29", prefix="scr")
    t0 = time.perf_counter()
    done = Screener(store, qa).run_since(0)
    per_call_ms = (time.perf_counter() - t0) * 1000 / max(1, len(done))
    print(
        f"QA screening: {len(done)} calls, {per_call_ms:.2f} ms a call (flags, facts, KB uses, the day's sampling)"
    )

    t0 = time.perf_counter()
    for k in range(0, a.report_calls, 20_000):
        generate_day(
            store.engine,
            min(20_000, a.report_calls - k),
            day=f"2026-10-{1 + k // 20_000:02d}",
            prefix=f"rep{k}",
        )
    print(f"generated {a.report_calls} calls in {time.perf_counter() - t0:.1f} s")
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        r = report(store.engine, 0, time.time(), "Europe/London")
        times.append(time.perf_counter() - t0)
    print(
        f"report over {r['calls']} calls: {min(times):.2f} s (best of 3; {statistics.median(times):.2f} s median)"
    )

    from speech.embed import Embedder

    live = LiveKnowledge(store.kb, Embedder())
    live.best("warm up")
    delays = []
    for i in range(a.approvals):
        with store.engine.begin() as conn:
            cid = conn.execute(kb_candidates.insert().values(
                call_id="", agent="ann", question=f"can I get a paper bill number {i}",
                answer=f"Yes, paper bill answer {i}.", created_at=time.time())).inserted_primary_key[0]  # fmt: skip
        t0 = time.perf_counter()
        store.kb.approve(int(cid), "bench")
        stop = threading.Event()
        while not stop.is_set():
            entry, _ = live.best(f"do you send paper bill number {i} by post")
            if entry is not None and entry["answer"] == f"Yes, paper bill answer {i}.":
                break
            time.sleep(0.005)
        delays.append((time.perf_counter() - t0) * 1000)
    delays.sort()
    print(
        f"KB approval -> live answer: p50 {delays[len(delays) // 2]:.0f} ms, p95 {delays[int(0.95 * (len(delays) - 1))]:.0f} ms "
        f"(refresh every {live.refresh_s * 1000:.0f} ms, re-embedding the entries)"
    )
    store.close()


if __name__ == "__main__":
    main()
