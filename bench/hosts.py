"""The hotline on several hosts (#32): what a lost host costs and what each role costs a call.

The lab of the tests (`tests.lab_hotline`): edge, two media hosts (2 workers each), two speech
hosts, PostgreSQL and a callers' host, each a network namespace on this machine. Measured:

1. Per role, CPU seconds per call-minute and memory (PSS) while `--calls` callers speak
   (a recording with pauses) for `--call-s` seconds: the sizing table.
2. A media host lost (-9, every process) with calls on it: seconds until Kamailio's probing
   marks its workers inactive, until the edge's dispatcher set drops them (heartbeat), and
   until the survivors have closed its records; then new calls: answered, and by whom.
3. PostgreSQL stopped for `--outage-s` during calls: events lost (logged by the workers, not
   in the store afterwards: must be 0), repeats, and the seconds from its return until the
   store has every event.
4. Speech failover: one utterance's decode on a pool of two real speech services (TCP, the
   shared secret), normally and when its service is killed mid-decode: the time it adds.

  .venv/bin/python bench/hosts.py [--calls 8] [--call-s 40] [--outage-s 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import pct  # noqa: E402
from procstats import cpu_s, pss_mb  # noqa: E402

from ivr.telephony.kamailio import dispatcher_state  # noqa: E402
from tests.lab_hotline import SECRET, TALK, LabHotline  # noqa: E402
from tests.sip_helpers import fixture_pcap, free_port, ivr_exe, sipp_call, wait_until  # noqa: E402

ROLES = {
    "edge": ["edge"],
    "media": ["media1", "media2"],
    "speech": ["speech1", "speech2"],
    "store": ["store"],
}


def role_usage(lab: LabHotline) -> dict[str, tuple[float, float]]:
    """Per role: CPU seconds so far and PSS now (MB), over every process of its hosts."""
    out = {}
    for role, hosts in ROLES.items():
        pids = [p for h in hosts for p in lab.lab.pids(h)]
        out[role] = (sum(cpu_s(p) for p in pids), sum(pss_mb(p) for p in pids))
    return out


def call(lab: LabHotline, tmp: Path, pcap: Path, listen_ms: int, calls: int, rate: int, port: int,
         limit: int = 0) -> subprocess.CompletedProcess:  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    return sipp_call(tmp, 5060, pcap, listen_ms, calls=calls, rate=rate, service=TALK, host=lab.a["edge"],
                     local_ip=lab.a["caller"], netns=lab.lab.ns("caller"), media_port=port, limit=limit)  # fmt: skip


def sizing(lab: LabHotline, tmp: Path, n: int, call_s: int) -> None:
    pcap = fixture_pcap(tmp / "talk.pcap", 2, 3, "cmu_arctic_us_aew_a0001.wav")
    time.sleep(3)  # the lab settles after its start (models, prompts)
    before = role_usage(lab)
    t0 = time.monotonic()
    result = call(lab, tmp / "sizing", pcap, call_s * 1000, n, n, 7000)
    wall = time.monotonic() - t0
    after = role_usage(lab)
    minutes = n * wall / 60
    print(
        f"\n1. {n} calls at once for {wall:.0f} s ({minutes:.1f} call-minutes; sipp exit {result.returncode})"
    )
    print("role     CPU-s per call-minute   PSS MB (all hosts of the role)")
    for role in ROLES:
        used = after[role][0] - before[role][0]
        print(f"{role:7s}  {used / minutes:20.2f}   {after[role][1]:8.0f}")
    media = (after["media"][0] - before["media"][0]) / minutes
    print(f"-> a media core holds about {60 / media:.0f} talking calls (CPU-s per call-minute {media:.2f})")


def host_lost(lab: LabHotline, tmp: Path, quiet: Path) -> None:
    box: dict = {}
    talking = threading.Thread(target=lambda: box.update(r=call(lab, tmp / "lost", quiet, 40000, 6, 6, 7400)))
    talking.start()
    wait_until(lambda: lab.sql("select count(*) as n from calls where status = 'live' and host = 'media1'")[0]["n"] >= 2,
               60, "calls on media1")  # fmt: skip
    lab.lab.kill_host("media1")
    t0 = time.monotonic()
    t_kill = time.time()
    during: dict = {}  # calls placed in the first seconds, before the edge knows
    racing = threading.Thread(
        target=lambda: during.update(r=call(lab, tmp / "during", quiet, 1000, 4, 2, 8800))
    )
    racing.start()
    marks: dict[str, float] = {}
    media1 = f"sip:{lab.a['media1']}:"
    while len(marks) < 3 and time.monotonic() - t0 < 60:
        now = time.monotonic() - t0
        state = dispatcher_state(lab.tmp / "edge" / "run")
        dead = [v for uri, v in state.items() if uri.startswith(media1)]
        if "probing" not in marks and dead and all(v == "inactive" for v in dead):
            marks["probing"] = now  # Kamailio's own OPTIONS (or a call's timeout) marked them
        if "probing" not in marks and not dead:
            marks["probing"] = float("nan")  # dropped by the heartbeat before probing marked them
        if "dispatcher set" not in marks and not any(t.startswith(media1) for t in lab.targets()):
            marks["dispatcher set"] = now
        if "records closed" not in marks and lab.hosts().get("media1", {}).get("state") == "lost":
            marks["records closed"] = now
        time.sleep(0.1)  # sampling the edge's state
    talking.join(timeout=120)
    racing.join(timeout=120)
    raced = lab.sql(f"select host from calls where called = '{TALK}' and started_at >= {t_kill} "
                    f"and started_at < {t_kill + 10}")  # fmt: skip
    print("\n2. media1 lost (-9, every process) with calls on it: seconds after the kill until")
    for what in ("probing", "dispatcher set", "records closed"):
        print(f"   {what:15s} {marks.get(what, float('nan')):6.1f} s")
    print(f"   survivors' note: {lab.hosts()['media1']['note']}")
    print(
        f"   4 calls placed 0-2 s after the kill: sipp exit {during['r'].returncode}, answered by "
        f"{sorted(r['host'] for r in raced)} (a worker that does not answer in 3 s: the next one)"
    )
    t1 = time.time()
    after = call(lab, tmp / "after", quiet, 2000, 10, 5, 7800, limit=6)  # media2's 8 lines
    rows = lab.sql(f"select host from calls where called = '{TALK}' and started_at >= {t1}")
    print(
        f"   10 new calls right after: sipp exit {after.returncode}, answered by {sorted({r['host'] for r in rows})} ({len(rows)} records)"
    )
    lab.start_media("media1", 2, 5090)
    wait_until(lambda: sum(t.startswith(media1) for t in lab.targets()) == 2, 120, "media1 back")


def _logged(lab: LabHotline, t0: float) -> dict[str, int]:
    """Events each call's worker has logged (JSONL) so far, calls started since `t0`."""
    return {p.stem: sum(1 for x in p.read_text().splitlines() if x.strip())
            for h in ("media1", "media2") for p in (lab.tmp / h / "calls").glob("*.jsonl")
            if p.stat().st_mtime >= t0 and "-cb" not in p.stem}  # fmt: skip


