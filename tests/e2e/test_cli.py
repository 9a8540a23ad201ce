"""`ivr replay` as an engineer runs it. Category: e2e (real models, real audio)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from ivr.events import EVENT_FIELDS, EventType
from speech.audio import decode_file
from tests.conftest import FIXTURES
from tests.sip_helpers import ROOT, free_port

pytestmark = pytest.mark.e2e


def run(ivr_cmd, *args, timeout=600):
    return subprocess.run([*ivr_cmd, *args], capture_output=True, text=True, timeout=timeout)


def test_json_events_follow_the_contract(ivr_cmd, tmp_path):
    out = tmp_path / "ivr.wav"
    proc = run(
        ivr_cmd,
        "replay",
        str(FIXTURES / "cmu_arctic_us_aew_a0003.wav"),
        "--json",
        "--out-audio",
        str(out),
        "--dtmf",
        "0.1:1,2.5:#",
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    types = [e["type"] for e in events]
    for e in events:
        assert e["call"] == "cmu_arctic_us_aew_a0003.wav"
        assert isinstance(e["t_ms"], int) and e["t_ms"] >= 0
        required, optional = EVENT_FIELDS[EventType(e["type"])]
        assert set(required) <= set(e) <= {"call", "t_ms", "type", *required, *optional}
    assert types[0] == "call_start" and types[-1] == "call_end"
    assert [e["digit"] for e in events if e["type"] == "dtmf"] == ["1", "#"]
    assert next(e for e in events if e["type"] == "dtmf" and e["digit"] == "#")["t_ms"] == 2500
    assert types.index("speech_start") < types.index("partial_transcript") < types.index("speech_end")
    assert types.index("speech_end") < types.index("final_transcript")
    final = next(e for e in events if e["type"] == "final_transcript")["text"].lower()
    assert "shook hands" in final
    # the greeting was said, and cut by the digit pressed at 0.1 s
    assert "say" in types
    ivr_audio, rate = decode_file(out)
    assert rate == 16000
    assert len(ivr_audio) == pytest.approx(events[-1]["duration_ms"] * 16, abs=400)
    loud = np.abs(ivr_audio) > 0.01
    assert loud[:1600].any(), "the greeting starts at once"
    assert not loud[int(0.2 * 16000) :].any(), "the greeting stops when a key is pressed"


def test_greeting_heard_in_full_when_the_caller_waits(ivr_cmd, tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(8000 * 8, np.float32), 8000)
    out = tmp_path / "ivr.wav"
    proc = run(ivr_cmd, "replay", str(quiet), "--json", "--out-audio", str(out))
    assert proc.returncode == 0, proc.stderr
    types = [json.loads(x)["type"] for x in proc.stdout.splitlines()]
    assert "speech_start" not in types and "barge_in" not in types
    audio, _ = decode_file(out)
    voiced_s = np.count_nonzero(np.abs(audio) > 0.01) / 8000
    assert voiced_s > 1.0


def test_caller_speech_interrupts_the_greeting(ivr_cmd, tmp_path):
    out = tmp_path / "ivr.wav"
    proc = run(ivr_cmd, "replay", str(FIXTURES / "jfk.flac"), "--json", "--out-audio", str(out))
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    barge = next(e for e in events if e["type"] == "barge_in")
    start = next(e for e in events if e["type"] == "speech_start")
    assert barge["prompt"] and start["onset_ms"] < barge["t_ms"] <= start["onset_ms"] + 400
    audio, rate = decode_file(out)
    # the prompt goes quiet within 60 ms of the caller's first voiced frame, and stays quiet
    after = audio[int((start["onset_ms"] + 60) * rate / 1000) :]
    assert np.max(np.abs(after)) < 0.01, "IVR audio over the caller"


def test_readable_timeline_without_json(ivr_cmd):
    proc = run(ivr_cmd, "replay", str(FIXTURES / "cmu_arctic_us_aew_a0001.wav"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("== ") and "16000 Hz" in lines[0]
    assert any("final_transcript" in x and "Danger" in x for x in lines)
    assert not any(x.startswith("{") for x in lines)


def test_several_files_and_folders_in_one_run(ivr_cmd, tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0002.wav"):
        shutil.copy(FIXTURES / name, folder / name)
    outdir = tmp_path / "out"
    proc = run(
        ivr_cmd,
        "replay",
        str(folder),
        str(FIXTURES / "cmu_arctic_us_aew_a0003.wav"),
        "--json",
        "--out-audio",
        str(outdir),
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    calls = [e["call"] for e in events if e["type"] == "call_end"]
    assert calls == [
        "cmu_arctic_us_aew_a0001.wav",
        "cmu_arctic_us_aew_a0002.wav",
        "cmu_arctic_us_aew_a0003.wav",
    ]
    assert sorted(p.name for p in outdir.iterdir()) == [
        f"cmu_arctic_us_aew_a000{i}.ivr.wav" for i in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00garbage" * 40), "not a readable audio file"),
        (lambda p: p.write_text("id,name\n1,Ann\n"), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 8000), "no audio"),
        (lambda p: sf.write(p, np.zeros((0, 2), np.float32), 16000), "no audio"),
    ],
    ids=["missing", "garbage-riff", "text", "empty", "empty-stereo"],
)
def test_bad_input_one_line_error_exit_2(ivr_cmd, tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    proc = run(ivr_cmd, "replay", str(path), "--json")
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(path) in err[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_bad_file_does_not_stop_the_others(ivr_cmd, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    proc = run(ivr_cmd, "replay", str(bad), str(FIXTURES / "cmu_arctic_us_aew_a0003.wav"), "--json")
    assert proc.returncode == 2
    assert "bad.wav" in proc.stderr and "Traceback" not in proc.stderr
    assert any(json.loads(x)["type"] == "final_transcript" for x in proc.stdout.splitlines())


@pytest.mark.parametrize("spec", ["3.2", "x:1", "1.0:Z", "-1:1"])
def test_bad_dtmf_script_is_refused(ivr_cmd, spec):
    proc = run(ivr_cmd, "replay", str(FIXTURES / "jfk.flac"), "--dtmf", spec)
    assert proc.returncode == 2
    assert "--dtmf" in proc.stderr and "Traceback" not in proc.stderr


def test_a_cough_or_mhm_over_the_greeting_does_not_stop_it(ivr_cmd, tmp_path):
    """A short sound pauses the greeting, which then goes on; it is not an answer either."""
    from tests.conftest import voiced

    rate = 8000
    call = tmp_path / "mhm.wav"
    quiet = np.zeros(int(0.8 * rate), np.float32)
    sf.write(call, np.concatenate([quiet, voiced(0.25, rate, f0=120), np.zeros(10 * rate, np.float32)]), rate)
    out = tmp_path / "ivr.wav"
    proc = run(ivr_cmd, "replay", str(call), "--json", "--out-audio", str(out))
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    assert not any(e["type"] == "barge_in" for e in events)
    audio, _ = decode_file(out)
    assert np.count_nonzero(np.abs(audio[int(1.6 * rate) :]) > 0.01) > rate // 2  # the greeting went on


@pytest.mark.parametrize("value", ["abc", "0", "-2", "\u00b2", "100000"])
def test_a_bad_thread_or_worker_count_in_the_environment_is_a_one_line_error(ivr_cmd, value):
    import os

    env = {**os.environ, "IVR_ASR_WORKERS": value}
    proc = subprocess.run(
        [*ivr_cmd, "replay", str(FIXTURES / "jfk.flac")], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 2, proc.stderr
    assert "IVR_ASR_WORKERS" in proc.stderr and "whole number" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("IVR_SPEECH", "host:notaport", "IVR_SPEECH"),
        ("IVR_WORKERS", "many", "IVR_WORKERS"),
        ("IVR_WORKERS", "100000", "IVR_WORKERS"),
        ("IVR_CALLBACK_URI", "tel:+44{number}", "IVR_CALLBACK_URI"),
        ("IVR_CALLBACK_URI", "sip:callback@gateway", "IVR_CALLBACK_URI"),
        ("IVR_CALLBACK_URI", "sip:{number}@{gateway}", "IVR_CALLBACK_URI"),
        ("IVR_CALLBACK_RETRY_S", "soon", "IVR_CALLBACK_RETRY_S"),
    ],
)
def test_a_bad_speech_address_or_worker_count_is_a_one_line_error(ivr_cmd, name, value, message):
    import os

    env = {**os.environ, name: value}
    proc = subprocess.run(
        [*ivr_cmd, "replay", str(FIXTURES / "jfk.flac")], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_speech_service_that_is_not_there_is_a_one_line_error(ivr_cmd, tmp_path):
    import os

    env = {**os.environ, "IVR_SPEECH": str(tmp_path / "nobody.sock")}
    proc = subprocess.run(
        [*ivr_cmd, "replay", str(FIXTURES / "jfk.flac")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "IVR_SPEECH_WAIT_S": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "no speech service" in proc.stderr and "Traceback" not in proc.stderr


def test_a_speech_address_where_something_else_listens_is_a_one_line_error(ivr_cmd):
    """IVR_SPEECH pointing at a web server (a typo'd port): refused at once, not a hang."""
    import os
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def answer() -> None:  # an HTTP server's answer to anything
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        proc = subprocess.run(
            [*ivr_cmd, "replay", str(FIXTURES / "jfk.flac")],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "IVR_SPEECH": f"127.0.0.1:{port}"},
        )
    finally:
        server.close()
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "does not answer as a speech service" in last and "Traceback" not in proc.stderr, proc.stderr


