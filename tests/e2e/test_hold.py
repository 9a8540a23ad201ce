"""A caller on hold: music played by the transport (pjmedia on a SIP call, no per-frame work
in Python until the caller speaks), the call's clock running on, words or keys ending it.
Category: e2e."""

from __future__ import annotations

import json
import subprocess
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.sip_helpers import ROOT, Worker, fixture_pcap, sipp_call

pytestmark = pytest.mark.e2e
HOLD = ROOT / "tests" / "dialplans" / "good" / "hold.yaml"
SCRIPTS = ROOT / "tests" / "scripts"


def replay(ivr_cmd, script: str, tmp_path: Path) -> list[dict]:
    proc = subprocess.run(
        [
            *ivr_cmd,
            "replay",
            "--dialplan",
            str(HOLD),
            "--script",
            str(SCRIPTS / script),
            "--json",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(x) for x in proc.stdout.splitlines()]


def test_a_silent_caller_holds_for_the_set_time_then_the_dialplan_goes_on(ivr_cmd, tmp_path):
    events = replay(ivr_cmd, "hold_silent.yaml", tmp_path)
    start = next(e for e in events if e["type"] == "hold" and e["state"] == "start")
    end = next(e for e in events if e["type"] == "hold" and e["state"] == "end")
    assert 5000 <= end["t_ms"] - start["t_ms"] <= 5600
    assert start["music"] == "hold-8k.wav"
    after = [e["text"] for e in events if e["type"] == "say" and e["t_ms"] >= end["t_ms"]]
    assert after[:1] == ["Thank you for holding."]
    assert not any(e["type"] == "hangup" and e["reason"] == "silence" for e in events)


def test_words_on_hold_end_it_and_reach_the_global_handlers(ivr_cmd, tmp_path):
    events = replay(ivr_cmd, "hold_asks_for_agent.yaml", tmp_path)
    types = [e["type"] for e in events]
    end = types.index("hold", types.index("hold") + 1)
    assert types.index("final_transcript") < end
    (transfer,) = [e for e in events if e["type"] == "transfer"]
    assert transfer["queue"] == "general"


@pytest.fixture(scope="module")
def pcap(tmp_path_factory):
    return fixture_pcap(tmp_path_factory.mktemp("pcap") / "hold.pcap", 9, 3)


def test_on_a_sip_call_the_held_caller_is_heard_again_when_they_speak(tmp_path, pcap):
    """The music is pjmedia's and the caller's frames stop; their voice (pjmedia's receive
    level) brings the listening back: the words are transcribed, the hold ends, and the
    call's clock and recording ran on through the hold."""
    dialplan = tmp_path / "hold.yaml"
    dialplan.write_text(HOLD.read_text().replace("seconds: 5", "seconds: 60"))
    worker = Worker(tmp_path / "data", dialplan, rtp_port=44800)
    try:
        caller = threading.Thread(
            target=sipp_call, args=(tmp_path, worker.sip_port, pcap), kwargs={"listen_ms": 20000}
        )
        caller.start()
        (events,) = worker.wait_calls_ended(1, timeout_s=120)
        caller.join(timeout=60)
    finally:
        worker.stop()
    types = [e["type"] for e in events]
    start = types.index("hold")
    end = types.index("hold", start + 1)
    speech = types.index("speech_start", start)
    final = types.index("final_transcript", start)
    assert start < speech < final < end, types
    assert "shook hands" in events[final]["text"].lower()
    # the caller spoke 9 s into the call: the clock ran on while no frame was taken
    assert 8500 <= events[speech]["t_ms"] <= 11000, events[speech]
    assert events[end + 1]["type"] == "say" and events[end + 1]["text"] == "Thank you for holding."
    (wav,) = (tmp_path / "data" / "calls").glob("*.wav")
    with wave.open(str(wav)) as w:
        recorded_ms = w.getnframes() * 1000 // w.getframerate()
    assert abs(recorded_ms - events[-1]["duration_ms"]) <= 1500, (recorded_ms, events[-1])


@pytest.mark.unit
def test_any_music_file_becomes_a_wav_pjmedia_can_loop(tmp_path):
    """pjmedia's player takes 16-bit mono WAV only: an admin's stereo float 44.1 kHz file is
    converted once (and reused), at the call's rate."""
    import soundfile as sf

    from ivr.call.hold import hold_loop

    t = np.arange(44100 * 2) / 44100
    stereo = np.stack([0.2 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1)
    music = tmp_path / "jazz.wav"
    sf.write(music, stereo, 44100, subtype="FLOAT")
    path, pcm, name = hold_loop(str(music), tmp_path / "data", 8000)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, name) == (8000, 1, "PCM_16", "jazz.wav")
    assert len(pcm) == 2 * 8000 * 2
    assert hold_loop(str(music), tmp_path / "data", 8000)[0] == path  # made once


def test_music_that_is_not_audio_falls_back_to_the_default_and_says_why(ivr_cmd, tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    dialplan = tmp_path / "hold.yaml"
    dialplan.write_text(HOLD.read_text().replace("seconds: 5,", "seconds: 5, music: notes.wav,"))
    proc = subprocess.run(
        [
            *ivr_cmd,
            "replay",
            "--dialplan",
            str(dialplan),
            "--script",
            str(SCRIPTS / "hold_silent.yaml"),
            "--json",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    (error,) = [e for e in events if e["type"] == "error"]
    assert error["stage"] == "hold" and "notes.wav" in error["message"]
    start = next(e for e in events if e["type"] == "hold" and e["state"] == "start")
    assert start["music"] == "hold-8k.wav"
    assert any(e["type"] == "say" and e["text"] == "Thank you for holding." for e in events)
