"""Records of real SIP calls through `ivr serve`: a sipp caller's call is in `ivr calls`, the
API (with a token) and /metrics; a card number said and keyed reaches no store, event file
or log in clear; kill -9 of serve mid-call leaves the finished calls whole and the cut one
`interrupted` after the restart."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest

from ivr.records import Store
from prosody.radar import RadarModel
from speech.audio import resample
from tests.sip_helpers import (
    fixture_pcap,
    free_port,
    ivr_exe,
    serve_auth,
    serve_status,
    sipp_call,
    wait_until,
)
from tests.tools.pcap import write_rtp_pcap

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CARD_PLAN = ROOT / "tests" / "dialplans" / "good" / "card_payment.yaml"
SAID, KEYED = "4539148803436467", "5425233430109903"
DIGIT_RUN = re.compile(r"\d(?:[\s,.\-]*\d){12}")  # 13 digits, however they are spaced


def start_serve(tmp: Path, data: Path, api_port: int, sip_port: int, log_name: str) -> subprocess.Popen:
    log = open(tmp / log_name, "w")
    return subprocess.Popen(
        [*ivr_exe(), "serve", "--dialplan", str(CARD_PLAN), "--data-dir", str(data), "--port", str(api_port),
         "--sip-port", str(sip_port), "--sip-workers", "1", "--rtp-port", "45200"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def wait_up(proc: subprocess.Popen, api: str, data: Path, log: Path) -> None:
    wait_until(lambda: serve_status(proc, api, data, log), 180, "ivr serve to be up", interval_s=0.5)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("records")
    data = tmp / "data"
    api_port, sip_port = free_port(socket.SOCK_STREAM), free_port()
    proc = start_serve(tmp, data, api_port, sip_port, "serve.log")
    api = f"http://127.0.0.1:{api_port}"
    wait_up(proc, api, data, tmp / "serve.log")
    state = {"proc": proc, "api": api, "data": data, "tmp": tmp, "sip": sip_port}
    yield state
    state["proc"].send_signal(signal.SIGINT)
    try:
        state["proc"].wait(timeout=30)
    except subprocess.TimeoutExpired:
        state["proc"].kill()


def card_pcap(path: Path, engines) -> float:  # type: ignore[no-untyped-def]
    """The caller says the card number, keys another, then a security code."""
    voice = engines.tts.synthesize("My card number is 4539 1488 0343 6467.", 22050)
    speech = resample(voice, 22050, 8000)
    lead, said = 3.0, len(speech) / 8000
    keys_at = lead + said + 4.5
    digits = [(keys_at + 0.25 * i, d) for i, d in enumerate(KEYED + "#")]
    digits += [(keys_at + 8.0 + 0.25 * i, d) for i, d in enumerate("737")]
    audio = np.concatenate(
        [np.zeros(int(lead * 8000), np.float32), speech, np.zeros(int(16 * 8000), np.float32)]
    )
    return write_rtp_pcap(path, audio, digits)


def records(data: Path) -> list[dict]:
    store = Store(f"sqlite:///{data}/ivr.sqlite3")
    try:
        return [store.calls.get(c["id"]) for c in store.calls.list(limit=100).calls]
    finally:
        store.close()


def _radar_version_live(data: Path) -> Store:
    """An admin approved a radar version while `ivr serve` runs (no restart); every worker has
    taken it up (its log says so) before the call."""
    store = Store(f"sqlite:///{data / 'ivr.sqlite3'}")
    version = store.radar.propose(RadarModel.load().to_json(full=False), {}, "2026-11-30", 2.0, "ada")
    store.radar.approve(version, "ada")
    logs = list((data / "run").glob("worker-*.log"))
    assert logs
    wait_until(lambda: all(f"radar: version {version} is live" in p.read_text(errors="replace") for p in logs),
               30, "the workers to take up the approved radar version")  # fmt: skip
    return store


def test_a_sipp_call_is_recorded_and_no_card_number_is_kept(served, engines, tmp_path):
    pcap = tmp_path / "card.pcap"
    length = card_pcap(pcap, engines)
    admin = _radar_version_live(served["data"])
    try:
        proc = sipp_call(tmp_path, served["sip"], pcap, listen_ms=int(length * 1000) + 4000)
    finally:
        admin.radar.rollback("ada")  # the module's other calls: the shipped model
        admin.close()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = served["data"]
    (call,) = wait_until(
        lambda: [c for c in records(data) if c["status"] == "ended"] or None, 60, "the record"
    )
    # the record is whole: who, what was said both ways, the path, how it ended, the recording
    assert call["caller"] == "+447700900003" and call["outcome"] == "ai_resolved", call["end_reason"]
    assert (
        call["path"] == ["menu", "pay"]
        and call["dialplan"] == "Card payment test"
        and call["dialplan_version"] == "1"
    )
    (intent,) = call["intents"]
    assert intent["name"] == "pay_by_card" and intent["confidence"] > 0.5 and intent["node"] == "menu"
    speakers = {t["speaker"] for t in call["transcript"]}
    assert speakers == {"caller", "ivr"} and "card number" in call["transcript"][1]["text"].lower()
    assert Path(call["recording_path"]).is_file() and call["recording_ms"] > 10000
    assert call["radar"] and call["turns"] >= 1
    # the worker judged it with the version approved while it ran, and kept the radar's cues
    affects = [e for e in call["events"] if e["type"] == "affect"]
    assert affects and all(e.get("model") == 1 and e["cues"]["ep"] for e in affects), affects
    keyed = [e["digit"] for e in call["events"] if e["type"] == "dtmf"]
    assert keyed == ["X"] * 12 + list(KEYED[-4:]) + ["#", "X", "X", "X"]  # the code is secure: all masked
    assert any("[redacted]" in t["text"] for t in call["transcript"])  # the dialplan's own pattern
    # no card number in clear anywhere the call left something: store, event file, logs
    files = [
        data / "ivr.sqlite3",
        data / "ivr.sqlite3-wal",
        *data.glob("calls/*.jsonl"),
        *data.glob("run/*.log"),
    ]
    files.append(served["tmp"] / "serve.log")
    for f in files:
        if f.exists():
            text = f.read_bytes().decode("utf-8", "replace")
            assert SAID not in text and KEYED not in text and SAID[:8] not in text, f
            if f.suffix == ".jsonl":  # what was said and keyed, in order, holds no 13-digit run
                events = [json.loads(line) for line in text.splitlines()]
                said = " ".join(e.get("text", "") for e in events)
                keys = "".join(e["digit"] for e in events if e["type"] == "dtmf")
                assert not DIGIT_RUN.search(said) and not DIGIT_RUN.search(keys), (said, keys)
    # the API shows it to a supervisor with a token, and to nobody without one
    api = served["api"]
    assert httpx.get(f"{api}/api/calls").status_code == 401
    listed = httpx.get(f"{api}/api/calls", headers=serve_auth(data)).json()["calls"]
    assert [c["id"] for c in listed] == [call["id"]]
    one = httpx.get(f"{api}/api/calls/{call['id']}", headers=serve_auth(data)).json()
    assert one["events"] and one["transcript"] == call["transcript"]
    # and /metrics counts it, summed over the worker and the speech service
    metrics = httpx.get(f"{api}/metrics").text
    assert re.search(r'ivr_calls_total\{outcome="ai_resolved"\} 1\.0', metrics), metrics[:2000]
    assert re.search(r"ivr_response_seconds_count [1-9]", metrics)
    assert re.search(r'ivr_asr_decode_seconds_count\{priority="final"\} [1-9]', metrics)
    assert "ivr_sip_rejected_total 0.0" in metrics and "ivr_calls_active 0.0" in metrics


def test_replayed_and_sipp_calls_in_one_export(served, tmp_path):
    from ivr.cli import main

    data = served["data"]
    wav = ROOT / "audio_fixtures" / "cmu_arctic_us_aew_a0001.wav"
    assert main(["replay", str(wav), "--dialplan", str(CARD_PLAN), "--record", "--data-dir", str(data)]) == 0
    assert main(["calls", "export", "--csv", str(tmp_path / "cdr.csv"), "--data-dir", str(data)]) == 0
    rows = list(csv.DictReader(open(tmp_path / "cdr.csv")))
    sources = sorted(r["id"].split("-")[0] for r in rows)
    assert "replay" in sources and len(rows) >= 2
    replayed = next(r for r in rows if r["id"].startswith("replay-"))
    assert replayed["recording_path"] == str(wav) and replayed["path"].startswith("menu")
    assert replayed["intents"] and replayed["outcome"] and replayed["duration_s"]


def test_kill_9_of_serve_mid_call_leaves_the_cut_call_interrupted(served, tmp_path):
    data = served["data"]
    before = {c["id"]: c for c in records(data)}
    pcap = fixture_pcap(tmp_path / "long.pcap", lead_s=3.0, tail_s=20.0)
    caller = threading.Thread(
        target=sipp_call,
        args=(tmp_path, served["sip"], pcap, 30000),
        kwargs={"local_port": free_port()},
        daemon=True,
    )
    caller.start()

    def live() -> dict | None:
        new = [c for c in records(data) if c["id"] not in before and c["status"] == "live"]
        heard = new and any(e["type"] == "final_transcript" for e in new[0]["events"])
        return new[0] if heard else None  # mid-call: the caller has been heard

    cut = wait_until(live, 60, "the new call to be live in the store, the caller heard")
    served["proc"].kill()  # kill -9: no goodbye; its children get SIGTERM from the kernel
    served["proc"].wait(timeout=10)
    from ivr.app.supervisor import port_free

    # Kamailio and the worker go when the kernel tells them their parent died
    wait_until(lambda: port_free("127.0.0.1", served["sip"]), 30, "the dead serve's Kamailio to exit")
    # a new serve on the same data marks what the dead one left in flight
    api_port = int(served["api"].rsplit(":", 1)[1])
    served["proc"] = start_serve(served["tmp"], data, api_port, served["sip"], "serve2.log")
    wait_up(served["proc"], served["api"], data, served["tmp"] / "serve2.log")
    after = {c["id"]: c for c in records(data)}
    assert after[cut["id"]]["outcome"] == "interrupted" and after[cut["id"]]["status"] == "ended"
    assert after[cut["id"]]["duration_ms"] >= 1000
    for call_id, old in before.items():  # the finished calls are as they were
        assert after[call_id]["outcome"] == old["outcome"] and len(after[call_id]["events"]) == len(
            old["events"]
        )
    assert "stopped during the call" in after[cut["id"]]["end_reason"]
    caller.join(timeout=60)
