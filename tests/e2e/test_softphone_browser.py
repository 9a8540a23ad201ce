"""An agent's browser registers as their phone: a real Chromium, signed in to the console of a
real `ivr serve`, asks the API for a short-lived SIP credential and registers with JsSIP (the
bundle `make setup` builds) over WebSocket to Kamailio, which checks it with auth_ephemeral;
the console says the phone is registered. A tampered, expired or another agent's credential is
refused and registers nothing; a signed-out page gets no credential at all."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ivr.telephony import webrtc
from tests.browser import Page
from tests.sip_helpers import AGENT_PASSWORD as PASSWORD
from tests.sip_helpers import free_port, registered, start_hotline, stop_hotline, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]

REGISTER = """async ({cred, tamper}) => {
  const JsSIP = (await import('/console/static/vendor/jssip.mjs')).default;
  let c = cred;
  if (!c) {
    const csrf = (document.cookie.match(/(?:^|;\\s*)ivr_csrf=([^;]+)/) || [])[1] || '';
    const r = await fetch('/api/softphone/credential', {method: 'POST', headers: {'X-CSRF-Token': csrf}});
    if (!r.ok) return 'no credential: ' + r.status;
    c = await r.json();
  }
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(c.ws_uri)], uri: c.sip_uri,
    authorization_user: c.username, password: c.password + (tamper || ''),
    register_expires: c.register_expires_s || 300,
  });
  window.ua = ua;
  return await new Promise((done) => {
    ua.on('registered', () => done('registered'));
    ua.on('registrationFailed', (e) => done('failed: ' + e.cause));
    ua.start();
  });
}"""


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    ws = free_port(socket.SOCK_STREAM)
    served = start_hotline(
        tmp_path_factory.mktemp("softphone"),
        lambda tmp, sip: ROOT / "dialplans" / "hotline.yaml",
        env={"IVR_WS_PORT": str(ws)},
    )
    served["ws"] = ws
    yield served
    stop_hotline(served)


def _browsers(run) -> int:  # type: ignore[no-untyped-def]
    return sum("transport=ws" in c for c in registered(run))


def _signed_in(chromium, hotline) -> Page:  # type: ignore[no-untyped-def]
    """ann signed in, on a page of the server that runs no phone of its own (its health)."""
    page = Page(chromium, hotline["api"])
    page.sign_in("ann", PASSWORD)
    page.page.wait_for_url("**/console/agent")
    expect(page.page.locator(".phone")).to_contain_text("registered", timeout=15000)  # settled
    page.page.goto("/api/health")
    return page


def test_the_agents_console_registers_their_browser_as_their_phone(hotline, chromium):  # noqa: F811
    page = Page(chromium, hotline["api"])
    try:
        page.sign_in("ann", PASSWORD)
        page.page.wait_for_url("**/console/agent")
        expect(page.page.locator(".phone")).to_contain_text("registered", timeout=15000)
        wait_until(lambda: _browsers(hotline["run"]) >= 1, 10, "ann's browser in Kamailio's location")
        assert not page.foreign() and not page.errors
    finally:
        page.close()


def test_a_tampered_expired_or_borrowed_credential_registers_nothing(hotline, chromium):  # noqa: F811
    secret = webrtc.load_secret(hotline["run"])
    assert secret is not None
    ws = f"ws://127.0.0.1:{hotline['ws']}"

    def cred(agent: str, uri_agent: str, ttl: int, now: float | None = None) -> dict:  # type: ignore[type-arg]
        c = webrtc.credential(secret, agent, ttl, now)
        return {
            "ws_uri": ws,
            "sip_uri": f"sip:{uri_agent}@127.0.0.1",
            "username": c.username,
            "password": c.password,
        }

    page = _signed_in(chromium, hotline)
    before = _browsers(hotline["run"])
    try:
        tampered = page.page.evaluate(REGISTER, {"cred": None, "tamper": "x"})
        assert tampered == "failed: Authentication Error"  # the digest does not match
        page.page.evaluate("() => window.ua.stop()")
        expired = page.page.evaluate(
            REGISTER, {"cred": cred("ann", "ann", 600, time.time() - 3600), "tamper": ""}
        )
        assert expired == "failed: Authentication Error"  # auth_ephemeral: "username has expired"
        page.page.evaluate("() => window.ua.stop()")
        borrowed = page.page.evaluate(REGISTER, {"cred": cred("bob", "ann", 600), "tamper": ""})
        assert borrowed == "failed: Rejected"  # 403: bob's credential for ann's address
        page.page.evaluate("() => window.ua.stop()")
        assert _browsers(hotline["run"]) <= before  # nothing new (the console's own may have gone)
    finally:
        page.close()


def test_a_signed_out_page_gets_no_credential(hotline, chromium):  # noqa: F811
    page = _signed_in(chromium, hotline)
    try:
        page.page.evaluate(
            """async () => {
              const csrf = (document.cookie.match(/(?:^|;\\s*)ivr_csrf=([^;]+)/) || [])[1] || '';
              await fetch('/api/session', {method: 'DELETE', headers: {'X-CSRF-Token': csrf}});
            }"""
        )
        assert page.page.evaluate(REGISTER, {"cred": None, "tamper": ""}) == "no credential: 401"
    finally:
        page.close()
