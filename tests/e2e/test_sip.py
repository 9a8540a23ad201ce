"""Real SIP calls on 127.0.0.1: pjsua2 workers answering sipp and baresip. Category: e2e."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import soundfile as sf

from speech.wer import wer
from tests.sip_helpers import ROOT, Worker, sipp_call, speech_pcap

pytestmark = pytest.mark.e2e
ECHO = ROOT / "tests" / "dialplans" / "good" / "echo.yaml"
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@pytest.fixture
def worker(tmp_path):
    w = Worker(tmp_path / "data", ECHO)
    yield w
    w.stop()


def test_fast_bytes_matches_the_slow_copy():
    import os

    import pjsua2 as pj

    from ivr.telephony.endpoint import fast_bytes

    data = os.urandom(320)
    assert fast_bytes(pj.ByteVector(data)) == bytes(pj.ByteVector(data)) == data


def test_sipp_caller_speech_and_rfc2833_digits_reach_the_ivr(worker, tmp_path):
    pcap = tmp_path / "jfk.pcap"
    # speaks over the greeting (barge-in), then keys 4, 2, # once asked
    length = speech_pcap(pcap, lead_s=3.0, digits=[(16.0, "4"), (16.5, "2"), (17.0, "#")], tail_s=12.0)
    proc = sipp_call(tmp_path, worker.sip_port, pcap, listen_ms=int(length * 1000) + 8000)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (events,) = worker.wait_calls_ended(1)
    types = [e["type"] for e in events]
    assert events[0]["caller"] == "+447700900003"
    # the caller spoke over the greeting: it stopped
    assert types.index("barge_in") < types.index("final_transcript")
    heard = " ".join(e["text"] for e in events if e["type"] == "final_transcript")
    assert wer(JFK, heard) <= 0.25, heard
    assert [e["digit"] for e in events if e["type"] == "dtmf"] == ["4", "2", "#"]
    assert any(e["type"] == "say" and "You keyed 42" in e["text"] for e in events)
    # recorded: caller left, IVR right, both with sound
    (wav,) = (worker.data_dir / "calls").glob("*.wav")
    audio, rate = sf.read(wav)
    assert rate == 8000 and audio.shape[1] == 2
    assert np.sqrt(np.mean(audio[:, 0] ** 2)) > 0.005 and np.sqrt(np.mean(audio[:, 1] ** 2)) > 0.005


def test_malformed_sip_and_a_flood_do_not_take_the_worker_down(worker, tmp_path):
    garbage = [
        b"INVITE sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP",  # truncated
        b"\x00\xff\x13\x37 not sip at all \x00" * 20,
        b"OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\n" + b"X-Big: " + b"a" * 60000 + b"\r\n\r\n",  # huge header
        b"INVITE sip:hotline@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(50):
            for g in garbage:
                try:
                    s.sendto(g, ("127.0.0.1", worker.sip_port))
                except OSError:
                    pass  # a datagram too large for loopback is refused by the kernel: fine
    with socket.create_connection(("127.0.0.1", worker.sip_port), timeout=5) as t:
        t.sendall(b"INVITE sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\n" + b"\xff" * 5000)
    # an INVITE flood: 40 calls at 20/s against a worker that holds 4
    pcap = tmp_path / "short.pcap"
    speech_pcap(pcap, lead_s=0.5, digits=[], tail_s=0.5)
    sipp_call(tmp_path, worker.sip_port, pcap, listen_ms=2000, calls=40, rate=20)
    assert worker.proc.poll() is None, "the worker died"
    # and it still answers a call properly
    for p in (worker.data_dir / "calls").glob("*"):
        p.unlink()
    proc = sipp_call(tmp_path, worker.sip_port, pcap, listen_ms=6000)
    assert proc.returncode == 0, proc.stdout[-1500:]
    (events,) = worker.wait_calls_ended(1)
    assert events[0]["type"] == "call_start"


def test_baresip_caller_is_heard_and_hears_the_greeting(worker, tmp_path, engines):
    from speech.audio import decode_file, resample
    from speech.utterance import transcribe_utterance
    from tests.baresip import baresip_call

    samples, rate = decode_file(ROOT / "audio_fixtures" / "jfk.flac")
    wav = tmp_path / "caller.wav"
    # the caller waits for the greeting, speaks, then listens (baresip hangs up when the WAV ends)
    sf.write(
        wav,
        np.concatenate(
            [np.zeros(8000 * 6, np.float32), resample(samples, rate, 8000), np.zeros(8000 * 8, np.float32)]
        ),
        8000,
        subtype="PCM_16",
    )
    heard_wav = baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{worker.sip_port}", wav, seconds=40)
    (events,) = worker.wait_calls_ended(1)
    said = " ".join(e["text"] for e in events if e["type"] == "final_transcript").lower()
    assert "country" in said and "ask" in said, said
    # what the caller heard, through whisper: the greeting's words
    heard, heard_rate = decode_file(heard_wav)
    greeting = heard[: 6 * heard_rate]
    text = transcribe_utterance(engines.asr, resample(greeting, heard_rate, 16000)).lower()
    assert "test line" in text and "say something" in text, text


def test_sip_info_digits_reach_the_ivr(worker, tmp_path):
    import subprocess

    from tests.sip_helpers import free_port

    proc = subprocess.run(
        [
            "sipp",
            f"127.0.0.1:{worker.sip_port}",
            "-sf",
            str(ROOT / "tests" / "sip" / "uac_info_dtmf.xml"),
            "-s",
            "hotline",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-nostdin",
            "-timeout",
            "60s",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    (events,) = worker.wait_calls_ended(1)
    assert [e["digit"] for e in events if e["type"] == "dtmf"] == ["7", "#"]
