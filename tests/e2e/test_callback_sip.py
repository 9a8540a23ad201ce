"""Callbacks and priority over real SIP: a caller who finds nobody signed in takes a callback
by pressing 1 and hangs up; when an agent becomes available their phone rings with the
briefing, then the IVR dials the caller (a baresip that answers) and puts them through. And
a VIP caller who calls later is put through before a standard caller already waiting."""

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


def test_nobody_signed_in_a_callback_by_dtmf_then_the_agent_and_the_caller(tmp_path, engines):
    # the phone the callback reaches: answers, says its piece after the greeting, records
    callee_wav = speech_wav(tmp_path / "callee.wav", [(None, 8), ("jfk.flac", 40)])
    callee = BaresipAgent(tmp_path, callee_wav, seconds=300, name="callee", user=CALLER)
    served = start_hotline(
        tmp_path / "hotline",
        lambda tmp, sip: QUEUE,
        env={"IVR_CALLBACK_URI": f"sip:{{number}}@127.0.0.1:{callee.port}"},
    )
    ann = None
    try:
        # nobody is signed in: the caller hears so, presses 1 (the number they call from), hangs up
        pcap = keys_pcap(tmp_path / "keys.pcap", 30, [(9.0, "1")])
        done = sipp_call(tmp_path, served["sip"], pcap, 30000, caller=CALLER)
        assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
        (first,) = wait_until(lambda: records(served["data"]) or None, 60, "the caller's record")
        assert first["outcome"] == "callback", (first["outcome"], first["end_reason"])
        leave = next(e for e in first["events"] if e["type"] == "queue_leave")
        assert leave["reason"] == "callback" and leave["number"] == CALLER
        said = " ".join(t["text"] for t in first["transcript"] if t["speaker"] == "ivr").lower()
        assert (
            "none of our agents is signed in" in said and "call you back on the number ending 0 1 2 3" in said
        ), said
        # ann signs in later: her phone rings first, with the briefing, then the caller's rings
        ann_wav = speech_wav(tmp_path / "ann.wav", [(None, 16), ("cmu_arctic_us_aew_a0001.wav", 14)])
        ann = BaresipAgent(
            tmp_path, ann_wav, seconds=200, register=("ann", AGENT_PASSWORD, served["sip"]), name="ann"
        )
        wait_until(
            lambda: any(f":{ann.port}" in c for c in registered(served["run"])), 20, "ann's phone registered"
        )
        import httpx

        r = httpx.post(
            f"{served['api']}/api/agents/ann/state",
            json={"state": "available"},
            headers=serve_auth(served["data"]),
        )
        assert r.status_code == 200, r.text
        ann_heard = ann.heard()
        (back,) = wait_until(
            lambda: [c for c in records(served["data"]) if c["id"] != first["id"]] or None,
            90,
            "the callback's record",
        )
    finally:
        if ann is not None:
            ann.stop()
        callee.stop()
        stop_hotline(served)
    to_ann = transcribe(engines, *decode_file(ann_heard))
    assert "call back" in to_ann and "roaming" in to_ann and "calling them now" in to_ann, to_ann
    assert "country" in to_ann, to_ann  # then the caller, put through
    callee_heard = transcribe(engines, *decode_file(callee.heard()))
    assert "call back you asked for" in callee_heard and "danger trail" in callee_heard, callee_heard
    assert back["outcome"] == "transferred" and back["caller"].endswith("7700900123"), back
    outcomes = [e.get("outcome") for e in back["events"] if e["type"] == "transfer"]
    assert outcomes[-1] == "bridged", outcomes
    speakers = {t["speaker"] for t in back["transcript"]}
    assert {"agent", "caller", "ivr"} <= speakers, back["transcript"]


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
