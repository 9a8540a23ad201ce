"""Many browser agents at once (#30): N agents signed in to the console in one Debian Chromium
(a tab each, a fake microphone saying a recording), N baresip callers dialled together into a
queue (the ACD rings each a free agent's page); every page answers. Prints:

- dial -> the page rings and Answer -> media connected (ICE + DTLS), p50/p95 over the calls;
- during 15 s once every page rang and was answered (the calls still talking are counted): CPU (% of one core) and memory (PSS) of Chromium, rtpengine,
  the workers and Kamailio;
- the audio each page got: concealed samples (gaps the browser filled) and packets lost, as
  shares of what it received (from getStats), worst page and all pages.

    .venv/bin/python bench/softphone_floor.py [--agents N]
"""

from __future__ import annotations

import argparse
import math
import socket
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, pct
from procstats import cpu_s, pss_mb
from softphone import WATCH  # bench/softphone.py

from tests.baresip import baresip_call
from tests.browser import CHROMIUM, FLAGS, Page
from tests.sip_helpers import AGENT_PASSWORD, free_port, speech_wav, start_hotline, stop_hotline

GAPS = """async () => {
  const out = {received: 0, concealed: 0, samples: 0, lost: 0};
  for (const pc of window.pcs || []) {
    (await pc.getStats()).forEach((v) => {
      if (v.type === 'inbound-rtp' && v.kind === 'audio') {
        out.received += v.packetsReceived || 0; out.lost += v.packetsLost || 0;
        out.concealed += v.concealedSamples || 0; out.samples += v.totalSamplesReceived || 0;
      }
    });
  }
  return out;
}"""
# every RTCPeerConnection is kept (for getStats), and the page notes when it began to ring (its
# ringer's first tone): timed in the page, not by a loop that visits N pages in turn
KEEP_PCS = "(() => { const N = window.RTCPeerConnection; window.pcs = []; window.RTCPeerConnection = function (...a) { const pc = new N(...a); window.pcs.push(pc); return pc; }; window.RTCPeerConnection.prototype = N.prototype; const osc = AudioContext.prototype.createOscillator; AudioContext.prototype.createOscillator = function (...a) { if (!window.ringAt) window.ringAt = Date.now(); return osc.apply(this, a); }; })()"


def _plan(tmp: Path) -> Path:
    """tests/sip/queue.yaml with time for N pages to be answered one click after another."""
    text = (ROOT / "tests" / "sip" / "queue.yaml").read_text()
    plan = tmp / "floor.yaml"
    plan.write_text(
        text.replace("ring_timeout_s: 6", "ring_timeout_s: 30").replace("max_missed: 1", "max_missed: 3")
    )
    return plan


def _pids(match) -> list[int]:  # type: ignore[no-untyped-def]
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if match((p / "comm").read_text().strip(), (p / "cmdline").read_bytes()):
                    out.append(int(p.name))
            except OSError:
                pass
    return out


