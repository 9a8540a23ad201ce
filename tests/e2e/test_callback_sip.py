"""Priority over real SIP: a VIP caller who calls later is put through before a standard
caller already waiting. (The callback's whole path, through a carrier's trunk, is in
test_trunk_out_sip.)"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from ivr.records import Store
from speech.audio import decode_file
from tests.baresip import BaresipAgent
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
QUEUE = ROOT / "tests" / "sip" / "queue.yaml"
CALLER = "07700900123"


def keys_pcap(path: Path, seconds: float, digits: list[tuple[float, str]]) -> Path:
    """A caller who says nothing and presses `digits` [(second, key)]."""
    write_rtp_pcap(path, np.zeros(int(seconds * 8000), np.float32), digits)
    return path


def records(data: Path) -> list[dict]:
    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    try:
        return [store.calls.get(c["id"]) for c in store.calls.list().calls if c["status"] == "ended"]
    finally:
        store.close()


def test_a_vip_caller_is_put_through_before_a_standard_caller_who_waited_longer(tmp_path, engines):
    served = start_hotline(
        tmp_path / "hotline", lambda tmp, sip: QUEUE, directory=[("07700900999", "Vera Important", "vip")]
    )
    ann = None
    try:
        ann_wav = speech_wav(tmp_path / "ann.wav", [(None, 14), ("cmu_arctic_us_aew_a0001.wav", 4)])
        ann = BaresipAgent(
            tmp_path, ann_wav, seconds=200, register=("ann", AGENT_PASSWORD, served["sip"]), name="ann"
        )
        wait_until(
            lambda: any(f":{ann.port}" in c for c in registered(served["run"])), 20, "ann's phone registered"
        )
        import httpx

        auth = serve_auth(served["data"])
        # ann is signed in but away: both callers wait (the standard one first)
        r = httpx.post(
            f"{served['api']}/api/agents/ann/state", json={"state": "away", "reason": "meeting"}, headers=auth
        )
        assert r.status_code == 200, r.text
        silence = keys_pcap(tmp_path / "quiet.pcap", 50, [])
        results: dict[str, object] = {}

        def call(who: str, number: str, seconds: int, media_port: int) -> None:
            results[who] = sipp_call(
                tmp_path / who, served["sip"], silence, seconds * 1000, caller=number, media_port=media_port
            )

        (tmp_path / "standard").mkdir()
        (tmp_path / "vip").mkdir()
        standard = threading.Thread(
            target=call, args=("standard", "07700900001", 28, free_port())
        )  # gone before ann is free again
        standard.start()
        wait_until(lambda: _waiting(served["data"]) >= 1, 30, "the standard caller queued")
        vip = threading.Thread(target=call, args=("vip", "07700900999", 50, free_port()))
        vip.start()
        wait_until(lambda: _waiting(served["data"]) >= 2, 30, "the VIP queued too")
        r = httpx.post(f"{served['api']}/api/agents/ann/state", json={"state": "available"}, headers=auth)
        assert r.status_code == 200, r.text
        to_ann = transcribe(engines, *decode_file(ann.heard()))
        standard.join(120)
        vip.join(120)
        calls = wait_until(
            lambda: (lambda rs: rs if len(rs) == 2 else None)(records(served["data"])), 60, "both records"
        )
    finally:
        if ann is not None:
            ann.stop()
        stop_hotline(served)
    # the briefing: "VIP caller Vera Important, ..." (whisper tiny spells the tier "VIP" or "bip")
    # whisper tiny hears the synthetic briefing as "vip"/"bip" and "caller"/"collar": the words'
    # sounds are what the agent's phone carried
    assert (
        re.search(r"\b[vb]\.? ?i\.? ?p\b", to_ann)
        and re.search(r"\bc[ao]ll[ae]r\b", to_ann)
        and "important" in to_ann
    ), to_ann
    by = {c["caller"][-4:]: c for c in calls}
    joins = {k: next(e for e in c["events"] if e["type"] == "queue_join") for k, c in by.items()}
    assert joins["0001"]["position"] == 1 and joins["0999"]["position"] == 1, joins  # the VIP went ahead
    assert joins["0999"]["priority"] > joins["0001"]["priority"]
    offered = {k: [e["agent"] for e in c["events"] if e["type"] == "agent_offer"] for k, c in by.items()}
    assert offered["0999"][:1] == ["ann"] and offered["0001"] == [], offered


def _waiting(data: Path) -> int:
    from ivr.acd.engine import Acd

    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    try:
        return Acd(store.engine, {}).waiting_count()
    finally:
        store.close()
