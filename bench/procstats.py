"""What a benchmark measures of the processes it runs: memory as PSS, CPU seconds, a process's
children, the box's CPU, sampled through a run."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import httpx
from common import ROOT

sys.path.insert(0, str(ROOT))
from tests.sip_helpers import serve_auth  # noqa: E402


def pss_mb(pid: int | None) -> float:
    """Proportional set size (shared pages split among their users), from smaps_rollup."""
    if not pid:
        return 0.0
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process so far."""
    if not pid:
        return 0.0
    try:
        fields = open(f"/proc/{pid}/stat").read().split(")")[-1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int(open(p / "stat").read().split(")")[-1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


class MemorySampler:
    """PSS of serve, the speech service, each worker and Kamailio, every second; keeps the
    sample where the total was highest (the calls' peak)."""

    def __init__(self, api: str, serve_pid: int, run_dir: Path) -> None:

        self.api, self.serve_pid, self.run_dir = api, serve_pid, run_dir
        self.peak: dict = {"total": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> dict:

        status = httpx.get(f"{self.api}/api/sip", timeout=5, headers=serve_auth(self.run_dir.parent)).json()
        workers = [pss_mb(w["pid"]) for w in status["workers"]]
        speech = pss_mb(status["speech"]["pid"])
        try:
            kam_main = int((self.run_dir / "kamailio.pid").read_text().strip())
            kam = pss_mb(kam_main) + sum(pss_mb(c) for c in children(kam_main))
        except (OSError, ValueError):
            kam = 0.0
        serve = pss_mb(self.serve_pid)
        cpu = {
            "workers": sum(cpu_s(w["pid"]) for w in status["workers"]),
            "speech": cpu_s(status["speech"]["pid"]),
        }
        return {
            "workers": workers,
            "speech": speech,
            "kamailio": kam,
            "serve": serve,
            "cpu": cpu,
            "total": sum(workers) + speech + kam + serve,
        }

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                s = self.sample()
            except Exception:
                continue
            if s["total"] > self.peak["total"]:
                self.peak = s

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.peak


def cpu_busy() -> tuple[int, int]:
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)
