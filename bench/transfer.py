"""Transfers to human agents (issue 13): how fast a caller reaches an agent, what holding a
queue of callers costs, and how fast the queue hands out agents.

1. `--transfers N`: N sipp callers in turn (two at a time) ask the queue of tests/sip/queue.yaml
   for an agent; two baresip agents, registered with digest auth, answer at once. From each
   call's record: transfer asked -> the agent's phone rings (the briefing synthesised first),
   ringing -> answered (SIP and the phone), answered -> bridged (the briefing heard), and
   transfer -> bridged without the agent's own answer time. p50/p95.
2. `--parked P`: P sipp callers parked on hold (the only agent is away), announcements every
   30 s, for `--park-s` seconds. CPU of the box and of the IVR's processes, PSS, and the hold
   audio's continuity on the wire: RTP gaps over 40 ms per caller-minute (tshark on loopback).
   A waiting caller keeps a line for their agent, so a worker parks 2 callers: P/2 workers.
3. Claim throughput: 50 agents and 400 waiting callers polled by 4 threads (as 4 workers
   would) on SQLite and, when IVR_TEST_PG_URL is set, PostgreSQL: agents handed out per second,
   and the cost of a poll that finds none.

    .venv/bin/python bench/transfer.py --transfers 8 --parked 200
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import ROOT

sys.path.insert(0, str(ROOT))
from procstats import MemorySampler, cpu_busy  # noqa: E402
from sip_load import read_pcap  # noqa: E402

from ivr.records import Store  # noqa: E402
from tests.baresip import BaresipAgent  # noqa: E402
from tests.sip_helpers import (  # noqa: E402
    AGENT_PASSWORD,
    free_port,
    ivr_exe,
    registered,
    serve_auth,
    serve_status,
    sipp_call,
    speech_wav,
    wait_until,
)
from tests.tools.pcap import write_rtp_pcap  # noqa: E402

QUEUE = ROOT / "tests" / "sip" / "queue.yaml"


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def serve(tmp: Path, workers: int, agents: list[str]) -> tuple[subprocess.Popen, str, int, Path]:
    data = tmp / "data"
    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    for name in agents:
        store.agents.add(name, AGENT_PASSWORD, ["billing"])
    store.close()
    api, sip = free_port(socket.SOCK_STREAM), free_port()
    proc = subprocess.Popen(
        [*ivr_exe(), "serve", "--dialplan", str(QUEUE), "--data-dir", str(data), "--port", str(api),
         "--sip-port", str(sip), "--sip-workers", str(workers), "--rtp-port", "46000"],
        stdout=open(tmp / "serve.log", "w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{api}"
    wait_until(
        lambda: serve_status(proc, url, data, tmp / "serve.log"),
        900,
        f"ivr serve with {workers} workers",
        1.0,
    )
    return proc, url, sip, data


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def set_state(api: str, data: Path, name: str, state: str) -> None:
    import httpx

    r = httpx.post(
        f"{api}/api/agents/{name}/state", json={"state": state, "reason": "bench"}, headers=serve_auth(data)
    )
    r.raise_for_status()


def ended_records(data: Path) -> list[dict]:
    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    try:
        return [
            store.calls.get(c["id"]) for c in store.calls.list(limit=1000).calls if c["status"] == "ended"
        ]
    finally:
        store.close()


def transfer_figures(call: dict) -> dict | None:
    ev = call["events"]
    asked = next((e["t_ms"] for e in ev if e["type"] == "transfer" and "outcome" not in e), None)
    offer = next((e for e in ev if e["type"] == "agent_offer" and "outcome" not in e), None)
    bridged = next((e for e in ev if e["type"] == "bridge" and e["state"] == "connected"), None)
    if asked is None or offer is None or bridged is None or "answered_ms" not in bridged:
        return None
    answer_ms = bridged["answered_ms"] - offer["t_ms"]
    return {
        "ring": offer["t_ms"] - asked,
        "answer": answer_ms,
        "briefing": bridged["t_ms"] - bridged["answered_ms"],
        "briefing_audio": offer.get("briefing_ms", 0),
        "total_less_answer": bridged["t_ms"] - asked - answer_ms,
    }


def bench_transfers(tmp: Path, n: int) -> None:
    proc, api, sip, data = serve(tmp, 1, ["ann", "bob"])
    phones = []
    try:
        quiet = speech_wav(tmp / "agent.wav", [(None, 6)])  # each agent talks 6 s, then hangs up
        for name in ("ann", "bob"):
            phones.append(
                BaresipAgent(tmp, quiet, seconds=3600, register=(name, AGENT_PASSWORD, sip), name=name)
            )
        wait_until(lambda: len(registered(data / "run")) >= 2, 30, "both agents registered")
        for name in ("ann", "bob"):
            set_state(api, data, name, "available")
        pcap = tmp / "caller.pcap"
        write_rtp_pcap(pcap, np.zeros(8000 * 20, np.float32))
        done = 0
        while done < n:
            pair = min(2, n - done)
            threads = [
                threading.Thread(target=sipp_call, args=(tmp / f"c{done + i}", sip, pcap, 22000),
                                 kwargs={"caller": f"+4477009{done + i:05d}", "media_port": free_port()})
                for i in range(pair)
            ]  # fmt: skip
            for i, t in enumerate(threads):
                (tmp / f"c{done + i}").mkdir()
                t.start()
            for t in threads:
                t.join(120)
            done += pair
            wait_until(lambda n=done: len(ended_records(data)) >= n, 60, "the records")
            time.sleep(
                6
            )  # the agents' wrap-up (5 s in queue.yaml) between rounds: a bench pacing, not a race
        figures = [f for f in (transfer_figures(c) for c in ended_records(data)) if f]
    finally:
        for p in phones:
            p.stop()
        stop(proc)
    print(f"\n## transfers: {len(figures)} of {n} calls bridged (1 worker, 2 agents answering at once)")
    for key, label in (("ring", "transfer asked -> agent ringing"), ("answer", "ringing -> answered (SIP + phone)"),
                       ("briefing", "answered -> bridged (briefing heard)"),
                       ("total_less_answer", "transfer -> bridged, less the answer time")):  # fmt: skip
        xs = [f[key] for f in figures]
        print(f"  {label:<44} p50 {pct(xs, 50):6.0f} ms   p95 {pct(xs, 95):6.0f} ms")
    print(f"  briefing audio: mean {statistics.mean([f['briefing_audio'] for f in figures]) / 1000:.1f} s, "
          f"max {max(f['briefing_audio'] for f in figures) / 1000:.1f} s (limit 5 s)")  # fmt: skip


def rtp_gaps(pcap: Path, caller_ports: set[int], gap_s: float = 0.040) -> tuple[int, float, int, list[float]]:
    """(gaps over `gap_s` in the IVR -> caller streams, caller-minutes covered, streams, the
    gaps' lengths in s)."""
    streams: dict[int, list[float]] = {}
    for t, sport, dport, pt, _payload in read_pcap(pcap):
        if dport in caller_ports and pt in (0, 8, 9):  # audio (G.711, G.722), not RTCP or DTMF events
            streams.setdefault(sport, []).append(t)
    gaps, minutes, sizes = 0, 0.0, []
    for ts in streams.values():
        ts.sort()
        d = np.diff(np.array(ts))
        sizes.extend(d[d > gap_s].tolist())
        gaps += int((d > gap_s).sum())
        minutes += (ts[-1] - ts[0]) / 60 if len(ts) > 1 else 0.0
    return gaps, minutes, len(streams), sizes


def bench_parked(tmp: Path, n: int, park_s: int) -> None:
    workers = (n + 1) // 2
    t0 = time.monotonic()
    proc, api, sip, data = serve(tmp, workers, ["ann"])
    started_s = time.monotonic() - t0
    phone = None
    try:
        quiet = speech_wav(tmp / "agent.wav", [(None, 5)])
        phone = BaresipAgent(tmp, quiet, seconds=3600, register=("ann", AGENT_PASSWORD, sip), name="ann")
        wait_until(lambda: len(registered(data / "run")) >= 1, 30, "ann registered")
        set_state(api, data, "ann", "away")  # signed in, so callers wait (no callback offer at once)
        pcap = tmp / "parked.pcap"
        write_rtp_pcap(pcap, np.zeros(8000 * 2, np.float32))
        media = 30000
        cap = tmp / "hold.pcap"
        tshark = subprocess.Popen(
            ["tshark", "-i", "lo", "-F", "pcap", "-w", str(cap), "-f", f"udp dst portrange {media}-{media + 4 * n + 10}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(2)  # tshark gives no ready signal: time to open the interface (bench only)
        memory = MemorySampler(api, proc.pid, data / "run")
        idle = memory.sample()
        busy0, total0 = cpu_busy()
        sipp = sipp_call(tmp, sip, pcap, park_s * 1000, caller="+447700900555", media_port=media, calls=n,
                         rate=10, rate_period_ms=1000)  # fmt: skip
        busy1, total1 = cpu_busy()
        peak = memory.stop()
        end = MemorySampler(api, proc.pid, data / "run").sample()
        tshark.send_signal(signal.SIGINT)
        tshark.wait(timeout=30)
        elapsed = (total1 - total0) / (os.cpu_count() or 1) / os.sysconf("SC_CLK_TCK")
        ports = {media + i for i in range(4 * n + 10)}
        gaps, minutes, streams, sizes = rtp_gaps(cap, ports)
        calls = ended_records(data)
        waited = sum(1 for c in calls if any(e["type"] == "queue_join" for e in c["events"]))
        announced = sum(sum(1 for e in c["events"] if e["type"] == "queue_update") for c in calls)
    finally:
        if phone is not None:
            phone.stop()
        stop(proc)
    w = peak.get("workers") or [0.0]
    worker_cpu = (end["cpu"]["workers"] - idle["cpu"]["workers"]) / max(1e-6, elapsed) / (os.cpu_count() or 1)
    print(f"\n## {n} callers parked on hold for {park_s} s ({workers} workers, started in {started_s:.0f} s)")
    print(f"  sipp: {'ok' if sipp.returncode == 0 else f'exit {sipp.returncode}'}; {waited} calls queued, "
          f"{announced} position announcements")  # fmt: skip
    print(f"  CPU of the box {(busy1 - busy0) / max(1, total1 - total0):.0%} (workers {worker_cpu:.0%})")
    print(f"  PSS at peak: workers {sum(w):.0f} MB ({sum(w) / len(w):.0f} MB each), speech {peak.get('speech', 0):.0f} MB, "
          f"kamailio {peak.get('kamailio', 0):.0f} MB -> {peak.get('total', 0) / max(1, n):.1f} MB per parked caller")  # fmt: skip
    print(f"  hold audio: {streams} streams, {minutes:.0f} caller-minutes, {gaps} gaps > 40 ms "
          f"= {gaps / max(1e-9, minutes):.2f} per caller-minute"
          + (f" (p50 {1000 * pct(sizes, 50):.0f} ms, longest {1000 * max(sizes):.0f} ms)" if sizes else ""))  # fmt: skip


def bench_claims(url: str, label: str, agents_n: int = 50, callers_n: int = 400, threads_n: int = 4) -> None:
    from ivr.acd.engine import Acd
    from ivr.acd.policy import AgentState, QueueRules

    store = Store(url)
    run = f"{label[:2].lower()}{int(time.time()) % 100000}"  # a PostgreSQL may hold other runs' rows
    skill = f"bench{run}"
    rules = {skill: QueueRules(skill, frozenset({skill}), wrap_up_s=0)}
    acd = Acd(store.engine, rules)
    ids = [f"{run}-{i}" for i in range(callers_n)]
    for i, cid in enumerate(ids):
        acd.join(cid, skill, 100 if i % 10 == 0 else 0)
    t = time.perf_counter()
    for cid in ids:  # every caller's once-a-second poll while no agent is free: a read, no lock
        assert acd.claim(cid) is None
    idle_ms = 1000 * (time.perf_counter() - t) / len(ids)
    for i in range(agents_n):
        store.agents.add(f"{run}a{i:02d}", "correct horse", [skill])
        store.agents.set_state(f"{run}a{i:02d}", AgentState.AVAILABLE)
    claimed: dict[str, str] = {}
    lock = threading.Lock()
    polls = {"empty": 0, "empty_s": 0.0}

    def worker(mine: list[str]) -> None:
        waiting = list(mine)
        while waiting:
            for cid in list(waiting):
                t = time.perf_counter()
                got = acd.claim(cid)
                if got is None:
                    with lock:
                        polls["empty"] += 1
                        polls["empty_s"] += time.perf_counter() - t
                    continue
                with lock:
                    assert cid not in claimed
                    claimed[cid] = got.name
                acd.answered(cid, got.name)
                acd.call_ended(got.name)  # a wrap-up of 0 s: free again at the next claim
                waiting.remove(cid)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(ids[k::threads_n],)) for k in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.perf_counter() - t0
    store.close()
    print(f"  {label:<10} {len(claimed)} callers given an agent in {took:.1f} s = {len(claimed) / took:.0f} claims/s; "
          f"a poll with no agent free {idle_ms:.2f} ms; one that lost the race {1000 * polls['empty_s'] / max(1, polls['empty']):.1f} ms "
          f"({polls['empty']} polls)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=int, default=8)
    ap.add_argument("--parked", type=int, default=200)
    ap.add_argument("--park-s", type=int, default=120)
    ap.add_argument("--skip", default="", help="comma list of transfers,parked,claims to leave out")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="ivr-transfer-bench-"))
    if "claims" not in skip:
        print(f"## queue claims: 50 agents, 400 waiting callers, 4 threads polling ({os.cpu_count()} cores)")
        bench_claims(f"sqlite:///{tmp}/claims.sqlite3", "SQLite")
        if os.environ.get("IVR_TEST_PG_URL"):
            bench_claims(os.environ["IVR_TEST_PG_URL"], "PostgreSQL")
    if "transfers" not in skip:
        bench_transfers(tmp / "transfers", args.transfers)
    if "parked" not in skip:
        bench_parked(tmp / "parked", args.parked, args.park_s)


if __name__ == "__main__":
    main()
