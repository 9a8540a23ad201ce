"""Many calls at once: Kamailio's dispatcher in front of supervised workers (`ivr serve`),
real sipp calls on 127.0.0.1. Category: e2e."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.sip_helpers import (
    ROOT,
    fixture_pcap,
    free_port,
    ivr_exe,
    open_hotline,
    serve_auth,
    serve_status,
    sipp_call,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    api_port, sip_port = free_port(socket.SOCK_STREAM), free_port()
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen(
        [
            *ivr_exe(),
            "serve",
            "--dialplan",
            str(open_hotline(tmp)),
            "--data-dir",
            str(tmp / "data"),
            "--port",
            str(api_port),
            "--sip-port",
            str(sip_port),
            "--sip-workers",
            "2",
            "--rtp-port",
            "43000",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    api = f"http://127.0.0.1:{api_port}"

    wait_until(
        lambda: serve_status(proc, api, tmp / "data", tmp / "serve.log"),
        180,
        "both workers to be up and dispatched to",
        interval_s=0.5,
    )
    yield {"proc": proc, "api": api, "sip_port": sip_port, "data": tmp / "data", "tmp": tmp}
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def short_pcap(tmp_path_factory):
    return fixture_pcap(tmp_path_factory.mktemp("pcap") / "short.pcap", 6, 3)


def worker_port(call_id: str) -> str:
    """The SIP port of the worker that took a call: its id is TIME-HOST-PORT-N."""
    return call_id.split("-")[-2]


def call_logs(data: Path) -> dict[str, list[dict]]:
    out = {}
    for p in (data / "calls").glob("*.jsonl"):
        out[p.stem] = [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
    return out


def raw_invite(port: int) -> str:
    """One INVITE by hand; returns the final response's first lines."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(15)
        lp = s.getsockname()[1]
        cid = uuid.uuid4().hex
        sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        msg = (
            f"INVITE sip:hotline@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK{cid[:10]};rport\r\n"
            f"From: <sip:probe@127.0.0.1:{lp}>;tag={cid[:6]}\r\nTo: <sip:hotline@127.0.0.1:{port}>\r\nCall-ID: {cid}\r\n"
            f"CSeq: 1 INVITE\r\nContact: <sip:probe@127.0.0.1:{lp}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
        )
        s.sendto(msg.encode(), ("127.0.0.1", port))
        while True:
            data = s.recv(65535).decode(errors="replace")
            if not data.startswith("SIP/2.0 1"):
                return data


def test_more_calls_than_one_worker_holds_are_all_answered(service, short_pcap):
    before = set(call_logs(service["data"]))
    proc = sipp_call(service["tmp"], service["sip_port"], short_pcap, listen_ms=16000, calls=7, rate=10)
    assert "Successful call" in proc.stdout
    assert re.search(r"Successful call\s*\|\s*\d+\s*\|\s*7\b", proc.stdout), proc.stdout[-2500:]
    logs = {k: v for k, v in call_logs(service["data"]).items() if k not in before}
    assert len(logs) == 7
    ports = {worker_port(k) for k in logs}
    assert len(ports) == 2, "both workers took calls"
    for events in logs.values():
        finals = [e["text"] for e in events if e["type"] == "final_transcript"]
        assert any("shook hands" in f.lower() for f in finals), finals


def test_past_capacity_new_calls_get_503_with_retry_after(service, short_pcap):
    holders = threading.Thread(
        target=sipp_call,
        args=(service["tmp"], service["sip_port"], short_pcap),
        kwargs={"listen_ms": 15000, "calls": 8, "rate": 20},
    )
    holders.start()
    try:
        wait_until(
            lambda: (
                len([v for v in call_logs(service["data"]).values() if v and v[-1]["type"] != "call_end"])
                >= 8
            ),
            30,
            "8 calls to be up",
        )
        reply = raw_invite(service["sip_port"])
        assert reply.startswith("SIP/2.0 503"), reply[:300]
        assert re.search(r"^Retry-After: \d+", reply, re.M), reply[:500]
    finally:
        holders.join(timeout=120)
    assert service["proc"].poll() is None


