"""Agents' phones sign in to the hotline: baresip REGISTERs to Kamailio with the agent's own
password (checked against the store's HA1 by Kamailio's auth_db), a wrong password is
refused and never rings, and a transfer to sip:NAME@hotline reaches the phone the agent
registered, whisper first."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ivr.records import Store
from ivr.telephony.kamailio import kamcmd
from speech.audio import decode_file
from tests.baresip import BaresipAgent, baresip_call
from tests.sip_helpers import (
    AGENT_PASSWORD as PASSWORD,
)
from tests.sip_helpers import (
    bridge_plan,
    free_port,
    registered,
    speech_wav,
    start_hotline,
    stop_hotline,
    transcribe,
    wait_until,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    served = start_hotline(tmp_path_factory.mktemp("agents"), bridge_plan)
    yield served
    stop_hotline(served)


@pytest.fixture(scope="module")
def queued(tmp_path_factory):
    served = start_hotline(
        tmp_path_factory.mktemp("queue"), lambda tmp, sip: ROOT / "tests" / "sip" / "queue.yaml"
    )
    yield served
    stop_hotline(served)


def test_a_wrong_password_is_refused_and_never_registers(hotline, tmp_path):
    wav = speech_wav(tmp_path / "quiet.wav", [(None, 5)])
    # from an address of its own: its retries get that address blocked, not the agents'
    intruder = BaresipAgent(
        tmp_path,
        wav,
        seconds=20,
        register=("ann", "wrongpass1", hotline["sip"]),
        name="intruder",
        host="127.0.0.3",
    )
    try:
        # refused: 401 to each wrong digest, and 403 once baresip's retries get its address blocked
        refused = ("401 Unauthorized", "403 Forbidden")
        wait_until(
            lambda: any(r in intruder.log.read_text(errors="replace") for r in refused),
            20,
            "the digest refused",
        )
        assert not any(f":{intruder.port}" in c for c in registered(hotline["run"]))
    finally:
        intruder.stop()


def test_a_registered_agent_gets_the_whisper_then_the_caller(hotline, tmp_path, engines):
    # the agent waits out the whisper, introduces themself, listens, then hangs up (WAV ends)
    agent_wav = speech_wav(tmp_path / "agent.wav", [(None, 10), ("cmu_arctic_us_aew_a0001.wav", 22)])
    agent = BaresipAgent(tmp_path, agent_wav, seconds=120, register=("ann", PASSWORD, hotline["sip"]))
    try:
        wait_until(
            lambda: any(f":{agent.port}" in c for c in registered(hotline["run"])),
            20,
            "ann's phone registered",
        )
        caller_wav = speech_wav(tmp_path / "caller.wav", [(None, 14), ("jfk.flac", 4), ("jfk.flac", 15)])
        heard = baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{hotline['sip']}", caller_wav, seconds=55)
        agent_heard = agent.heard()
    finally:
        agent.stop()
    samples, rate = decode_file(agent_heard)
    said_to_agent = transcribe(engines, samples, rate)
    assert "roaming" in said_to_agent and "country" in said_to_agent, (
        said_to_agent
    )  # whisper, then the caller
    samples, rate = decode_file(heard)
    caller_heard = transcribe(engines, samples, rate)
    assert "connecting you to billing" in caller_heard and "roaming" not in caller_heard, caller_heard
    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        (call,) = wait_until(
            lambda: [c for c in store.calls.list().calls if c["status"] == "ended"] or None, 60, "the record"
        )
    finally:
        store.close()
    assert call["outcome"] == "transferred" and call["queue"] == "billing" and call["tier"] == "L2", call


def test_the_queue_rings_the_next_agent_when_one_does_not_answer(queued, tmp_path, engines):
    """bob has waited longest but never answers: he is set away after his miss, and ann, the
    next, gets the whisper and then the caller; the record holds the whole wait."""
    import httpx

    from tests.sip_helpers import serve_auth

    silent = speech_wav(tmp_path / "silent.wav", [(None, 60)])
    bob = BaresipAgent(
        tmp_path,
        silent,
        seconds=120,
        register=("bob", PASSWORD, queued["sip"]),
        name="bob",
        auto_answer=False,
    )
    agent_wav = speech_wav(tmp_path / "agent.wav", [(None, 10), ("cmu_arctic_us_aew_a0001.wav", 22)])
    ann = BaresipAgent(
        tmp_path, agent_wav, seconds=120, register=("ann", PASSWORD, queued["sip"]), name="ann"
    )
    auth = serve_auth(queued["data"])
    try:
        wait_until(lambda: len(registered(queued["run"])) >= 2, 20, "both phones registered")
        for name in ("bob", "ann"):  # bob first: he has been idle longest
            r = httpx.post(
                f"{queued['api']}/api/agents/{name}/state", json={"state": "available"}, headers=auth
            )
            assert r.status_code == 200, r.text
        caller_wav = speech_wav(tmp_path / "caller.wav", [(None, 24), ("jfk.flac", 4), ("jfk.flac", 15)])
        heard = baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{queued['sip']}", caller_wav, seconds=70)
        ann_heard = ann.heard()
    finally:
        ann.stop()
        bob.stop()
    said_to_ann = transcribe(engines, *decode_file(ann_heard))
    assert "roaming" in said_to_ann and "country" in said_to_ann, said_to_ann
    caller_heard = transcribe(engines, *decode_file(heard))
    assert "find someone" in caller_heard and "roaming" not in caller_heard, caller_heard
    store = Store(f"sqlite:///{queued['data']}/ivr.sqlite3")
    try:
        (call,) = wait_until(
            lambda: [c for c in store.calls.list().calls if c["status"] == "ended"] or None, 60, "the record"
        )
        call = store.calls.get(call["id"])
        bob_state = store.agents.get("bob")
    finally:
        store.close()
    kinds = [e["type"] for e in call["events"]]
    offers = [(e["agent"], e.get("outcome", "ringing")) for e in call["events"] if e["type"] == "agent_offer"]
    assert offers == [("bob", "ringing"), ("bob", "no_answer"), ("ann", "ringing"), ("ann", "bridged")], (
        offers
    )
    assert "queue_join" in kinds, kinds
    assert [e.get("outcome") for e in call["events"] if e["type"] == "transfer"] == [None, "bridged"]
    # both sides transcribed into the record: the caller's words, and ann's once put through
    said = {
        who: " ".join(t["text"].lower() for t in call["transcript"] if t["speaker"] == who)
        for who in ("caller", "agent")
    }
    assert "country" in said["caller"] and "danger trail" in said["agent"], said
    leave = next(e for e in call["events"] if e["type"] == "queue_leave")
    assert leave["reason"] == "answered" and leave["agent"] == "ann" and leave["wait_ms"] > 5000
    assert call["outcome"] == "transferred" and call["queue"] == "billing"
    assert bob_state.state == "away" and bob_state.reason == "missed"


def test_an_agent_who_hangs_up_during_the_briefing_passes_the_caller_on(queued, tmp_path, engines):
    """ann answers and hangs up two seconds into the briefing: the caller stays at the head of
    the queue and bob, the next agent, gets the whisper and then the caller."""
    import httpx

    from tests.sip_helpers import serve_auth

    short = speech_wav(tmp_path / "short.wav", [(None, 2)])
    ann = BaresipAgent(tmp_path, short, seconds=120, register=("ann", PASSWORD, queued["sip"]), name="ann2")
    bob_wav = speech_wav(tmp_path / "bob.wav", [(None, 10), ("cmu_arctic_us_aew_a0001.wav", 22)])
    bob = BaresipAgent(tmp_path, bob_wav, seconds=120, register=("bob", PASSWORD, queued["sip"]), name="bob2")
    auth = serve_auth(queued["data"])
    store = Store(f"sqlite:///{queued['data']}/ivr.sqlite3")
    before = {c["id"] for c in store.calls.list().calls}
    try:
        wait_until(
            lambda: (
                {f":{ann.port}", f":{bob.port}"} <= {c[c.rfind(":") :] for c in registered(queued["run"])}
            ),
            20,
            "both phones",
        )
        for name in ("ann", "bob"):  # ann first: she has been idle longest
            r = httpx.post(
                f"{queued['api']}/api/agents/{name}/state", json={"state": "available"}, headers=auth
            )
            assert r.status_code == 200, r.text
        caller_wav = speech_wav(tmp_path / "caller.wav", [(None, 22), ("jfk.flac", 4), ("jfk.flac", 15)])
        baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{queued['sip']}", caller_wav, seconds=70)
        bob_heard = bob.heard()
        (call,) = wait_until(
            lambda: [c for c in store.calls.list().calls if c["id"] not in before and c["status"] == "ended"] or None,
            60, "the record",
        )  # fmt: skip
        call = store.calls.get(call["id"])
    finally:
        ann.stop()
        bob.stop()
        store.close()
    said_to_bob = transcribe(engines, *decode_file(bob_heard))
    assert "roaming" in said_to_bob and "country" in said_to_bob, said_to_bob
    offers = [(e["agent"], e.get("outcome", "ringing")) for e in call["events"] if e["type"] == "agent_offer"]
    assert offers == [("ann", "ringing"), ("ann", "requeued"), ("bob", "ringing"), ("bob", "bridged")], offers
    bridges = [
        (e["uri"].split("@")[0], e["state"], e.get("reason", ""))
        for e in call["events"]
        if e["type"] == "bridge"
    ]
    assert ("sip:ann", "failed", "the agent hung up during the briefing") in bridges, bridges
    assert call["outcome"] == "transferred"


def blocked_yet_ann_signs_in(hotline, tmp_path, address: str, phone: str) -> None:  # type: ignore[no-untyped-def]
    """Kamailio counted 10+ failed digests from `address`, and ann's phone from 127.0.0.1 still
    signs in."""
    failed = kamcmd(hotline["run"], "htable.get", "authfail", address) or ""
    assert any(int(n) >= 10 for n in re.findall(r"value: (\d+)", failed)), failed
    wav = speech_wav(tmp_path / "quiet.wav", [(None, 5)])
    good = BaresipAgent(tmp_path, wav, seconds=30, register=("ann", PASSWORD, hotline["sip"]), name=phone)
    try:
        wait_until(
            lambda: any(f":{good.port}" in c for c in registered(hotline["run"])), 20, "ann from 127.0.0.1"
        )
    finally:
        good.stop()


def test_an_address_that_keeps_guessing_is_blocked_and_others_are_not(hotline, tmp_path):
    """12 wrong digests from 127.0.0.2: that address is refused (403) even with the right
    password, while ann's phone on 127.0.0.1 still signs in."""
    xml = ROOT / "tests" / "sip" / "uac_register_guess.xml"
    proc = subprocess.run(
        ["sipp", f"127.0.0.1:{hotline['sip']}", "-sf", str(xml), "-m", "12", "-l", "1", "-r", "5",
         "-i", "127.0.0.2", "-p", str(free_port()), "-nostdin", "-timeout", "60s"],
        capture_output=True, text=True, timeout=90, cwd=tmp_path,
    )  # fmt: skip
    assert "Successful call" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    blocked_yet_ann_signs_in(hotline, tmp_path, "127.0.0.2", "ann3")
    # the guesser's address, with the right password now, is still refused
    sure = tmp_path / "right.xml"
    sure.write_text(xml.read_text().replace("password=wrongguess]", f"password={PASSWORD}]"))
    proc = subprocess.run(
        ["sipp", f"127.0.0.1:{hotline['sip']}", "-sf", str(sure), "-m", "1", "-i", "127.0.0.2",
         "-p", str(free_port()), "-nostdin", "-timeout", "20s", "-trace_msg", "-message_file", str(tmp_path / "msg.log")],
        capture_output=True, text=True, timeout=40, cwd=tmp_path,
    )  # fmt: skip
    assert "SIP/2.0 403 Forbidden" in (tmp_path / "msg.log").read_text()


