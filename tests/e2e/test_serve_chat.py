"""`ivr chat` and `ivr serve` as an admin runs them. Category: e2e."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.sip_helpers import wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_chat_shows_replies_intents_and_variables(ivr_cmd, tmp_path):
    lines = "what's my balance\n/dtmf 100002\n/vars\nno thanks\n"
    proc = subprocess.run(
        [
            *ivr_cmd,
            "chat",
            str(ROOT / "dialplans" / "hotline.yaml"),
            "--at",
            "2026-11-24T10:00+00:00",
            "--data-dir",
            str(tmp_path),
        ],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "IVR: Welcome to Acme Mobile." in out
    assert "[intent check_balance 0." in out
    assert '"account": "100002"' in out
    assert "Your balance is" in out and "pounds" in out
    assert "--> the IVR hung up (resolved)" in out


def test_chat_refuses_a_broken_dialplan(ivr_cmd):
    proc = subprocess.run(
        [*ivr_cmd, "chat", str(ROOT / "tests/dialplans/bad/unknown_verb.yaml")],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown verb 'sya'" in proc.stderr and "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_the_api_and_hot_reloads_the_dialplan(ivr_cmd, tmp_path):
    plan = tmp_path / "hotline.yaml"
    shutil.copy(ROOT / "dialplans" / "hotline.yaml", plan)
    port = _free_port()
    (tmp_path / "pw").write_text("correct horse\n")
    subprocess.run(
        [*ivr_cmd, "users", "add", "ada", "--role", "admin", "--password-file", str(tmp_path / "pw"),
         "--data-dir", str(tmp_path / "data")],
        check=True,
    )  # fmt: skip
    proc = subprocess.Popen(
        [
            *ivr_cmd,
            "serve",
            "--sip-workers",
            "0",
            "--dialplan",
            str(plan),
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for the service to answer (polling the real socket, bounded)
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ivr serve did not start"
            time.sleep(0.2)
        assert httpx.get(f"{base}/demo/billing/accounts/100001/balance").json()["currency"] == "GBP"
        assert httpx.get(f"{base}/api/dialplan").status_code == 401
        login = httpx.post(f"{base}/api/login", json={"user": "ada", "password": "correct horse"}).json()
        auth = {"Authorization": f"Bearer {login['token']}"}
        assert "ivr_calls_active" in httpx.get(f"{base}/metrics").text
        before = httpx.get(f"{base}/api/dialplan", headers=auth).json()
        assert before["name"] == "Acme Mobile hotline" and before["last_error"] is None
        # a broken edit on disk is refused by the watcher; the running version stays
        plan.write_text(plan.read_text().replace("- say: Welcome to Acme Mobile.", "- sya: Welcome"))
        wait_until(
            lambda: httpx.get(f"{base}/api/dialplan", headers=auth).json()["last_error"],
            30,
            "the broken edit noticed",
        )
        status = httpx.get(f"{base}/api/dialplan", headers=auth).json()
        assert status["digest"] == before["digest"] and "E_UNKNOWN_VERB" in status["last_error"][0]
        # a good edit replaces it
        plan.write_text(
            plan.read_text()
            .replace("- sya: Welcome", "- say: Welcome")
            .replace('version: "2026-11-24"', 'version: "edited"')
        )
        wait_until(
            lambda: httpx.get(f"{base}/api/dialplan", headers=auth).json()["version"] == "edited",
            30,
            "the fixed edit loaded",
        )
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
