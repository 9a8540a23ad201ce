"""Transfers to an agent's phone over real SIP on 127.0.0.1. Category: e2e.

The bridge: the worker dials an agent's phone (baresip, answering automatically), whispers
the call's summary to the agent only, then connects the caller (baresip) to the agent.
Each side's recording is run through whisper: the agent heard the whisper and the caller,
the caller heard the agent and never the whisper. Busy agents and blind transfers (REFER)
are driven by sipp.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import soundfile as sf

from speech.audio import decode_file
from tests.baresip import BaresipAgent, baresip_call
from tests.sip_helpers import ROOT, Worker, free_port, sipp_call, speech_pcap, speech_wav, transcribe

pytestmark = pytest.mark.e2e


def _dialplan(tmp_path, uri: str, mode: str = "bridge"):
    text = (ROOT / "tests" / "sip" / "bridge.yaml").read_text()
    path = tmp_path / "bridge.yaml"
    path.write_text(text.replace("@AGENT_URI@", uri).replace("@MODE@", mode))
    return path


def test_bridge_whispers_to_the_agent_then_connects_the_caller(tmp_path, engines):
    # the agent waits out the whisper, introduces themself, listens, then hangs up (WAV ends)
    agent_wav = speech_wav(tmp_path / "agent.wav", [(None, 10), ("cmu_arctic_us_aew_a0001.wav", 22)])
    agent = BaresipAgent(tmp_path, agent_wav, seconds=120)
    worker = Worker(tmp_path / "data", _dialplan(tmp_path, agent.uri))
    try:
        # the caller hears the greeting and the agent, speaks to the agent, stays on the line;
        # they say it twice, so the agent hears it however long the dialing and whisper took
        caller_wav = speech_wav(tmp_path / "caller.wav", [(None, 14), ("jfk.flac", 4), ("jfk.flac", 15)])
        heard = baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{worker.sip_port}", caller_wav, seconds=55)
        (events,) = worker.wait_calls_ended(1)
        agent_heard_path = agent.heard()
    finally:
        worker.stop()
        agent.stop()

    bridge = [e for e in events if e["type"] == "bridge"]
    assert [e["state"] for e in bridge] == ["dialing", "connected"], bridge
    assert events[-1]["type"] == "call_end" and events[-1]["reason"] == "agent hung up", events[-1]

    samples, rate = decode_file(agent_heard_path)
    agent_heard = transcribe(engines, samples, rate)
    assert "roaming" in agent_heard, agent_heard  # the whisper
    assert "country" in agent_heard, agent_heard  # the caller, once connected

    samples, rate = decode_file(heard)
    caller_heard = transcribe(engines, samples, rate)
    assert "connecting you to billing" in caller_heard, caller_heard
    assert "danger" in caller_heard or "trail" in caller_heard, caller_heard  # the agent
    assert "roaming" not in caller_heard, caller_heard  # the whisper is for the agent only

    # the call's recording: the caller on the left, what the caller heard (IVR, agent) on the right
    (wav,) = (tmp_path / "data" / "calls").glob("*.wav")
    stereo, rate = sf.read(wav, dtype="float32")
    right = transcribe(engines, stereo[:, 1], rate)
    assert "danger" in right or "trail" in right, right
    assert "country" in transcribe(engines, stereo[:, 0], rate)


def test_busy_agent_the_caller_is_told_and_not_dropped(tmp_path):
    port = free_port()
    busy = subprocess.Popen(
        ["sipp", "-sf", str(ROOT / "tests" / "sip" / "uas_busy.xml"), "-i", "127.0.0.1", "-p", str(port)]
        + ["-m", "1", "-nostdin"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = Worker(tmp_path / "data", _dialplan(tmp_path, f"sip:billing@127.0.0.1:{port}"))
    try:
        pcap = tmp_path / "silence.pcap"
        speech_pcap(pcap, 1.0, [], 1.0)
        result = sipp_call(tmp_path, worker.sip_port, pcap, listen_ms=40000)
        (events,) = worker.wait_calls_ended(1)
    finally:
        worker.stop()
        busy.kill()  # a sipp UAS that never got its call was once left behind by terminate()
        busy.wait(timeout=10)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    bridge = [(e["state"], e.get("reason", "")) for e in events if e["type"] == "bridge"]
    assert [s for s, _ in bridge] == ["dialing", "busy"], bridge
    assert bridge[-1][1].startswith("486"), bridge
    said = [e["text"] for e in events if e["type"] == "say"]
    assert said[-1].startswith("Sorry, the billing team cannot take your call"), said
    assert [e["reason"] for e in events if e["type"] == "hangup"] == ["transfer to billing busy"]


def test_blind_transfer_refers_the_callers_phone(tmp_path):
    worker = Worker(tmp_path / "data", _dialplan(tmp_path, "sip:billing@127.0.0.1:5999", mode="refer"))
    try:
        scenario = (ROOT / "tests" / "sip" / "uac_refer.xml").read_text()
        xml = tmp_path / "uac_refer.xml"
        xml.write_text(scenario)
        (tmp_path / "callers.csv").write_text("SEQUENTIAL\n+447700900003\n")
        trace = tmp_path / "messages.log"
        result = subprocess.run(
            ["sipp", f"127.0.0.1:{worker.sip_port}", "-sf", str(xml), "-inf", str(tmp_path / "callers.csv")]
            + ["-s", "hotline", "-m", "1", "-i", "127.0.0.1", "-p", str(free_port())]
            + ["-mp", str(free_port()), "-nostdin", "-timeout", "90s", "-trace_msg"]
            + ["-message_file", str(trace)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        (events,) = worker.wait_calls_ended(1)
    finally:
        worker.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    messages = trace.read_text()
    refer = messages[messages.index("REFER sip:") :]
    assert re.search(r"^Refer-To: <?sip:billing@127.0.0.1:5999>?$", refer.split("\n\n")[0], re.M), refer[:800]
    bridge = [(e["state"], e.get("mode")) for e in events if e["type"] == "bridge"]
    assert bridge == [("dialing", "refer"), ("connected", "refer")], bridge
    assert events[-1]["reason"] == "transferred", events[-1]
