"""A process told to stop, stops: `ivr worker` and `ivr serve` signalled in every phase of their
start-up (the speech service gone, prompts being synthesised) leave no process behind, and a
worker whose parent dies goes with it. Real processes on 127.0.0.1. Category: e2e."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from ivr.app.supervisor import port_free
from tests.sip_helpers import ROOT, alive, free_port, ivr_exe, open_hotline, wait_until

pytestmark = pytest.mark.e2e
GONE_S = 30
"""The bound on a stop: the worker's own last resort (STOP_GRACE_S) is 20 s."""


def processes_of(marker: str) -> list[int]:
    """Live processes whose command line names `marker` (the test's own folder)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read() and alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def start_worker(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path, int]:
    data.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), data / "worker.log"
    cmd = [
        *ivr_exe(), "worker", "--sip-port", str(port), "--rtp-port", "43800", "--data-dir", str(data),
        "--dialplan", str(ROOT / "dialplans" / "hotline.yaml"), "--api-base", "http://127.0.0.1:9",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )
    return proc, log, port


def stopped(proc: subprocess.Popen, log: Path) -> int:
    try:
        return proc.wait(GONE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(
            f"still running {GONE_S} s after SIGTERM:\n{log.read_text(errors='replace')[-2000:]}"
        ) from None


def test_a_worker_waiting_for_a_speech_service_that_is_gone_stops_on_sigterm(tmp_path):
    # before: the signal only set an event nobody looked at until the service answered
    proc, log, port = start_worker(
        tmp_path / "data", {"IVR_SPEECH": str(tmp_path / "gone.sock"), "IVR_SPEECH_WAIT_S": "600"}
    )
    try:
        # waiting on the service (said in its log) is past its signal handlers and its SIP port
        wait_until(
            lambda: "no speech service at" in log.read_text() or proc.poll() is not None,
            60,
            "the worker waiting",
        )
        assert proc.poll() is None and not port_free("127.0.0.1", port), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert stopped(proc, log) == 0
        assert "stopped while starting" in log.read_text()
        assert port_free("127.0.0.1", port), "the SIP port is still held"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_whose_speech_service_dies_during_its_prompts_stops_on_sigterm(tmp_path):
    sock = tmp_path / "speech.sock"
    speech = subprocess.Popen([*ivr_exe(), "speech", "--listen", str(sock)], stdout=open(tmp_path / "speech.log", "w"),
                              stderr=subprocess.STDOUT)  # fmt: skip
    proc = None
    try:
        wait_until(lambda: sock.exists() or speech.poll() is not None, 120, "the speech service")
        proc, log, _ = start_worker(tmp_path / "data", {"IVR_SPEECH": str(sock)})
        wait_until(
            lambda: "dialplan" in log.read_text(errors="replace") or proc.poll() is not None,
            120,
            "the dialplan",
        )
        speech.kill()  # the fixed prompts are being synthesised: the service is gone mid-way
        proc.send_signal(signal.SIGTERM)
        assert stopped(proc, log) == 0
        assert "Traceback" not in log.read_text()
    finally:
        for p in (speech, proc):
            if p is not None and p.poll() is None:
                p.kill()


def _serve(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    data = tmp_path / "data"
    cmd = [
        *ivr_exe(), "serve", "--dialplan", str(open_hotline(tmp_path)), "--data-dir", str(data),
        "--port", str(free_port(socket.SOCK_STREAM)), "--sip-port", str(free_port()), "--sip-workers", "2",
        "--rtp-port", "44800",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=open(tmp_path / "serve.log", "w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    return proc, data


def _workers_synthesising(data: Path) -> bool:
    logs = list((data / "run").glob("worker-*.log")) if (data / "run").exists() else []
    return len(logs) == 2 and all("dialplan" in p.read_text(errors="replace") for p in logs)


@pytest.mark.parametrize("moment", ["models loading", "prompts synthesised"])
def test_serve_told_to_stop_during_its_start_up_leaves_no_process(tmp_path, moment):
    proc, data = _serve(tmp_path)
    marker = str(tmp_path)
    try:
        if moment == "models loading":
            wait_until(
                lambda: len(processes_of(marker)) >= 2 or proc.poll() is not None,
                60,
                "the speech service's start",
            )
        else:
            wait_until(
                lambda: _workers_synthesising(data) or proc.poll() is not None, 180, "the workers' prompts"
            )
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        proc.send_signal(signal.SIGTERM)  # to serve alone, as a service manager sends it
        proc.wait(GONE_S * 2)
        wait_until(lambda: not processes_of(marker), GONE_S, "every child of serve to be gone")
    finally:
        for pid in processes_of(marker):
            os.kill(pid, signal.SIGKILL)


def test_workers_die_with_a_killed_serve(tmp_path):
    """serve itself killed (no chance to stop anything): its children get SIGTERM from the
    kernel (PDEATHSIG) and stop, even in the middle of their start-up."""
    proc, data = _serve(tmp_path)
    marker = str(tmp_path)
    try:
        wait_until(lambda: _workers_synthesising(data) or proc.poll() is not None, 180, "the workers' start")
        proc.kill()
        proc.wait(10)
        wait_until(lambda: not processes_of(marker), GONE_S, "every child of the killed serve to be gone")
    finally:
        for pid in processes_of(marker):
            os.kill(pid, signal.SIGKILL)
