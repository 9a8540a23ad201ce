"""The delay on a browser agent's call, hop by hop (#30): a baresip caller sends a beep every
second, the agent's page (Chromium, JsSIP) sends back a beep of another pitch every second, and
tshark on the loopback times each beep on each leg:

    caller -> worker -> rtpengine -> the page (and its jitter buffer, from getStats)
    the page -> rtpengine -> worker -> caller

rtpengine's own share is timed per packet: the same RTP timestamp going in (plain RTP from the
worker) and out (SRTP to the browser; its header is in clear), and back. Prints p50/p95 of each.

    .venv/bin/python bench/softphone_delay.py [--seconds S]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
from common import pct

from tests.baresip import baresip_call
from tests.browser import CHROMIUM, FLAGS, Page
from tests.sip_helpers import AGENT_PASSWORD, bridge_plan, free_port, start_hotline, stop_hotline
from tests.wire import Capture, Rtp, pcmu, rtp_packets, udp_owners

CALLER_HZ, PAGE_HZ = 1000.0, 1500.0
KEEP = """(() => {
  const Native = window.RTCPeerConnection;
  window.pcs = [];
  window.RTCPeerConnection = function (...args) { const pc = new Native(...args); window.pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Native.prototype;
})();"""
JITTER = """async () => {
  for (const pc of window.pcs.slice().reverse()) {
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.jitterBufferEmittedCount)
        return [s.jitterBufferDelay / s.jitterBufferEmittedCount, s.packetsReceived, s.packetsLost];
    }
  }
  return null;
}"""


def beeps(path: Path, hz: float, seconds: float, rate: int) -> Path:
    """200 ms of `hz` every second from 0.5 s, silence between."""
    t = np.arange(int(seconds * rate)) / rate
    on = (t % 1.0 >= 0.5) & (t % 1.0 < 0.7)
    sf.write(path, (0.4 * np.sin(2 * np.pi * hz * t) * on).astype(np.float32), rate, subtype="PCM_16")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=30, help="how long the caller stays on")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        served = start_hotline(tmp, bridge_plan, env={"IVR_WS_PORT": str(free_port(socket.SOCK_STREAM))})
        mic = beeps(tmp / "agent.wav", PAGE_HZ, 10, 16000)
        caller = beeps(tmp / "caller.wav", CALLER_HZ, args.seconds + 5, 8000)
        flags = [*FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-audio-capture={mic}", "--allow-loopback-in-peer-connection",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"]  # fmt: skip
        try:
            with sync_playwright() as pw, Capture(tmp / "call.pcap"):
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
                page = Page(browser, served["api"])
                page.context.add_init_script(KEEP)
                page.sign_in("ann", AGENT_PASSWORD)
                expect(page.page.locator(".phone")).to_contain_text("registered", timeout=30000)
                done = threading.Event()
                target = f"sip:hotline@127.0.0.1:{served['sip']}"
                threading.Thread(
                    target=lambda: (baresip_call(tmp, target, caller, args.seconds), done.set()), daemon=True
                ).start()
                answer = page.page.get_by_role("button", name="Answer")
                expect(answer).to_be_visible(timeout=30000)
                answer.click()
                page.page.wait_for_function("() => window.pcs.some(p => p.connectionState === 'connected')")
                time.sleep(5)  # the talk itself: what is measured happens meanwhile
                owners = udp_owners()
                jitter = page.page.evaluate(JITTER)
                done.wait(args.seconds + 60)
                page.close()
                browser.close()
        finally:
            stop_hotline(served)
        report(rtp_packets(tmp / "call.pcap"), owners, jitter)


def report(packets: list[Rtp], owners: dict[int, str], jitter: list[float] | None) -> None:
    def who(port: int) -> str:
        name = owners.get(port, "")
        if name == "rtpengine" or name == "baresip":
            return name
        if "chrom" in name:
            return "page"
        if name:
            return "worker"
        return "baresip"  # (its media socket is not on 127.0.0.1 in ss; the only other RTP party)

    legs: dict[tuple[str, str], list[Rtp]] = defaultdict(list)
    for p in packets:
        legs[(who(p.src), who(p.dst))].append(p)
    print("Browser agent's call, delay hop by hop (tshark on lo; beeps each way every second)")
    used = [("baresip", "worker"), ("worker", "rtpengine"), ("rtpengine", "page"), ("page", "rtpengine"),
            ("rtpengine", "worker"), ("worker", "baresip")]  # fmt: skip
    print("  RTP packets: " + ", ".join(f"{a}->{b} {len(legs[(a, b)])}" for a, b in used))
    to_page = _hops(legs, [("baresip", "worker"), ("worker", "rtpengine")], CALLER_HZ)
    back = _hops(legs, [("rtpengine", "worker"), ("worker", "baresip")], PAGE_HZ)
    through_out = _through(legs[("worker", "rtpengine")], legs[("rtpengine", "page")])
    through_in = _through(legs[("page", "rtpengine")], legs[("rtpengine", "worker")])
    _line("caller -> worker -> rtpengine (the worker's bridge)", to_page)
    _line("rtpengine, worker -> page (RTP in, SRTP out, per packet)", through_out)
    if jitter:
        print(f"  the page's jitter buffer (getStats): {jitter[0] * 1000:.0f} ms average, "
              f"{int(jitter[1])} packets received, {int(jitter[2])} lost")  # fmt: skip
    _line("rtpengine, page -> worker (SRTP in, RTP out, per packet)", through_in)
    _line("rtpengine -> worker -> caller (the worker's bridge)", back)


def _line(label: str, ms: list[float]) -> None:
    if not ms:
        print(f"  {label}: nothing matched")
        return
    print(f"  {label}: p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms ({len(ms)} matched)")


def _through(into: list[Rtp], out: list[Rtp]) -> list[float]:
    """rtpengine's forwarding delay: each packet in and the first packet out with its RTP
    timestamp (rtpengine passes timestamps through when it does not transcode)."""
    first_out: dict[int, float] = {}
    for p in out:
        first_out.setdefault(p.ts, p.t)
    return [(first_out[p.ts] - p.t) * 1000 for p in into if p.ts in first_out and first_out[p.ts] >= p.t]


def _hops(legs: dict[tuple[str, str], list[Rtp]], pair: list[tuple[str, str]], hz: float) -> list[float]:
    """Each beep's onset on the first leg to the same beep's onset on the second (mu-law legs)."""
    a, b = (_onsets(legs[k], hz) for k in pair)
    delays = []
    for t in a:
        later = b[(b >= t) & (b < t + 0.5)]
        if len(later):
            delays.append((later[0] - t) * 1000)
    return delays


def _onsets(stream: list[Rtp], hz: float) -> np.ndarray:
    """Times the beep starts in a PCMU stream: the first sample of each beep, timed by the
    packet carrying it (a packet leaves when its last sample is taken)."""
    stream = [p for p in sorted(stream, key=lambda p: p.t) if p.pt == 0]
    onsets: list[float] = []
    last = -10.0
    for p in stream:
        x = pcmu(p.payload)
        if len(x) < 80:
            continue
        n = np.arange(len(x))
        tone = abs(np.dot(x, np.exp(-2j * np.pi * hz * n / 8000))) * 2 / len(x)
        if tone < 0.02 or np.sqrt(np.mean(x**2)) > 1.5 * tone:  # not (mostly) our beep
            continue
        first = int(np.argmax(np.abs(x) > 0.3 * tone))
        t = p.t - (len(x) - first) / 8000
        if t - last > 0.5:
            onsets.append(t)
        last = t
    return np.array(onsets)


if __name__ == "__main__":
    main()