GROUPS = {
    "Chromium": lambda comm, cmd: comm.startswith("chrom") or b"/chromium" in cmd,
    "rtpengine": lambda comm, cmd: comm == "rtpengine" and b"--config-file=none" in cmd,
    "workers": lambda comm, cmd: b"ivr" in cmd and b" worker " in cmd.replace(b"\0", b" "),
    "Kamailio": lambda comm, cmd: comm == "kamailio",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the run's folder (logs, store) and print it")
    args = ap.parse_args()
    n = args.agents
    from playwright.sync_api import sync_playwright

    names = [f"agent{i:02d}" for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(tempfile.mkdtemp()) if args.keep else Path(d)
        if args.keep:
            print("run folder:", tmp)
        served = start_hotline(tmp, lambda t, sip: _plan(t), agents=names, workers=math.ceil(2 * n / 4),
                               env={"IVR_WS_PORT": str(free_port(socket.SOCK_STREAM))})  # fmt: skip
        mic = speech_wav(tmp / "agent.wav", [("jfk.flac", 2)], rate=16000)
        flags = [*FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-audio-capture={mic}", "--allow-loopback-in-peer-connection",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"]  # fmt: skip
        ring_s: list[float] = []
        connect_ms: list[float] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
                pages = []
                for name in names:
                    page = Page(browser, served["api"])
                    page.context.add_init_script(WATCH)
                    page.context.add_init_script(KEEP_PCS)
                    page.sign_in(name, AGENT_PASSWORD)
                    page.page.locator(".phone .tag", has_text="registered").wait_for(timeout=30000)
                    page.page.keyboard.press("Alt+1")
                    page.page.locator(".statebar .pill", has_text="available").wait_for(timeout=15000)
                    pages.append(page)
                on_s = 60 + 3 * n  # long enough that the last answered is still talking through the window
                caller = speech_wav(tmp / "caller.wav", [(None, on_s)])
                dialled_ms = time.time() * 1000
                for i in range(n):
                    (tmp / f"call{i}").mkdir()
                    threading.Thread(target=baresip_call, args=(tmp / f"call{i}", f"sip:hotline@127.0.0.1:{served['sip']}", caller, on_s), daemon=True).start()  # fmt: skip
                clicked: dict[int, float] = {}
                deadline = time.monotonic() + 45  # a page that has not rung by then is counted unanswered
                while len(clicked) < n and time.monotonic() < deadline:
                    for i, page in enumerate(pages):
                        if i not in clicked and page.page.evaluate("() => window.ringAt || 0"):
                            answer = page.page.get_by_role("button", name="Answer")
                            if not answer.count():  # rang and stopped (offered to another agent)
                                continue
                            clicked[i] = page.page.evaluate("() => Date.now()")
                            page.page.keyboard.press("Alt+A")  # (a click waits on a busy page's layout)
                    pages[0].page.wait_for_timeout(100)
                connect_by = time.monotonic() + 15  # one bound for all: a stuck page does not hold the rest
                for i, at in clicked.items():
                    page = pages[i].page
                    ring_s.append((page.evaluate("() => window.ringAt") - dialled_ms) / 1000)
                    left_ms = max(100, (connect_by - time.monotonic()) * 1000)
                    try:
                        page.wait_for_function("() => window.connectedAt.length > 0", timeout=left_ms)
                    except Exception:
                        continue  # rang, was answered, never connected: counted as not answered
                    connect_ms.append(page.evaluate("() => window.connectedAt[0]") - at)
                talking = sum(p.page.get_by_role("button", name="Hang up").count() for p in pages)
                groups = {g: _pids(m) for g, m in GROUPS.items()}
                cpu0 = {g: sum(cpu_s(p) for p in ps) for g, ps in groups.items()}
                t0 = time.perf_counter()
                pages[0].page.wait_for_timeout(15000)
                span = time.perf_counter() - t0
                cpu = {g: (sum(cpu_s(p) for p in ps) - cpu0[g]) / span * 100 for g, ps in groups.items()}
                mem = {g: sum(pss_mb(p) for p in ps) for g, ps in groups.items()}
                gaps = [page.page.evaluate(GAPS) for page in pages]
                for page in pages:
                    hang = page.page.get_by_role("button", name="Hang up")
                    if hang.count():
                        hang.click()
                    page.close()
                browser.close()
        finally:
            stop_hotline(served)
    answered = len(connect_ms)
    print(f"Browser agents at once: {n} agents in one Chromium, {n} baresip callers dialled together")
    print(f"  answered in the page: {answered} of {n}; {talking} talking when the 15 s window began")
    if answered:
        print(f"  dial -> the page rings: p50 {pct(ring_s, 50):.1f} s, p95 {pct(ring_s, 95):.1f} s")
        print(
            f"  Answer -> media connected: p50 {pct(connect_ms, 50):.0f} ms, p95 {pct(connect_ms, 95):.0f} ms"
        )
    for g in GROUPS:
        print(f"  {g}: {cpu[g]:.0f}% of a core, PSS {mem[g]:.0f} MB ({len(groups[g])} processes)")
    shares = [
        (
            x["concealed"] / x["samples"] if x["samples"] else 1.0,
            x["lost"] / max(1, x["received"] + x["lost"]),
        )
        for x in gaps
    ]
    total_c = sum(x["concealed"] for x in gaps) / max(1, sum(x["samples"] for x in gaps))
    total_l = sum(x["lost"] for x in gaps) / max(1, sum(x["received"] + x["lost"] for x in gaps))
    print(
        f"  audio gaps (concealed samples): all pages {total_c * 100:.2f}%, worst page {max(s[0] for s in shares) * 100:.2f}%"
    )
    print(
        f"  packets lost: all pages {total_l * 100:.2f}%, worst page {max(s[1] for s in shares) * 100:.2f}%"
    )


if __name__ == "__main__":
    main()