def _stored(lab: LabHotline, ids: list[str]) -> dict[str, int]:
    quoted = ", ".join(f"'{c}'" for c in ids)
    rows = lab.sql(
        f"select call_id, count(*) as n from call_events where call_id in ({quoted}) group by call_id"
    )
    return {r["call_id"]: r["n"] for r in rows}


def outage(lab: LabHotline, tmp: Path, quiet: Path, outage_s: float) -> None:
    assert lab.pg is not None
    t0 = time.time()
    box: dict = {}
    listen_ms = int(outage_s * 1000) + 20000
    callers = threading.Thread(
        target=lambda: box.update(r=call(lab, tmp / "outage", quiet, listen_ms, 10, 5, 8200))
    )
    callers.start()
    time.sleep(4)  # the calls are on
    lab.pg.stop()
    time.sleep(outage_s)  # the outage itself
    held = _logged(lab, t0)  # what the workers hold when it comes back
    lab.pg.start()
    back = time.monotonic()
    caught_up = float("nan")
    while time.monotonic() - back < 120:
        stored = _stored(lab, list(held))
        if all(stored.get(c, 0) >= n for c, n in held.items()):
            caught_up = time.monotonic() - back
            break
        time.sleep(0.1)  # sampling the store
    callers.join(timeout=outage_s + 120)
    logged = _logged(lab, t0)
    time.sleep(3)  # the last events' writes
    stored = _stored(lab, list(logged))
    lost = sum(max(0, n - stored.get(c, 0)) for c, n in logged.items())
    doubled = sum(max(0, stored.get(c, 0) - n) for c, n in logged.items())
    print(
        f"\n3. PostgreSQL stopped {outage_s:.0f} s during {len(logged)} calls (sipp exit {box['r'].returncode}):"
    )
    print(
        f"   {sum(held.values())} events logged by then; all in the store {caught_up:.2f} s after it was back"
    )
    print(
        f"   at the end: events logged {sum(logged.values())}, in the store {sum(stored.values())}: lost {lost}, doubled {doubled}"
    )


