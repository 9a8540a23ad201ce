"""Soak: thousands of sipp callers against `ivr serve`, 20 at a time, each hanging up at a
random moment (during the greeting, mid-utterance, while a prompt plays).

Prints: calls placed and their SIP result, crashes (worker restarts, serve alive), records
written vs calls placed (every answered call must leave exactly one record, ended), the
records' outcomes, and worker / speech-service memory (PSS) at the start and the end.

    .venv/bin/python bench/soak.py --calls 3000 --concurrent 20
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT))
from procstats import pss_mb  # noqa: E402

from ivr.records import Store  # noqa: E402
from tests.sip_helpers import (  # noqa: E402
    fixture_pcap,
    free_port,
    ivr_exe,
    open_hotline,
    serve_auth,
    serve_status,
    wait_until,
)


def scenario(tmp: Path, pcap: Path, min_ms: int, max_ms: int) -> Path:
    """uac_speech.xml with the caller's BYE after a uniformly random pause (an IVR that hangs
    up first is answered: that call ends early, and is counted by sipp as failed)."""
    xml = (ROOT / "tests" / "sip" / "uac_speech.xml").read_text().replace("@PCAP@", str(pcap))
    xml = xml.replace(
        '<recv request="BYE" timeout="@PAUSE_MS@" ontimeout="caller_bye"/>',
        f'<pause distribution="uniform" min="{min_ms}" max="{max_ms}"/>\n  <nop next="caller_bye"/>',
    )
    path = tmp / "uac_soak.xml"
    path.write_text(xml)
    return path


def sample(api: str, data: Path) -> dict:
    import httpx

    status = httpx.get(f"{api}/api/sip", timeout=10, headers=serve_auth(data)).json()
    workers = [w for w in status["workers"]]
    return {
        "worker_pss": [round(pss_mb(w["pid"]), 1) for w in workers],
        "restarts": sum(w["restarts"] for w in workers),
        "speech_pss": round(pss_mb(status["speech"]["pid"]), 1),
        "speech_restarts": status["speech"]["restarts"],
    }


def run_sipp(
    tmp: Path, sip_port: int, pcap: Path, csv: Path, args: argparse.Namespace
) -> subprocess.CompletedProcess:
    """sipp's callers, `args.concurrent` at a time, each hanging up at a random moment."""
    return subprocess.run(
        ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(scenario(tmp, pcap, args.min_ms, args.max_ms)),
         "-inf", str(csv), "-s", "hotline", "-m", str(args.calls), "-l", str(args.concurrent), "-r", "10",
         "-i", "127.0.0.1", "-p", str(free_port()), "-mp", "32000", "-nostdin", "-timeout", f"{args.calls * 2}s",
         "-trace_stat", "-stf", str(tmp / "stat.csv")],
        capture_output=True, text=True, cwd=tmp,
    )  # fmt: skip


def sipp_counts(stat_csv: Path) -> tuple[int, int, int]:
    """Calls placed, successful, failed, from sipp's statistics file."""
    lines = stat_csv.read_text().strip().splitlines()
    stat = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))
    placed, ok, failed = (int(stat[k]) for k in ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)"))
    return placed, ok, failed


def report(args: argparse.Namespace, took: float, placed: int, ok: int, failed: int, start: dict, end: dict,
           alive: bool, rows: list, total: int, outcomes: collections.Counter, series: list) -> None:  # fmt: skip
    """The soak's figures: calls, crashes, records, outcomes, memory along the run."""
    print(
        f"soak: {args.calls} calls, {args.concurrent} at a time, hang-up uniformly {args.min_ms}-{args.max_ms} ms, {took:.0f} s"
    )
    print(
        f"  sipp: placed {placed}, successful {ok}, failed {failed} (an IVR that hung up first counts as failed)"
    )
    print(f"  crashes: worker restarts {end['restarts'] - start['restarts']}, speech restarts "
          f"{end['speech_restarts'] - start['speech_restarts']}, serve alive: {alive}")  # fmt: skip
    print(f"  records: {len(rows)} written for {placed} calls placed ({total} rows in the store); all ended")
    print(f"  outcomes: {dict(outcomes)}")
    ws, we = start["worker_pss"], end["worker_pss"]
    print(
        f"  worker PSS MB: start {min(ws):.0f}-{max(ws):.0f} (sum {sum(ws):.0f}), end {min(we):.0f}-{max(we):.0f} (sum {sum(we):.0f})"
    )
    if series:
        step = max(1, len(series) // 8)
        print(
            "  workers' PSS sum along the run (s: MB): "
            + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in series[::step])
        )
    print(f"  speech service PSS MB: start {start['speech_pss']:.0f}, end {end['speech_pss']:.0f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--concurrent", type=int, default=20)
    ap.add_argument("--min-ms", type=int, default=200, help="shortest time before the caller hangs up")
    ap.add_argument(
        "--max-ms", type=int, default=14000, help="longest (the greeting, the caller's words, the answer)"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ivr-soak-"))
    data = tmp / "data"
    pcap = fixture_pcap(tmp / "caller.pcap", lead_s=1.5, tail_s=12.0)
    api_port, sip_port = free_port(socket.SOCK_STREAM), free_port()
    log = open(tmp / "serve.log", "w")
    serve = subprocess.Popen(
        [*ivr_exe(), "serve", "--dialplan", str(open_hotline(tmp)), "--data-dir", str(data), "--port", str(api_port),
         "--sip-port", str(sip_port), "--rtp-port", "46000"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(
            lambda: serve_status(serve, api, data, tmp / "serve.log"), 600, "ivr serve", interval_s=0.5
        )
        start = sample(api, data)
        csv = tmp / "callers.csv"
        csv.write_text("SEQUENTIAL\n+447700900003\n")
        t0 = time.monotonic()
        series: list[tuple[float, float]] = []
        sampling = threading.Event()

        def sampler() -> None:  # worker memory along the soak: growth, not warm-up
            while not sampling.wait(30):
                try:
                    series.append((time.monotonic() - t0, sum(sample(api, data)["worker_pss"])))
                except Exception:
                    pass

        threading.Thread(target=sampler, daemon=True).start()
        sipp = run_sipp(tmp, sip_port, pcap, csv, args)
        took = time.monotonic() - t0
        sampling.set()

        placed, ok, failed = sipp_counts(tmp / "stat.csv")

        store = Store(f"sqlite:///{data}/ivr.sqlite3")

        def settled() -> list[dict] | None:
            rows = store.calls.list(limit=args.calls + 100).calls
            return rows if rows and all(r["status"] == "ended" for r in rows) else None

        rows = wait_until(settled, 120, "every record to be ended")
        end = sample(api, data)
        outcomes = collections.Counter(r["outcome"] for r in rows)
        total = store.calls.count()
        store.close()
        alive = serve.poll() is None
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
    report(args, took, placed, ok, failed, start, end, alive, rows, total, outcomes, series)
    if sipp.returncode not in (0, 1):
        print(sipp.stderr[-2000:], file=sys.stderr)
    return 0 if alive and len(rows) == placed and end["restarts"] == start["restarts"] else 1


if __name__ == "__main__":
    sys.exit(main())
