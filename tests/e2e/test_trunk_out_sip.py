"""A callback leaves through the carrier's trunk (#31): a caller who came in through the
carrier (sipp, from the trunk's address, its number as the carrier sends it) takes a
callback; when an agent is free the IVR dials the caller's number in E.164 through
Kamailio, which sends it to the carrier over TLS; the carrier (a second Kamailio) challenges
with 401, and the INVITE it then takes carries the trunk's account and the caller ID the admin
set; the caller's phone behind the carrier (baresip) answers and is put through to the
agent: the agent hears the briefing, then the caller; the caller hears the agent. (This is
the callback's whole path; IVR_CALLBACK_URI only changes the URI dialled.) Category: e2e."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from ivr.app import tls
from ivr.records import Store
from speech.audio import decode_file
from tests.baresip import BaresipAgent
from tests.carrier import Carrier
from tests.sip_helpers import (
    AGENT_PASSWORD,
    free_port,
    registered,
    serve_auth,
    sipp_call,
    speech_wav,
    start_hotline,
    stop_hotline,
    transcribe,
    wait_until,
)
from tests.tools.pcap import write_rtp_pcap

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NUMBERS = """\
region: GB
dialplans:
  support: {queue}
numbers:
  "+44 20 7946 0000": support
trunks:
  carrier:
    addresses: ["127.0.0.1:{inbound}"]
    proxy: sip:127.0.0.1:{carrier};transport=tls
    prefixes: ["+44"]
    username: acme
    password: s3cret
    caller_id: 020 7946 0000
"""


def _ended(data: Path) -> list[dict]:
    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    try:
        return [store.calls.get(c["id"]) for c in store.calls.list().calls if c["status"] == "ended"]
    finally:
        store.close()


def test_a_callback_leaves_through_the_trunk_with_its_account_and_caller_id(tmp_path, engines):
    callee_wav = speech_wav(tmp_path / "callee.wav", [(None, 8), ("jfk.flac", 30)])
    callee = BaresipAgent(tmp_path, callee_wav, seconds=300, name="callee", user="+447700900123")
    own = tls.self_signed(tmp_path / "cert", ["127.0.0.1"])  # the carrier's: the trunk is over TLS
    carrier = Carrier(tmp_path / "carrier", callee.port, tls=(own.cert, own.key))
    inbound = free_port()
    hotline_dir = tmp_path / "hotline"
    hotline_dir.mkdir()
    numbers = hotline_dir / "numbers.yaml"
    queue = ROOT / "tests" / "sip" / "queue.yaml"
    numbers.write_text(NUMBERS.format(queue=queue, inbound=inbound, carrier=carrier.tls_port))
    served = start_hotline(hotline_dir, lambda tmp, sip: queue, env={"IVR_NUMBERS": str(numbers)})
    ann = None
    try:
        # the carrier delivers a caller ("447700900123", its format) to the main number; nobody
        # is signed in: the caller presses 1 for a callback on the number they call from
        pcap = tmp_path / "keys.pcap"
        write_rtp_pcap(pcap, np.zeros(30 * 8000, np.float32), [(9.0, "1")])
        done = sipp_call(tmp_path, served["sip"], pcap, 30000, caller="447700900123",
                         local_port=inbound, service="442079460000")  # fmt: skip
        assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
        (first,) = wait_until(lambda: _ended(served["data"]) or None, 60, "the caller's record")
        assert first["outcome"] == "callback", (first["outcome"], first["end_reason"])
        assert first["caller"] == "+447700900123"  # normalised from the carrier's format
        ann_wav = speech_wav(tmp_path / "ann.wav", [(None, 16), ("cmu_arctic_us_aew_a0001.wav", 14)])
        ann = BaresipAgent(
            tmp_path, ann_wav, seconds=200, register=("ann", AGENT_PASSWORD, served["sip"]), name="ann"
        )
        wait_until(
            lambda: any(f":{ann.port}" in c for c in registered(served["run"])), 20, "ann's phone registered"
        )
        r = httpx.post(f"{served['api']}/api/agents/ann/state", json={"state": "available"},
                       headers=serve_auth(served["data"]))  # fmt: skip
        assert r.status_code == 200, r.text
        ann_heard = ann.heard()
        (back,) = wait_until(
            lambda: [c for c in _ended(served["data"]) if c["id"] != first["id"]] or None,
            120,
            "the callback's record",
        )
        ann.stop()
        ann = None
    finally:
        if ann is not None:
            ann.stop()
        callee.stop()
        carrier.stop()
        stop_hotline(served)
    assert carrier.challenges() >= 1  # the carrier asked for credentials first
    (invite,) = carrier.invites()
    assert invite["user"] == "acme" and invite["proto"] == "tls"  # over TLS, with the trunk's account
    assert invite["ru"].startswith("sip:+447700900123@127.0.0.1")
    assert invite["from"].startswith("sip:+442079460000@")  # the caller ID the admin set
    assert invite["pai"].startswith("<sip:+442079460000@")
    outcomes = [e.get("outcome") for e in back["events"] if e["type"] == "transfer"]
    assert back["outcome"] == "transferred" and outcomes[-1] == "bridged", (back["outcome"], outcomes)
    to_ann = transcribe(engines, *decode_file(ann_heard))  # her briefing, then the caller
    assert "call back" in to_ann and "roaming" in to_ann and "calling them now" in to_ann, to_ann
    assert "country" in to_ann, to_ann
    heard = transcribe(engines, *decode_file(callee.heard()))  # behind the carrier: put through
    assert "call back you asked for" in heard and "danger trail" in heard, heard
    assert {"agent", "caller", "ivr"} <= {t["speaker"] for t in back["transcript"]}