def failover(trials: int) -> None:
    """Two real speech services on 127.0.0.1; a decode sent, its service killed 50 ms into it."""
    from speech.audio import decode_file, resample
    from speech.service.pool import SpeechPool
    from speech.service.protocol import Address
    from tests.conftest import FIXTURES

    samples, rate = decode_file(FIXTURES / "jfk.flac")
    pcm = (resample(samples, rate, 8000) * 32767).astype("<i2").tobytes()
    tmp = Path(tempfile.mkdtemp(prefix="ivr-failover-"))
    env = {**os.environ, "IVR_SPEECH_SECRET": SECRET, "IVR_ASR_WORKERS": "1", "PYTHONUNBUFFERED": "1"}
    ports = [free_port(), free_port()]

    def start(port: int) -> subprocess.Popen:
        return subprocess.Popen([*ivr_exe(), "speech", "--listen", f"127.0.0.1:{port}"], env=env,
                                stdout=open(tmp / f"speech-{port}.log", "a"), stderr=subprocess.STDOUT)  # fmt: skip

    procs = {p: start(p) for p in ports}

    async def go() -> tuple[list[float], list[float]]:
        pool = SpeechPool([Address.parse(f"127.0.0.1:{p}", SECRET) for p in ports], refresh_s=0.5)
        await pool.connect(180)
        await pool.wait_available(60)
        normal, failed = [], []
        for _ in range(trials):
            while not all(c.available for c in pool.clients.values()):
                await asyncio.sleep(0.1)
            t = time.perf_counter()
            await pool.transcribe(pcm, 8000)
            normal.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            job = asyncio.ensure_future(pool.transcribe(pcm, 8000))
            await asyncio.sleep(0)  # sent: in flight on the least loaded service
            victim = next(a for a, n in pool._inflight.items() if n)
            await asyncio.sleep(0.05)  # mid-decode
            procs[victim.port].send_signal(signal.SIGKILL)
            await job
            failed.append((time.perf_counter() - t) * 1000)
            procs[victim.port].wait()
            procs[victim.port] = start(victim.port)
        await pool.close()
        return normal, failed

    try:
        normal, failed = asyncio.run(go())
    finally:
        for p in procs.values():
            p.kill()
    print(f"\n4. speech failover, jfk.flac (11 s) on two services, {trials} trials:")
    print(f"   decode p50 {pct(normal, 50):.0f} ms / p95 {pct(normal, 95):.0f} ms; its service killed 50 ms in: "
          f"p50 {pct(failed, 50):.0f} ms / p95 {pct(failed, 95):.0f} ms (added p50 {pct(failed, 50) - pct(normal, 50):.0f} ms)")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=8)
    ap.add_argument("--call-s", type=int, default=40)
    ap.add_argument("--outage-s", type=float, default=30)
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("network namespaces need root", file=sys.stderr)
        return 2
    failover(args.trials)
    tmp = Path(tempfile.mkdtemp(prefix="ivr-hosts-bench-"))
    lab = LabHotline(tmp, 5090)
    try:
        import numpy as np

        from tests.tools.pcap import write_rtp_pcap

        quiet = tmp / "quiet.pcap"
        write_rtp_pcap(quiet, np.zeros(8000 * 90, np.float32), [])
        sizing(lab, tmp, args.calls, args.call_s)
        host_lost(lab, tmp, quiet)
        outage(lab, tmp, quiet, args.outage_s)
        print(json.dumps({"lab": str(tmp)}))
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
