"""Several numbers, several dialplans (#31): calls to two numbers, dialled in the formats a
carrier and a person use, reach their own dialplans (each says its own first prompt); a number
the file does not list is refused with 404 and nothing is recorded; a broken edit of the
numbers file is refused and the running one stays. Category: e2e."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from ivr.records import Store
from tests.baresip import baresip_call
from tests.sip_helpers import speech_wav, start_hotline, stop_hotline, wait_until

pytestmark = pytest.mark.e2e

PLAN = """\
name: {name}
start: main
queues: {{}}
nodes:
  main:
    - say: {prompt}
    - hangup:
        reason: resolved
"""
NUMBERS = """\
region: GB
dialplans:
  main: main.yaml
  vip: vip.yaml
numbers:
  "+44 20 7946 0000": {dialplan: main, name: Main line}
  "020 7946 0100": {dialplan: vip, name: VIP line, language: en-GB}
"""


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("numbers")
    (tmp / "main.yaml").write_text(PLAN.format(name="main line", prompt="Welcome to the main line."))
    (tmp / "vip.yaml").write_text(PLAN.format(name="vip line", prompt="Welcome to the priority line."))
    (tmp / "numbers.yaml").write_text(NUMBERS)
    served = start_hotline(
        tmp, lambda t, sip: tmp / "main.yaml", env={"IVR_NUMBERS": str(tmp / "numbers.yaml")}
    )
    yield served
    stop_hotline(served)


def _said_first(hotline) -> list[str]:  # type: ignore[no-untyped-def]
    """Each recorded call's first prompt, oldest call first."""
    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        calls = sorted(store.calls.list().calls, key=lambda c: c["started_at"])
        out = []
        for c in calls:
            events = store.calls.get(c["id"])["events"]
            out.append(next((e["text"] for e in events if e["type"] == "say"), ""))
        return out
    finally:
        store.close()


def _invite_status(port: int, user: str) -> int:
    """The final status a bare INVITE to `user` gets (then ACKed, as a phone would)."""
    call_id, tag, branch = uuid.uuid4().hex, uuid.uuid4().hex[:8], "z9hG4bK" + uuid.uuid4().hex[:10]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(10)
        me = s.getsockname()[1]
        sdp = f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {me + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        head = (
            f"INVITE sip:{user}@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:+447700900009@127.0.0.1:{me}>;tag={tag}\r\n"
            f"To: <sip:{user}@127.0.0.1:{port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:+447700900009@127.0.0.1:{me}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n"
        )
        s.sendto((head + sdp).encode(), ("127.0.0.1", port))
        while True:
            reply = s.recv(65535).decode(errors="replace")
            status = int(reply.split(" ", 2)[1])
            if status >= 200:
                to = next(line for line in reply.split("\r\n") if line.lower().startswith("to:"))
                ack = (
                    f"ACK sip:{user}@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch={branch};rport\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:+447700900009@127.0.0.1:{me}>;tag={tag}\r\n{to}\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                )
                s.sendto(ack.encode(), ("127.0.0.1", port))
                return status


def test_two_numbers_in_two_formats_reach_their_dialplans_and_an_unknown_number_gets_404(hotline, tmp_path):
    wav = speech_wav(tmp_path / "quiet.wav", [(None, 6)])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    baresip_call(
        tmp_path / "a", f"sip:02079460000@127.0.0.1:{hotline['sip']}", wav, 6
    )  # as a person dials it
    baresip_call(
        tmp_path / "b", f"sip:442079460100@127.0.0.1:{hotline['sip']}", wav, 6
    )  # as a trunk sends it
    wait_until(lambda: len(_said_first(hotline)) == 2, 30, "both calls recorded")
    assert _said_first(hotline) == ["Welcome to the main line.", "Welcome to the priority line."]
    assert _invite_status(hotline["sip"], "+442079469999") == 404
    assert _invite_status(hotline["sip"], "hotline") == 404  # not listed in this file either
    assert len(_said_first(hotline)) == 2  # a refused call is not a call: nothing recorded


def test_a_broken_numbers_file_is_refused_and_the_running_one_stays(hotline, tmp_path):
    numbers = Path(hotline["tmp"]) / "numbers.yaml"
    good = numbers.read_text()
    numbers.write_text(good.replace("dialplan: vip", "dialplan: vipp"))
    try:
        wait_until(
            lambda: any(
                "numbers file refused" in p.read_text() for p in Path(hotline["run"]).glob("worker-*.log")
            ),
            30,
            "the worker to refuse the edit",
        )
        assert _invite_status(hotline["sip"], "02079460100") != 404  # still the VIP line
    finally:
        numbers.write_text(good)
