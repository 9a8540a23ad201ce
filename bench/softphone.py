"""The browser softphone (#30): N calls, one after another, from a baresip caller through the
hotline to an agent whose phone is Debian's Chromium (the console, JsSIP over WebSocket,
rtpengine between DTLS-SRTP and the worker's RTP). Prints, p50/p95 over the calls:

- the page's registration: sign-in -> "Phone: registered";
- dial -> the page rings (the IVR's prompt and the transfer included);
- Answer clicked -> the page's media connected (ICE and DTLS, from RTCPeerConnection);
- rtpengine's CPU per call-second and its memory (PSS).

    .venv/bin/python bench/softphone.py [--calls N]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

from common import pct
from procstats import cpu_s, pss_mb

from tests.baresip import baresip_call
from tests.browser import CHROMIUM, FLAGS, Page
from tests.sip_helpers import AGENT_PASSWORD, bridge_plan, free_port, speech_wav, start_hotline, stop_hotline

# every RTCPeerConnection the page makes notes when its connection state goes "connected"
WATCH = """(() => {
  const Native = window.RTCPeerConnection;
  window.connectedAt = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') window.connectedAt.push(Date.now());
    });
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        served = start_hotline(tmp, bridge_plan, env={"IVR_WS_PORT": str(free_port(socket.SOCK_STREAM))})
        mic = speech_wav(tmp / "agent.wav", [("jfk.flac", 2)], rate=16000)
        flags = [*FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-audio-capture={mic}", "--allow-loopback-in-peer-connection",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"]  # fmt: skip
        rtpengine_pid = int(
            next(p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _is_rtpengine(p))
        )
        ring_s: list[float] = []
        connect_ms: list[float] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
                page = Page(browser, served["api"])
                page.context.add_init_script(WATCH)
                t0 = time.perf_counter()
                page.sign_in("ann", AGENT_PASSWORD)
                expect(page.page.locator(".phone")).to_contain_text("registered", timeout=30000)
                registered_s = time.perf_counter() - t0
                caller = speech_wav(tmp / "caller.wav", [(None, 12)])
                cpu0, talk_s = cpu_s(rtpengine_pid), 0.0
                for i in range(args.calls):
                    call_dir = tmp / f"call{i}"
                    call_dir.mkdir()
                    done = threading.Event()
                    target = f"sip:hotline@127.0.0.1:{served['sip']}"
                    threading.Thread(target=_dial, args=(call_dir, target, caller, done), daemon=True).start()
                    t_dial = time.perf_counter()
                    answer = page.page.get_by_role("button", name="Answer")
                    expect(answer).to_be_visible(timeout=30000)
                    ring_s.append(time.perf_counter() - t_dial)
                    before = page.page.evaluate("() => window.connectedAt.length")
                    clicked = page.page.evaluate("() => Date.now()")
                    answer.click()
                    page.page.wait_for_function(f"() => window.connectedAt.length > {before}", timeout=15000)
                    connect_ms.append(
                        page.page.evaluate("() => window.connectedAt[window.connectedAt.length - 1]")
                        - clicked
                    )
                    t_talk = time.perf_counter()
                    done.wait(60)
                    talk_s += time.perf_counter() - t_talk
                    expect(answer).to_have_count(0, timeout=15000)
                cpu = cpu_s(rtpengine_pid) - cpu0
                mem = pss_mb(rtpengine_pid)
                page.close()
                browser.close()
        finally:
            stop_hotline(served)
    print(
        f"Browser softphone ({args.calls} calls, one at a time; Chromium + JsSIP -> Kamailio ws -> rtpengine -> worker)"
    )
    print(f"  sign-in -> phone registered: {registered_s * 1000:.0f} ms")
    print(
        f"  dial -> the page rings (IVR prompt and transfer included): p50 {pct(ring_s, 50):.1f} s, p95 {pct(ring_s, 95):.1f} s"
    )
    print(
        f"  Answer clicked -> media connected (ICE + DTLS): p50 {pct(connect_ms, 50):.0f} ms, p95 {pct(connect_ms, 95):.0f} ms"
    )
    print(f"  rtpengine: {cpu / max(talk_s, 1e-9) * 1000:.1f} ms CPU per call-second, PSS {mem:.1f} MB")


def _dial(call_dir: Path, target: str, caller: Path, done: threading.Event) -> None:
    baresip_call(call_dir, target, caller, 12)
    done.set()


def _is_rtpengine(p: Path) -> bool:
    """The rtpengine `ivr serve` started (not a system one)."""
    try:
        return (p / "comm").read_text().strip() == "rtpengine" and b"--config-file=none" in (
            p / "cmdline"
        ).read_bytes()
    except OSError:
        return False


if __name__ == "__main__":
    main()