def test_a_killed_worker_loses_only_its_calls(service, short_pcap):
    status = httpx.get(f"{service['api']}/api/sip", headers=serve_auth(service["data"])).json()
    victim = status["workers"][0]
    before = set(call_logs(service["data"]))
    result: dict = {}
    caller = threading.Thread(
        target=lambda: result.update(
            p=sipp_call(service["tmp"], service["sip_port"], short_pcap, listen_ms=14000, calls=6, rate=20)
        )
    )
    caller.start()

    def up_on_both() -> bool:
        live = {
            k: v
            for k, v in call_logs(service["data"]).items()
            if k not in before and v[-1]["type"] != "call_end"
        }
        return len({worker_port(k) for k in live}) == 2 and len(live) >= 6

    wait_until(up_on_both, 30, "6 calls up on both workers")
    os.kill(victim["pid"], signal.SIGKILL)
    caller.join(timeout=120)
    logs = {k: v for k, v in call_logs(service["data"]).items() if k not in before}
    survivors = {k: v for k, v in logs.items() if worker_port(k) != str(victim["sip_port"])}
    assert survivors, "the other worker had calls"
    for events in survivors.values():  # the other worker's calls went on to their end
        assert events[-1]["type"] == "call_end"
        assert any(
            "shook hands" in e.get("text", "").lower() for e in events if e["type"] == "final_transcript"
        )
    # the supervisor restarted the killed worker, and new calls are answered meanwhile
    proc = sipp_call(service["tmp"], service["sip_port"], short_pcap, listen_ms=14000, calls=2, rate=10)
    assert re.search(r"Successful call\s*\|\s*\d+\s*\|\s*2\b", proc.stdout), proc.stdout[-2500:]

    def restarted() -> bool:
        w = httpx.get(f"{service['api']}/api/sip", headers=serve_auth(service["data"])).json()["workers"][0]
        return w["restarts"] >= 1 and w["alive"]

    wait_until(restarted, 60, "the supervisor to restart the killed worker")
    # the killed worker's calls are in the store as `interrupted`, none left live
    from ivr.records import Store

    victims = {k for k in logs if worker_port(k) == str(victim["sip_port"])}
    store = Store(f"sqlite:///{service['data']}/ivr.sqlite3")
    try:
        rows = {k: store.calls.get(k) for k in victims}
    finally:
        store.close()
    assert victims and all(
        r["outcome"] == "interrupted" and "died" in r["end_reason"] for r in rows.values()
    ), rows


def test_a_taken_sip_port_is_a_clear_error(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [
                *ivr_exe(),
                "serve",
                "--dialplan",
                str(ROOT / "dialplans" / "hotline.yaml"),
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                str(free_port(socket.SOCK_STREAM)),
                "--sip-port",
                str(port),
                "--sip-workers",
                "1",
                "--rtp-port",
                "47400",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ivr: error: kamailio did not start") and "Address already in use" in last
    assert "Traceback" not in proc.stderr


def test_serve_runs_from_its_folder_with_a_relative_data_dir(tmp_path):
    """`make run` uses the default, relative data directory (Kamailio changes directory)."""
    api, sip = free_port(socket.SOCK_STREAM), free_port()
    proc = subprocess.Popen(
        [
            *ivr_exe(),
            "serve",
            "--dialplan",
            str(ROOT / "dialplans" / "hotline.yaml"),
            "--data-dir",
            "data",
            "--port",
            str(api),
            "--sip-port",
            str(sip),
            "--sip-workers",
            "1",
            "--rtp-port",
            "47600",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def up() -> bool:
            assert proc.poll() is None, proc.stdout.read()
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{api}/api/sip", timeout=5, headers=serve_auth(tmp_path / "data")
                )
                return r.json()["kamailio_alive"]
            except httpx.HTTPError:
                return False

        wait_until(up, 120, "ivr serve with a relative data dir")
        assert (tmp_path / "data" / "run" / "kamailio.cfg").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
