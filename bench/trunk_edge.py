"""The telephony edge under a carrier's load (#31): calls per second through a trunk, over UDP
and over TLS, and what TLS and SRTP cost.

`ivr serve` runs with a numbers file whose trunk is this machine (127.0.0.1, any port), a
certificate (SIP over TLS on sip_port + 1) and SRTP optional in the workers. A load generator
(asyncio, the same code for UDP and for TLS, so the two compare) plays the carrier: at each
rate of the ramp it places calls for `--step-s` seconds, each INVITE -> 100 -> 200 -> ACK,
then BYE at once. Per step: calls answered, refused (503: a worker's 4 lines all busy, the
trunk's limits) or timed out, INVITE->100 and INVITE->200 p50/p95, and the CPU seconds of
Kamailio and of the workers per call. "Accepted" is the highest rate with no failure.

Then SRTP: `--media-calls` baresip callers at once for `--media-s` seconds, plain RTP, then
SDES-SRTP (mediaenc=srtp-mand), and the workers' CPU seconds per call-minute of each.

  .venv/bin/python bench/trunk_edge.py [--rates 5,10,20,40] [--step-s 8]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import pct  # noqa: E402
from procstats import children, cpu_s  # noqa: E402

from ivr.app import tls  # noqa: E402
from tests.baresip import baresip_call  # noqa: E402
from tests.sip_helpers import speech_wav, start_hotline, stop_hotline  # noqa: E402

PLAN = """\
name: edge bench
start: main
queues: {}
nodes:
  main:
    - say: Hello.
    - hangup:
        reason: resolved
"""
HOLD = """\
name: media bench
start: main
queues: {}
nodes:
  main:
    - hold: 60
    - hangup:
        reason: resolved
"""
NUMBERS = """\
region: GB
dialplans:
  main: plan.yaml
  media: hold.yaml
numbers:
  "+44 20 7946 0000": main
  hotline: media
trunks:
  bench:
    addresses: ["127.0.0.1"]
