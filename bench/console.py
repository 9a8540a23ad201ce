"""Console benchmark: event in the worker -> visible in the page, with 20 concurrent calls and
10 consoles open (8 agents following their own calls, 2 supervisors on the floor) in Debian's
Chromium; the page's load time; the front end's size.

The API runs in a process of its own (as under `ivr serve`); this process plays the workers:
20 calls, 10 of them put through to agents a01..a10, each writing a transcript line and a
radar reading every second through the same CallRecord and writer thread a worker uses. Each
line carries a marker; the pages note (MutationObserver) when it appears.

    .venv/bin/python bench/console.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import ROOT, pct

sys.path.insert(0, str(ROOT))
import httpx  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from ivr.acd.engine import Acd  # noqa: E402
from ivr.acd.policy import AgentState  # noqa: E402
from ivr.call.record import CallRecord  # noqa: E402
from ivr.events import EventType as T  # noqa: E402
from ivr.events import make  # noqa: E402
from ivr.queues import QueueRules  # noqa: E402
from ivr.records import Store  # noqa: E402
from tests.browser import CHROMIUM, FLAGS  # noqa: E402

PASSWORD = "bench password"
SERVER = """
import sys, uvicorn
from ivr.api import create_app
from ivr.records import Store
store = Store(sys.argv[1])
uvicorn.run(create_app(store=store), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""
WATCH = """() => { window.__seen = {}; new MutationObserver(() => {
  for (const el of document.querySelectorAll('.transcript .text, tr[data-call]')) {
    const k = el.textContent.match(/mark[a-z]+/g) || (el.dataset && el.dataset.call ? [el.dataset.call] : []);
    for (const m of k) if (!(m in window.__seen)) window.__seen[m] = Date.now();
  } }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def letters(n: int) -> str:
    """A marker with no digit (a line with digits is held back by the card-number redactor
    until the digit run is over, as it should be)."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(97 + r) + out
        if n == 0:
            return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bundle() -> tuple[int, int, int]:
    static = ROOT / "ivr" / "console" / "static"
    files = [p for p in static.rglob("*") if p.is_file() and not p.name.startswith("LICENSE")]
    raw = sum(p.stat().st_size for p in files)
    gz = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    return len(files), raw, gz


def start_api(url: str) -> tuple[subprocess.Popen, str]:
    """The API in a process of its own, as under `ivr serve`; (the process, its base URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/api/health").status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the API did not start")
        time.sleep(0.1)


def start_calls(store: Store, agents: list[str], n: int) -> tuple[dict[str, CallRecord], dict[str, str]]:
    """`n` live calls, the first ones put through to `agents` by the queue; (records by call,
    the call each agent is on)."""
    acd = Acd(store.engine, {"billing": QueueRules("billing", frozenset({"billing"}))})
    records: dict[str, CallRecord] = {}
    call_of: dict[str, str] = {}
    for i in range(n):
        cid = f"bench-{i:02d}"
        rec = CallRecord(cid, store.writer, caller={"number": f"+4477009{i:05d}", "name": f"Caller {i}"})
        rec(make(cid, 0, T.CALL_START, sample_rate=8000))
        records[cid] = rec
        if i < len(agents):  # half the calls are with an agent
            acd.join(
                cid, "billing", 0, context={"caller": {"name": f"Caller {i}"}, "transcript": ["I need help"]}
            )
            agent = acd.claim(cid)
            assert agent is not None
            acd.answered(cid, agent.name)
            call_of[agent.name] = cid
    store.writer.flush()
    return records, call_of


def open_consoles(
    browser: Any, base: str, consoles: int, agents: list[str], call_of: dict[str, str]
) -> tuple[list[tuple[str, Any]], list[float]]:
    """Agents' pages (those on a call first) and two supervisors' floors, signed in and
    watching; (the pages, each one's warm load time)."""
    pages, loads = [], []
    n_agents = max(0, consoles - 2)
    agents.sort(key=lambda a: a not in call_of)
    for i in range(consoles):
        ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        user = agents[i] if i < n_agents else "sup"
        page.goto("/console/")
        page.fill("input[name=user]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/floor" if user == "sup" else "**/console/agent")
        t0 = time.perf_counter()  # a reload with a warm cache: load to the first live state shown
        page.reload()
        if user == "sup":
            page.wait_for_selector(".kpis")
        else:
            page.wait_for_function(
                "() => { const p = document.querySelector('.statebar .pill'); return p && p.textContent !== 'unknown'; }"
            )
        loads.append(time.perf_counter() - t0)
        page.evaluate(WATCH)
        pages.append((user, page))
    return pages, loads


def cold_load(browser: Any, base: str) -> float:
    """The sign-in page with nothing cached."""
    ctx = browser.new_context(base_url=base)
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto("/console/")
    page.wait_for_selector("form[aria-label='sign in']")
    took = time.perf_counter() - t0
    ctx.close()
    return took


class Traffic:
    """What the workers write: a line and a radar reading on every call each second, and a new
    call every 2 s; when each was written."""

    def __init__(self, store: Store, records: dict[str, CallRecord]) -> None:
        self.store, self.records = store, records
        self.written: dict[str, float] = {}
        self.marker_call: dict[str, str] = {}
        self.stop = threading.Event()

    def lines(self) -> None:
        n, t_ms = 0, 1000
        while not self.stop.is_set():
            start = time.time()
            for i, (cid, rec) in enumerate(self.records.items()):
                mark = "mark" + letters(n * 1000 + i)
                self.marker_call[mark] = cid
                self.written[mark] = time.time()
                rec(make(cid, t_ms, T.FINAL_TRANSCRIPT, text=f"the caller says {mark}"))
                rec(make(cid, t_ms + 10, T.AFFECT, anger=0.2, anxiety=0.1, level="calm"))
            n += 1
            t_ms += 1000
            self.stop.wait(max(0.0, 1.0 - (time.time() - start)))

    def new_calls(self) -> None:  # calls arriving: what the floor pages show
        k = 0
        while not self.stop.wait(2.0):
            cid = f"new-{k:03d}"
            self.written[cid] = time.time()
            rec = CallRecord(cid, self.store.writer, caller={"number": f"+4477008{k:05d}"})
            rec(make(cid, 0, T.CALL_START, sample_rate=8000))
            k += 1


def latencies(
    pages: list[tuple[str, Any]], traffic: Traffic, call_of: dict[str, str]
) -> tuple[list[float], list[float], int]:
    """Written -> seen in the page: agents' own lines, the floors' new calls; and how many were
    never shown."""
    agent_lat, floor_lat, missing = [], [], 0
    for user, page in pages:
        seen = page.evaluate("() => window.__seen")
        for key, at in traffic.written.items():
            if user == "sup":
                if key.startswith("new-"):
                    if key in seen:
                        floor_lat.append(seen[key] / 1000 - at)
                    else:
                        missing += 1
                continue
            if key.startswith("mark") and traffic.marker_call[key] == call_of[user]:
                if key in seen:
                    agent_lat.append(seen[key] / 1000 - at)
                else:
                    missing += 1
    return agent_lat, floor_lat, missing


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--consoles", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ivr-console-bench-"))
    url = f"sqlite:///{tmp / 'ivr.sqlite3'}"
    store = Store(url)
    agents = [f"a{i:02d}" for i in range(1, 11)]
    for a in agents:
        store.agents.add(a, PASSWORD, ["billing"])
        store.agents.set_state(a, AgentState.AVAILABLE)
    store.users.add("sup", "supervisor", PASSWORD)
    server, base = start_api(url)
    records, call_of = start_calls(store, agents, args.calls)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pages, loads = open_consoles(browser, base, args.consoles, agents, call_of)
        cold = cold_load(browser, base)
        traffic = Traffic(store, records)
        cpu0, t_start = cpu_s(server.pid), time.time()
        threads = [threading.Thread(target=f, daemon=True) for f in (traffic.lines, traffic.new_calls)]
        for t in threads:
            t.start()
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            pages[0][1].wait_for_timeout(500)  # the browser's own loop runs meanwhile
        traffic.stop.set()
        for t in threads:
            t.join()
        cpu = (cpu_s(server.pid) - cpu0) / (time.time() - t_start)
        pages[0][1].wait_for_timeout(2000)  # the last lines arrive
        agent_lat, floor_lat, missing = latencies(pages, traffic, call_of)
        browser.close()
    rss = rss_mb(server.pid)
    server.terminate()
    server.wait(10)
    store.close()
    files, raw, gz = bundle()
    print(
        f"console: {args.calls} calls, {args.consoles} consoles ({args.consoles - 2} agents, 2 floors), {args.seconds} s"
    )
    print(
        f"  event -> visible, agent page: p50 {pct(agent_lat, 50) * 1000:.0f} ms, p95 {pct(agent_lat, 95) * 1000:.0f} ms (n={len(agent_lat)})"
    )
    print(
        f"  new call -> on the floor:     p50 {pct(floor_lat, 50) * 1000:.0f} ms, p95 {pct(floor_lat, 95) * 1000:.0f} ms (n={len(floor_lat)})"
    )
    print(f"  not shown at the end: {missing}")
    print(
        f"  page load (warm, to the first live state): p50 {pct(loads, 50) * 1000:.0f} ms, max {max(loads) * 1000:.0f} ms; "
        f"sign-in page cold: {cold * 1000:.0f} ms"
    )
    print(f"  API process: {cpu * 100:.0f}% of a core, {rss:.0f} MB RSS")
    print(f"  front end: {files} files, {raw / 1024:.0f} KiB, {gz / 1024:.0f} KiB gzipped (no build step)")


if __name__ == "__main__":
    main()
