"""The speech service going away, and `ivr serve` starting and stopping what it supervises.
Real processes and real sipp calls on 127.0.0.1. Category: e2e."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.sip_helpers import (
    ROOT,
    Worker,
    alive,
    fixture_pcap,
    free_port,
    ivr_exe,
    open_hotline,
    serve_status,
    sipp_call,
    wait_until,
)
from tests.tools.pcap import write_rtp_pcap

pytestmark = pytest.mark.e2e


def start_speech(sock: Path, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [*ivr_exe(), "speech", "--listen", str(sock)],
        stdout=open(log, "a"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    wait_until(lambda: proc.poll() is not None or sock.exists(), 120, "the speech service to listen")
    assert proc.poll() is None, log.read_text()
    return proc


def events_of(data: Path) -> list[list[dict]]:
    return [
        [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
        for p in sorted((data / "calls").glob("*.jsonl"))
    ]


@pytest.fixture(scope="module")
def speech_pcap(tmp_path_factory):
    return fixture_pcap(tmp_path_factory.mktemp("pcap") / "speech.pcap", 6, 3)


def test_a_call_survives_a_speech_service_killed_and_restarted(tmp_path, speech_pcap):
    """kill -9 of the speech service while the caller speaks: the caller hears the apology
    (pinned in the worker), the worker keeps the call, and once the service is back the
    caller's words are transcribed and the dialplan goes on."""
    sock, log = tmp_path / "speech.sock", tmp_path / "speech.log"
    service = start_speech(sock, log)
    worker = Worker(tmp_path / "data", open_hotline(tmp_path), rtp_port=44200, env={"IVR_SPEECH": str(sock)})
    restarted = None
    try:
        result: dict = {}
        import threading

        caller = threading.Thread(
            target=lambda: result.update(p=sipp_call(tmp_path, worker.sip_port, speech_pcap, listen_ms=30000))
        )
        caller.start()

        def speaking() -> bool:
            calls = events_of(worker.data_dir)
            return bool(calls) and any(e["type"] == "speech_start" for e in calls[0])

        wait_until(speaking, 60, "the caller to start speaking")
        service.kill()  # -9
        service.wait(10)

        def apologised() -> bool:
            return any(e.get("prompt") == "service_apology" for e in events_of(worker.data_dir)[0])

        wait_until(apologised, 30, "the apology to the caller")
        assert worker.proc.poll() is None, "the worker must keep its calls"
        restarted = start_speech(sock, log)
        (events,) = worker.wait_calls_ended(1, timeout_s=120)
        caller.join(timeout=60)
        types = [e["type"] for e in events]
        apology = next(i for i, e in enumerate(events) if e.get("prompt") == "service_apology")
        finals = [i for i, e in enumerate(events) if e["type"] == "final_transcript"]
        assert finals and finals[-1] > apology, types
        assert "shook hands" in events[finals[-1]]["text"].lower(), events[finals[-1]]
        # the dialplan went on after the transcript: the IVR answered the caller
        assert any(e["type"] in ("say", "intent") for e in events[finals[-1] + 1 :]), types
        assert events[-1]["type"] == "call_end"
        assert "Successful call" in result["p"].stdout
    finally:
        worker.stop()
        for p in (service, restarted):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)


