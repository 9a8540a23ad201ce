"""SIP load benchmark: N concurrent sipp callers against `ivr serve` (Kamailio + workers).

Each caller waits for the greeting, says "what's my balance please", waits for the
answer, then says an account number. tshark captures the RTP on loopback; for every
answer, the latency is from the caller's end of speech (the last frame of the caller's
own audio within 35 dB of its loudest, as sent on the wire) to the first non-silent IVR
packet the caller receives.
Reports calls held, CPU, and latency p50/p95 for each N, and the fewest calls that were
up at the moment of any measured end of speech (all N: the figure is for N at once).

`--spread S`: the N calls start evenly over S seconds. 2 (the default) makes a burst: every
caller speaks at nearly the same moment, so N end-of-turn decodes fall due together (the
worst case). 8 staggers them as independent callers would be, turn ends spread over the
call, while all N calls are still up at every measured turn (the calls last 27 s).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from common import ROOT, pct
from procstats import MemorySampler, cpu_busy

sys.path.insert(0, str(ROOT))
from speech.tts import PiperTts  # noqa: E402
from tests.sip_helpers import (  # noqa: E402
    free_port,
    ivr_exe,
    open_hotline,
    serve_auth,
    serve_status,
    sipp_call,
    wait_until,
)
from tests.tools.pcap import write_rtp_pcap  # noqa: E402

# (silence before, words): the second answer comes ~2 s after the account-number prompt ends
TURNS = [(10.0, "What's my balance please?"), (5.5, "one zero zero zero zero two")]
_MULAW = None


def mulaw_table() -> np.ndarray:
    global _MULAW
    if _MULAW is None:
        u = ~np.arange(256, dtype=np.uint8)
        sign = u & 0x80
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        mag = ((mantissa.astype(np.int32) << 3) + 0x84) << exponent
        _MULAW = np.where(sign != 0, -(mag - 0x84), mag - 0x84).astype(np.float32) / 32768.0
    return _MULAW


def speech_end_s(speech: np.ndarray, rate: int = 8000, below_peak_db: float = 35.0) -> float:
    """Where the caller stops talking: the end of the last 20 ms frame within `below_peak_db`
    of the utterance's loudest frame (piper's clips end with up to 0.3 s of fading breath
    and silence, which is not speech: timing from the clip's end would flatter the IVR)."""
    hop = rate // 50
    frames = len(speech) // hop
    rms = np.sqrt(np.mean(speech[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-12)
    loud = np.nonzero(db >= db.max() - below_peak_db)[0]
    return (int(loud[-1]) + 1) * hop / rate


def caller_audio(tts: PiperTts) -> tuple[np.ndarray, list[float]]:
    parts, ends, t = [], [], 0.0
    for silence_s, text in TURNS:
        speech = tts.synthesize(text, 8000)
        parts += [np.zeros(int(silence_s * 8000), np.float32), speech]
        ends.append(t + silence_s + speech_end_s(speech))
        t += silence_s + len(speech) / 8000
    parts.append(np.zeros(8 * 8000, np.float32))
    return np.concatenate(parts), ends


def read_pcap(path: Path):  # type: ignore[no-untyped-def]
    data = path.read_bytes()
    linktype = struct.unpack("<I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        ts_s, ts_us, incl, _ = struct.unpack("<IIII", data[off : off + 16])
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        ip = (
            pkt[14:] if linktype == 1 else pkt[16:] if linktype == 113 else pkt[4:]
        )  # ethernet / linux cooked / null
        if len(ip) < 28 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        sport, dport = struct.unpack("!HH", ip[ihl : ihl + 4])
        rtp = ip[ihl + 8 :]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        yield ts_s + ts_us / 1e6, sport, dport, rtp[1] & 0x7F, rtp[12:]


def latencies(pcap: Path, caller_ports: set[int], ends: list[float]) -> tuple[list[float], int, int]:
    table = mulaw_table()
    streams: dict[int, dict[str, list]] = {}
    for t, sport, dport, pt, payload in read_pcap(pcap):
        if pt != 0:
            continue
        # sipp may send every call from one media port: a call is keyed by the IVR's RTP port
        if sport in caller_ports:  # caller -> IVR
            streams.setdefault(dport, {"out": [], "in": []})["out"].append(t)
        elif dport in caller_ports:  # IVR -> caller
            level = float(np.sqrt(np.mean(table[np.frombuffer(payload, np.uint8)] ** 2)))
            streams.setdefault(sport, {"out": [], "in": []})["in"].append((t, level))
    found: list[list[float]] = [[] for _ in ends]  # per turn
    answered = 0
    spans = [(s["out"][0], s["out"][-1]) for s in streams.values() if s["out"]]
    fewest_up = len(spans)
    for s in streams.values():
        if not s["out"]:
            continue
        t0 = s["out"][0]
        answered += 1
        for turn, end in enumerate(ends):
            eos = t0 + end
            first = next((t for t, lv in s["in"] if t > eos and lv > 0.01), None)
            if first is not None and first - eos < 10:
                found[turn].append((first - eos) * 1000)
                fewest_up = min(fewest_up, sum(a <= eos <= b for a, b in spans))
    return found, answered, fewest_up


def start_serve(n: int, tmp: Path, dialplan: Path, workers: int) -> tuple[subprocess.Popen, int, int, Path]:
    """`ivr serve` with `workers` workers (0: its own sizing); (the process, API port, SIP port,
    data folder) once it answers."""
    api, sip = free_port(socket.SOCK_STREAM), free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    data = tmp / f"data{n}"
    log = open(tmp / f"serve{n}.log", "w")
    serve = subprocess.Popen(
        [
            *ivr_exe(), "serve", "--dialplan", str(dialplan), "--data-dir", str(data), "--port", str(api),
            "--sip-port", str(sip), *(["--sip-workers", str(workers)] if workers else []), "--rtp-port", "46000",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip

    def ready() -> bool:
        return serve_status(serve, f"http://127.0.0.1:{api}", data, tmp / f"serve{n}.log") is not None

    try:
        wait_until(ready, 600, f"{workers or 'the default'} workers")
    except BaseException:
        serve.kill()
        raise
    return serve, api, sip, data


def capture(path: Path, media_base: int, n: int) -> subprocess.Popen:
    """tshark writing the calls' RTP on loopback to `path`."""
    tshark = subprocess.Popen(
        ["tshark", "-i", "lo", "-F", "pcap", "-w", str(path), "-f", f"udp portrange {media_base}-{media_base + 4 * n + 10}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(2)  # tshark has no ready signal on stdout: give it time to open the interface
    return tshark


def run_n(
    n: int,
    pcap: Path,
    ends: list[float],
    length_s: float,
    tmp: Path,
    dialplan: Path,
    spread_s: float,
    workers_arg: str = "fit",
) -> dict:
    workers = (
        max(1, math.ceil(n / 4)) if workers_arg == "fit" else 0 if workers_arg == "auto" else int(workers_arg)
    )
    serve, api, sip, data = start_serve(n, tmp, dialplan, workers)
    base = f"http://127.0.0.1:{api}"
    try:
        if not workers:
            workers = len(httpx.get(f"{base}/api/sip", timeout=5, headers=serve_auth(data)).json()["workers"])
        media_base = 30000
        cap = tmp / f"rtp{n}.pcap"
        tshark = capture(cap, media_base, n)
        idle_mem = MemorySampler(base, serve.pid, data / "run").sample()
        memory = MemorySampler(base, serve.pid, data / "run")
        busy0, total0 = cpu_busy()
        sipp = sipp_call(
            tmp, sip, pcap, listen_ms=int(length_s * 1000) + 3000, caller="+447700900002", media_port=media_base,
            calls=n, rate=n, rate_period_ms=max(1, int(spread_s * 1000)),
        )  # fmt: skip
        busy1, total1 = cpu_busy()
        peak = memory.stop()
        end_mem = MemorySampler(base, serve.pid, data / "run").sample()
        elapsed = max(1e-6, (total1 - total0) / (os.cpu_count() or 1) / os.sysconf("SC_CLK_TCK"))
        share = {
            k: (end_mem["cpu"][k] - idle_mem["cpu"][k]) / elapsed / (os.cpu_count() or 1)
            for k in ("workers", "speech")
        }
        tshark.send_signal(signal.SIGINT)
        tshark.wait(timeout=20)
        ok = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", sipp.stdout)
        failed = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", sipp.stdout)
        ports = {media_base + 2 * i for i in range(4 * n + 4)} | {media_base + i for i in range(4 * n + 4)}
        lat, answered, fewest_up = latencies(cap, ports, ends)
        return {
            "n": n, "workers": workers, "ok": int(ok.group(1)) if ok else 0,
            "failed": int(failed.group(1)) if failed else n, "answered_streams": answered,
            "cpu": (busy1 - busy0) / max(1, total1 - total0), "lat": lat, "up": fewest_up, "mem": peak,
            "idle_mem": idle_mem, "cpu_share": share,
        }  # fmt: skip
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=40)
        except subprocess.TimeoutExpired:
            serve.kill()


def memory_line(run: dict) -> str:
    m, idle = run["mem"], run["idle_mem"]
    w = m.get("workers") or [0.0]
    per_call = (m["total"] - idle["total"]) / max(1, run["n"])
    return (
        f"PSS at peak: workers {sum(w):.0f} MB ({max(w):.0f} MB the largest, {sum(w) / len(w):.0f} mean), "
        f"speech service {m.get('speech', 0):.0f} MB, serve {m.get('serve', 0):.0f} MB, Kamailio "
        f"{m.get('kamailio', 0):.0f} MB, total {m['total']:.0f} MB; idle total {idle['total']:.0f} MB "
        f"-> {per_call:.1f} MB per connected call; CPU of the box: workers {run['cpu_share']['workers']:.0%}, "
        f"speech service {run['cpu_share']['speech']:.0%}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", default="4,8,16,32", help="comma-separated N")
    ap.add_argument("--rounds", type=int, default=1, help="runs per N, pooled (more latency samples)")
    ap.add_argument("--spread", type=float, default=2.0, help="seconds over which the N calls start")
    ap.add_argument(
        "--silent",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="callers hold for SECONDS in silence (the hold verb: pjmedia plays the music): CPU and memory",
    )
    ap.add_argument(
        "--workers",
        default="fit",
        help="'fit' (the default): N/4 workers; 'auto': what `ivr serve` sizes for the machine; or a number",
    )
    args = ap.parse_args()
    for tool in ("sipp", "tshark", "kamailio"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is missing: run `make test` (it installs the Debian packages)")
    tmp = Path(tempfile.mkdtemp(prefix="sipload"))
    dialplan = open_hotline(tmp)
    if args.silent:  # a greeting, then the caller holds in silence, hearing the hold music
        dialplan = tmp / "holding.yaml"
        dialplan.write_text(
            "start: main\nqueues: {general: {skills: [general]}}\nnodes:\n  main:\n"
            "    - hold: {seconds: 3600, say: Thank you for calling. Please hold.}\n"
        )
        audio, ends = np.zeros(int(args.silent * 8000), np.float32), []
    else:
        audio, ends = caller_audio(PiperTts())
    pcap = tmp / "caller.pcap"
    length_s = write_rtp_pcap(pcap, audio)
    print(
        f"SIP load benchmark ({os.cpu_count()} cores; each caller: 2 questions, {length_s:.0f} s of RTP;"
        f" the N calls start over {args.spread:g} s)"
    )
    print("  N  workers  held  failed  up   CPU   first IVR audio after end of speech (on the wire)")
    for n in (int(x) for x in args.calls.split(",")):
        runs = [
            run_n(n, pcap, ends, length_s, tmp / f"round{i}", dialplan, args.spread, args.workers)
            for i in range(args.rounds)
        ]
        r = {
            "n": n,
            "workers": runs[0]["workers"],
            "ok": sum(x["ok"] for x in runs),
            "failed": sum(x["failed"] for x in runs),
            "cpu": sum(x["cpu"] for x in runs) / len(runs),
            "up": min(x["up"] for x in runs),
            "lat": [sum((x["lat"][t] for x in runs), []) for t in range(len(ends))],
        }
        if not ends:
            print(
                f"{r['n']:>3}  {r['workers']:>7}  {r['ok']:>4}  {r['failed']:>6}    -  {r['cpu']:>4.0%}  (silent)"
            )
            print("       " + memory_line(runs[-1]), flush=True)
            continue
        lat = [x for turn in r["lat"] for x in turn]
        per_turn = ", ".join(f"turn {i + 1} p50 {pct(t, 50):.0f}" for i, t in enumerate(r["lat"]) if t)
        print(
            f"{r['n']:>3}  {r['workers']:>7}  {r['ok']:>4}  {r['failed']:>6}  {r['up']:>3}  {r['cpu']:>4.0%}  "
            f"p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms over {len(lat)} answers ({per_turn})",
            flush=True,
        )
        print("       " + memory_line(runs[-1]), flush=True)


if __name__ == "__main__":
    main()
