"""The supervisor's children as processes: each in a session of its own (a Ctrl-C in the
terminal reaches only `ivr serve`, which stops them in order), each told to die with serve
(PDEATHSIG), and a stopped child's whole process group waited for (Kamailio forks children
that hold the hotline's port)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_prctl: Any
EXIT_PORT_TAKEN = 3
"""A worker's exit code when its SIP port cannot be bound (`ivr serve` moves it)."""

try:
    _prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # looked up here, not in the child
except (OSError, AttributeError):
    _prctl = None


def die_with_parent() -> None:  # runs in the child between fork and exec: nothing that locks
    if _prctl is not None:
        _prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group: Kamailio's forked children hold the
    SIP socket, and they can outlive the main process by a moment."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def reap_group(pgid: int, timeout: float = 10.0) -> None:
    """Wait (bounded) for a stopped child's whole process group to be gone, then kill
    what is left: the port it held is free when this returns."""
    deadline = time.monotonic() + timeout
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A supervised child: its own session (a Ctrl-C in the terminal reaches only serve,
    which stops the children in order), and it gets SIGTERM if serve dies."""
    return subprocess.Popen(
        cmd,
        stdout=open(log_path, "a"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


@dataclass
class WorkerProc:
    index: int
    sip_port: int
    rtp_port: int
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0

    def taking_calls(self, run_dir: Path) -> bool:
        """Alive and ready: it publishes its dialplans once it takes calls (`ivr.app.lines`)."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            return (
                json.loads((run_dir / f"dialplans-{self.sip_port}.json").read_text())["pid"] == self.proc.pid
            )
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def status(self) -> dict:
        alive = self.proc is not None and self.proc.poll() is None
        return {
            "index": self.index,
            "sip_port": self.sip_port,
            "rtp_port": self.rtp_port,
            "pid": self.proc.pid if self.proc else None,
            "alive": alive,
            "restarts": self.restarts,
        }