"""


class Carrier:
    """Places calls over one UDP socket or one TLS connection; the answers are matched by Call-ID."""

    def __init__(self, port: int, proto: str) -> None:
        self.port, self.proto = port, proto
        self.pending: dict[str, dict] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.udp: asyncio.DatagramTransport | None = None
        self.local = ("127.0.0.1", 0)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.proto == "tls":
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the bench's own certificate
            reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=ctx)
            self.local = self.writer.get_extra_info("sockname")[:2]
            asyncio.ensure_future(self._read_stream(reader))
        else:
            carrier = self

            class Proto(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple) -> None:
                    carrier._message(data.decode(errors="replace"))

            self.udp, _ = await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
            self.local = self.udp.get_extra_info("sockname")[:2]

    def _send(self, text: str) -> None:
        data = text.encode()
        if self.writer is not None:
            self.writer.write(data)
        elif self.udp is not None:
            self.udp.sendto(data, ("127.0.0.1", self.port))

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        buf = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith((b"content-length:", b"l:")):
                        length = int(line.split(b":", 1)[1])
                if len(rest) < length:
                    break
                self._message((head + b"\r\n\r\n" + rest[:length]).decode(errors="replace"))
                buf = rest[length:]

    def _message(self, msg: str) -> None:
        lines = msg.split("\r\n")
        hdr = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdr.setdefault(k.strip().lower(), v.strip())
        call_id = hdr.get("call-id", hdr.get("i", ""))
        if not lines[0].startswith("SIP/2.0"):  # a request (BYE from the IVR): say OK
            via = [ln for ln in lines if ln.lower().startswith(("via:", "v:"))]
            keep = "".join(f"{ln}\r\n" for ln in via) + "".join(
                f"{k}: {hdr[k]}\r\n" for k in ("from", "to", "call-id", "cseq") if k in hdr
            )
            self._send(f"SIP/2.0 200 OK\r\n{keep}Content-Length: 0\r\n\r\n")
            return
        call = self.pending.get(call_id)
        if call is None:
            return
        code = int(lines[0].split(" ", 2)[1])
        now = time.monotonic()
        if code == 100 and "trying_ms" not in call:
            call["trying_ms"] = (now - call["t0"]) * 1000
        if "INVITE" in hdr.get("cseq", "") and code >= 200 and "code" not in call:
            call["code"] = code
            call["answer_ms"] = (now - call["t0"]) * 1000
            call["to"] = hdr.get("to", hdr.get("t", ""))
            call["routes"] = [
                ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("record-route:")
            ]
            call["contact"] = hdr.get("contact", hdr.get("m", "")).split("<", 1)[-1].split(">", 1)[0]
            call["done"].set()

    def _request(self, method: str, uri: str, call_id: str, cseq: int, tag: str, to: str, route: str = "",
                 body: str = "") -> str:  # fmt: skip
        host, port = self.local
        transport = "TLS" if self.proto == "tls" else "UDP"
        extra = "Content-Type: application/sdp\r\n" if body else ""
        return (
            f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/{transport} {host}:{port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:+447700900777@127.0.0.1>;tag={tag}\r\nTo: {to}\r\n{route}"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:carrier@{host}:{port};transport={self.proto}>\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
        )

    async def call(self, number: str, timeout_s: float = 8.0) -> dict:
        call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
        host, port = self.local
        sdp = (f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
               f"m=audio {20000 + (port % 5000) * 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")  # fmt: skip
        ruri = f"sip:{number}@127.0.0.1:{self.port}" + (";transport=tls" if self.proto == "tls" else "")
        to = f"<sip:{number}@127.0.0.1>"
        call = {"t0": time.monotonic(), "done": asyncio.Event()}
        self.pending[call_id] = call
        self._send(self._request("INVITE", ruri, call_id, 1, tag, to, body=sdp))
        try:
            await asyncio.wait_for(call["done"].wait(), timeout_s)
        except TimeoutError:
            call["code"] = 0
        code = call["code"]
        if code >= 200:
            route = "".join(f"Route: {r}\r\n" for r in reversed(call.get("routes", [])))
            target = call.get("contact") or ruri
            if code >= 300:
                self._send(self._request("ACK", ruri, call_id, 1, tag, call["to"]))
            else:
                self._send(self._request("ACK", target, call_id, 1, tag, call["to"], route))
                self._send(self._request("BYE", target, call_id, 2, tag, call["to"], route))
        self.pending.pop(call_id, None)
        return call


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def cpu_of(serve_pid: int) -> dict[str, float]:
    """CPU seconds so far of Kamailio's processes and of the workers (their pjsua2 and calls)."""
    out = {"kamailio": 0.0, "workers": 0.0}
    for pid in descendants(serve_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "kamailio" in cmd:
            out["kamailio"] += cpu_s(pid)
        elif " worker " in cmd:
            out["workers"] += cpu_s(pid)
    return out


async def step(port: int, proto: str, rate: float, seconds: float, serve_pid: int) -> dict:
    carrier = Carrier(port, proto)
    await carrier.open()
    before = cpu_of(serve_pid)
    tasks = []
    t0 = time.monotonic()
    n = int(rate * seconds)
    for i in range(n):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        tasks.append(asyncio.ensure_future(carrier.call("+442079460000")))
    calls = await asyncio.gather(*tasks)
    await asyncio.sleep(1.0)  # the BYEs' work
    after = cpu_of(serve_pid)
    if carrier.writer is not None:
        carrier.writer.close()
    if carrier.udp is not None:
        carrier.udp.close()
    ok = [c for c in calls if 200 <= c["code"] < 300]
    return {
        "rate": rate, "calls": n, "answered": len(ok),
        "refused": sum(1 for c in calls if c["code"] >= 300), "timeouts": sum(1 for c in calls if c["code"] == 0),
        "trying_p50": pct([c["trying_ms"] for c in calls if "trying_ms" in c], 50),
        "answer_p50": pct([c["answer_ms"] for c in ok], 50), "answer_p95": pct([c["answer_ms"] for c in ok], 95),
        "kamailio_ms_per_call": 1000 * (after["kamailio"] - before["kamailio"]) / max(n, 1),
        "workers_ms_per_call": 1000 * (after["workers"] - before["workers"]) / max(n, 1),
    }  # fmt: skip


def media(served: dict, tmp: Path, n: int, seconds: int, srtp: bool) -> dict:
    wav = speech_wav(tmp / "quiet.wav", [(None, seconds)])
    pid = served["proc"].pid
    before = cpu_of(pid)
    threads = []
    target = f"sip:hotline@127.0.0.1:{served['sip']}"
    params = ";mediaenc=srtp-mand" if srtp else ""
    for i in range(n):
        d = tmp / f"{'srtp' if srtp else 'rtp'}-{i}"
        d.mkdir(parents=True, exist_ok=True)
        t = threading.Thread(target=lambda d=d: baresip_call(d, target, wav, seconds, account_params=params))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    after = cpu_of(pid)
    return {"calls": n, "seconds": seconds,
            "workers_cpu_s_per_call_minute": (after["workers"] - before["workers"]) / n * 60 / seconds}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="5,10,20,40,80")
    ap.add_argument("--step-s", type=float, default=8.0)
    ap.add_argument("--media-calls", type=int, default=4)
    ap.add_argument("--media-s", type=int, default=20)
    ap.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (logs, records)")
    ap.add_argument("--through", action="store_true", help="run every rate, past the first failure")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(args.keep or d)
        tmp.mkdir(parents=True, exist_ok=True)
        own = tls.self_signed(tmp / "cert", ["127.0.0.1"])
        (tmp / "plan.yaml").write_text(PLAN)
        (tmp / "hold.yaml").write_text(HOLD)  # the media calls: both ways' audio for the whole call
        (tmp / "numbers.yaml").write_text(NUMBERS)
        # the dialplan says Hello. and hangs up; this bench's callers hang up at once
        env = {"IVR_NUMBERS": str(tmp / "numbers.yaml"), "IVR_TLS_CERT": str(own.cert), "IVR_TLS_KEY": str(own.key),
               "IVR_WS_PORT": "0", "IVR_SRTP": "optional"}  # fmt: skip
        served = start_hotline(tmp, lambda t, sip: tmp / "plan.yaml", env=env, workers=2)
        try:
            for proto, port in (("udp", served["sip"]), ("tls", served["sip"] + 1)):
                print(f"\n{proto.upper()} trunk -> 127.0.0.1:{port}")
                print(" rate  calls  ok  refused  timeout  100 p50  200 p50/p95 ms  kamailio ms/call  workers ms/call"
                      "  workers died")  # fmt: skip
                accepted, failed = 0.0, False
                for rate in rates:
                    died = (tmp / "serve.log").read_text().count(" exited with ")
                    r = asyncio.run(step(port, proto, rate, args.step_s, served["proc"].pid))
                    died = (tmp / "serve.log").read_text().count(" exited with ") - died
                    print(f"{r['rate']:5.0f}  {r['calls']:5d}  {r['answered']:3d}  {r['refused']:7d}  {r['timeouts']:7d}  "
                          f"{r['trying_p50'] or 0:7.1f}  {r['answer_p50'] or 0:6.1f}/{r['answer_p95'] or 0:6.1f}  "
                          f"{r['kamailio_ms_per_call']:16.2f}  {r['workers_ms_per_call']:15.1f}  {died:12d}", flush=True)  # fmt: skip
                    failed = failed or bool(r["refused"] or r["timeouts"])
                    if failed and not args.through:
                        break
                    accepted = accepted if failed else rate
                    time.sleep(2)  # the last calls' BYEs
                print(
                    f"accepted through the {proto.upper()} trunk before the first failure: {accepted:.0f} calls/s"
                )
            print(f"\nmedia: {args.media_calls} callers at once for {args.media_s} s")
            for srtp in (False, True):
                m = media(served, tmp, args.media_calls, args.media_s, srtp)
                print(
                    f"  {'SRTP' if srtp else 'RTP '}: workers {m['workers_cpu_s_per_call_minute']:.2f} CPU-s per call-minute"
                )
        finally:
            stop_hotline(served)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