def test_a_worker_whose_port_is_taken_says_which_and_why_and_exits_cleanly(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [
                *ivr_exe(),
                "worker",
                "--sip-port",
                str(port),
                "--rtp-port",
                "44600",
                "--dialplan",
                str(ROOT / "dialplans" / "hotline.yaml"),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "IVR_SPEECH": str(tmp_path / "unused.sock")},
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out  # not an abort (-6) from pjlib
    assert f"cannot use SIP port 127.0.0.1:{port}" in out and "already in use" in out.lower(), out
    assert "Assertion" not in out and "Traceback" not in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_everything_it_started_on_a_signal_to_its_process_group(tmp_path, speech_pcap, sig):
    """What `make run` + Ctrl-C (or a service manager's SIGTERM) does: the signal reaches the
    whole process group at once. Nothing may be restarted while stopping, and nothing left.
    A worker port another program holds is moved; a killed speech service is restarted."""
    api, sip = free_port(socket.SOCK_STREAM), free_port()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", sip + 2))  # the first worker's port is taken
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            *ivr_exe(),
            "serve",
            "--dialplan",
            str(open_hotline(tmp_path)),
            "--data-dir",
            str(data),
            "--port",
            str(api),
            "--sip-port",
            str(sip),
            "--sip-workers",
            "2",
            "--rtp-port",
            "45000" if sig == signal.SIGTERM else "45600",
        ],
        stdout=open(tmp_path / "serve.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell gives `make run`
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:

        def status() -> dict | None:
            return serve_status(proc, f"http://127.0.0.1:{api}", data, tmp_path / "serve.log")

        s = wait_until(status, 180, "ivr serve to be up")
        assert s["workers"][0]["sip_port"] != sip + 2, "the taken port was not moved"
        if sig == signal.SIGTERM:  # the speech service dies: serve starts it again
            os.kill(s["speech"]["pid"], signal.SIGKILL)
            wait_until(
                lambda: (x := status()) is not None and x["speech"]["restarts"] >= 1,
                120,
                "the service's restart",
            )
            call = sipp_call(tmp_path, sip, speech_pcap, listen_ms=16000)
            assert re.search(r"Successful call\s*\|\s*\d+\s*\|\s*1\b", call.stdout), call.stdout[-2000:]
            (events,) = events_of(data)
            assert any(
                "shook hands" in e.get("text", "").lower() for e in events if e["type"] == "final_transcript"
            )
            assert not any(w["restarts"] for w in status()["workers"]), "a worker died with the service"
        s = status()
        pids = [w["pid"] for w in s["workers"]] + [s["speech"]["pid"]]
        pids.append(int((data / "run" / "kamailio.pid").read_text().strip()))
        logged = len((tmp_path / "serve.log").read_text())
        os.killpg(proc.pid, sig)
        assert proc.wait(60) in (0, 130, -sig, 128 + sig)
        after = (tmp_path / "serve.log").read_text()[logged:]
        assert "restarting" not in after and "Traceback" not in after, after
        wait_until(lambda: not any(alive(p) for p in pids), 30, "every child to be gone")
        # the hotline's port is free again: the next `make run` can start
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
            again.bind(("127.0.0.1", sip))
    finally:
        squatter.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.unit
def test_workers_are_sized_to_the_machine():
    from ivr.telephony.capacity import auto_workers

    assert auto_workers(cores=2, memory_mb=24 * 1024) == 8  # 32 calls on this box
    assert auto_workers(cores=16, memory_mb=8 * 1024) == (8 * 1024 - 1500 - 1024) // 250  # memory binds
    assert auto_workers(cores=2, memory_mb=1024) == 1  # never none


def test_serve_on_its_defaults_takes_24_calls_at_once(tmp_path):
    """What `make run` does with its defaults: as many workers as the machine holds. 24
    callers at once (on hold, so the box is not the limit) are all answered: no 503."""
    from ivr.telephony.capacity import auto_workers

    # the promise for this box (2 cores, 24 GiB): a smaller sizing is a failure, not a skip
    assert auto_workers() * 4 >= 24, f"ivr serve sizes {auto_workers()} workers: fewer than 24 calls"
    api, sip = free_port(socket.SOCK_STREAM), free_port()
    dialplan = tmp_path / "hold.yaml"
    dialplan.write_text(
        "start: main\nqueues: {general: {skills: [general]}}\nnodes:\n  main:\n"
        "    - hold: {seconds: 600, say: Thank you for calling. Please hold.}\n"
    )
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            *ivr_exe(),
            "serve",
            "--dialplan",
            str(dialplan),
            "--data-dir",
            str(data),
            "--port",
            str(api),
            "--sip-port",
            str(sip),
            "--rtp-port",
            "46400",
        ],
        stdout=open(tmp_path / "serve.log", "w"),
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "IVR_WORKERS"},
    )
    try:
        wait_until(
            lambda: serve_status(proc, f"http://127.0.0.1:{api}", data, tmp_path / "serve.log"),
            300,
            "ivr serve with its default workers",
        )
        silent = tmp_path / "silent.pcap"
        write_rtp_pcap(silent, np.zeros(8000 * 12, np.float32))
        result = sipp_call(tmp_path, sip, silent, listen_ms=14000, calls=24, rate=24)
        assert re.search(r"Successful call\s*\|\s*\d+\s*\|\s*24\b", result.stdout), result.stdout[-2500:]
        assert re.search(r"Failed call\s*\|\s*\d+\s*\|\s*0\b", result.stdout), result.stdout[-2500:]
        assert len(events_of(data)) == 24
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


@pytest.mark.unit
def test_a_data_dir_too_deep_for_a_socket_name_gets_a_short_one(tmp_path):
    from ivr.app.supervisor import default_speech_socket

    assert default_speech_socket(Path("/srv/ivr/data/run")) == "/srv/ivr/data/run/speech.sock"
    deep = Path("/srv/" + "very-long-folder-name/" * 6) / "run"
    short = default_speech_socket(deep)
    assert len(short.encode()) < 100 and short == default_speech_socket(deep)