def test_svcrack_from_sipvicious_is_blocked_before_it_reaches_the_right_password(hotline, tmp_path):
    """The attacker's tool: sipvicious svcrack tries a dictionary against ann from 127.0.0.4,
    the right password 15th. After 10 wrong digests the address gets 403 to everything, so the
    tool never gets to send it (it re-asks for a challenge forever); ann still signs in from
    127.0.0.1. (svcrack 0.3.8 ignores its -b option: tests/tools/svcrack_from.py binds it.)"""
    import sys

    words = [f"guess{i:02d}" for i in range(14)] + [PASSWORD] + [f"later{i}" for i in range(5)]
    (tmp_path / "dict.txt").write_text("\n".join(words) + "\n")
    log = tmp_path / "svcrack.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "tools" / "svcrack_from.py"), "127.0.0.4", "-u", "ann",
             "-d", str(tmp_path / "dict.txt"), "-P", str(free_port()), "-vv", f"udp://127.0.0.1:{hotline['sip']}"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        try:
            # blocked: 403 to each of its requests (it would loop on them until stopped)
            wait_until(
                lambda: log.read_text().count("SIP/2.0 403 Forbidden") >= 20 or proc.poll() is not None,
                60,
                "svcrack refused",
            )
        finally:
            proc.kill()
            proc.wait(timeout=10)
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "SIP/2.0 200 OK" not in text and text.count("SIP/2.0 403 Forbidden") >= 20, text[-3000:]
    assert (
        text.count("Sending REGISTER with auth=True") < words.index(PASSWORD) + 1
    )  # never got to the right one
    blocked_yet_ann_signs_in(hotline, tmp_path, "127.0.0.4", "ann4")