def test_serve_with_a_data_dir_it_cannot_use_says_so_in_one_line(ivr_cmd, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = subprocess.run(
        [*ivr_cmd, "serve", "--data-dir", str(blocker / "data"), "--sip-workers", "0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"ivr: error: --data-dir {blocker / 'data'}: cannot use it (Not a directory)"
    ], proc.stderr


@pytest.mark.model
def test_a_worker_given_a_broken_dialplan_names_its_errors_and_exits(ivr_cmd, tmp_path):
    bad = ROOT / "tests" / "dialplans" / "bad" / "bad_condition.yaml"
    port = free_port()
    proc = subprocess.run(
        [*ivr_cmd, "worker", "--sip-port", str(port), "--rtp-port", "43600", "--dialplan", str(bad),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout[-2000:]
    failed = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith('{"worker"')]
    assert failed and failed[-1]["worker"] == "failed" and "the dialplan has errors" in failed[-1]["error"]
    assert "bad_condition.yaml:" in failed[-1]["error"] and "Traceback" not in proc.stdout + proc.stderr


PG = "postgresql+psycopg://ivr@10.0.0.5/ivr"


@pytest.mark.parametrize(
    "role,env,message",
    [
        ("media", {"IVR_STORE_URL": PG, "IVR_SPEECH_SECRET": "s"}, "--role media needs IVR_EDGE_SIP"),
        (
            "media",
            {"IVR_STORE_URL": PG, "IVR_EDGE_SIP": "10.0.0.2:5060", "IVR_SPEECH_SECRET": "s"},
            "IVR_API_URL",
        ),
        ("speech", {"IVR_STORE_URL": PG, "IVR_SPEECH_SECRET": "s"}, "--role speech needs IVR_SPEECH_LISTEN"),
        ("speech", {"IVR_STORE_URL": PG, "IVR_SPEECH_LISTEN": "10.0.0.3:7100"}, "needs IVR_SPEECH_SECRET"),
        ("edge", {}, "--role edge needs IVR_STORE_URL"),
        ("api", {"IVR_STORE_URL": "sqlite:////tmp/x.sqlite3"}, "shared PostgreSQL, not a SQLite file"),
        ("media", {"IVR_STORE_URL": PG, "IVR_EDGE_SIP": "edge"}, "IVR_EDGE_SIP='edge': expected HOST:PORT"),
    ],
)
def test_a_role_without_a_setting_it_needs_stops_with_one_line_naming_it(
    ivr_cmd, tmp_path, role, env, message
):
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    proc = subprocess.run(
        [*ivr_cmd, "serve", "--role", role, "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={**base, **env},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr
