"""HTTPS and WSS: `ivr serve` given a certificate (IVR_TLS_CERT, IVR_TLS_KEY) serves the
console over HTTPS only and Kamailio's browser port as WSS; a real Chromium signs in and its
phone registers over WSS. A certificate that cannot be used stops `ivr serve` at once with
one line saying which file and why."""

from __future__ import annotations

import os
import socket
import subprocess

import httpx
import pytest
from playwright.sync_api import expect

from ivr.app import tls
from tests.browser import Page
from tests.sip_helpers import AGENT_PASSWORD as PASSWORD
from tests.sip_helpers import ROOT, free_port, ivr_exe, registered, start_hotline, stop_hotline, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    own = tls.self_signed(tmp / "cert", ["127.0.0.1"])
    env = {"IVR_WS_PORT": str(free_port(socket.SOCK_STREAM)), "IVR_TLS_CERT": str(own.cert),
           "IVR_TLS_KEY": str(own.key)}  # fmt: skip
    served = start_hotline(tmp, lambda t, sip: ROOT / "tests" / "sip" / "queue.yaml", env=env)
    served["cert"] = own
    yield served
    stop_hotline(served)


def test_the_console_is_https_only_and_the_browsers_phone_registers_over_wss(secure, chromium):
    assert secure["api"].startswith("https://")
    with pytest.raises(httpx.HTTPError):  # no plain HTTP on the console's port
        httpx.get(secure["api"].replace("https://", "http://") + "/api/health", timeout=5)
    page = Page(chromium, secure["api"], ignore_https_errors=True)  # the test's own certificate
    try:
        page.sign_in("ann", PASSWORD)
        page.page.wait_for_url("**/console/agent")
        assert page.page.evaluate("() => window.isSecureContext")
        cred = page.page.evaluate(
            """async () => {
              const csrf = (document.cookie.match(/(?:^|;\\s*)ivr_csrf=([^;]+)/) || [])[1] || '';
              return (await fetch('/api/softphone/credential', {method: 'POST', headers: {'X-CSRF-Token': csrf}})).json();
            }"""
        )
        assert cred["ws_uri"].startswith("wss://127.0.0.1:"), cred
        expect(page.page.locator(".phone .tag")).to_have_text("registered", timeout=15000)
        wait_until(
            lambda: any("transport=wss" in c or "transport=ws" in c for c in registered(secure["run"])),
            10,
            "ann's browser in Kamailio's location",
        )
    finally:
        page.close()
    log = (secure["tmp"] / "serve.log").read_text()
    assert "browsers' phones on wss://" in log and "self-signed" not in log  # the admin's certificate


def test_a_certificate_serve_cannot_use_is_one_line_at_start(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    key = tls.self_signed(tmp_path / "other", ["127.0.0.1"]).key
    run = subprocess.run(
        [*ivr_exe(), "serve", "--dialplan", str(ROOT / "dialplans" / "hotline.yaml"), "--data-dir",
         str(tmp_path / "data"), "--port", str(free_port(socket.SOCK_STREAM)), "--sip-port", str(free_port())],
        env={**os.environ, "IVR_TLS_CERT": str(bad), "IVR_TLS_KEY": str(key)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("ivr: error:")]
    assert len(errors) == 1 and "IVR_TLS_CERT" in errors[0] and str(bad) in errors[0], run.stderr[-2000:]
    assert "Traceback" not in run.stderr
