"""A caller reaches an agent whose phone is the browser: baresip phones a hotline whose billing
queue is ann; the worker calls sip:ann@hotline, Kamailio finds her browser's WebSocket
registration and rtpengine turns the worker's RTP into DTLS-SRTP for the page; Chromium (fake
microphone: a recording of speech) answers. The agent's words reach the caller through the
worker, and the caller's audio reaches the page (its getStats)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from speech.audio import decode_file
from tests.baresip import baresip_call
from tests.browser import CHROMIUM, FLAGS, Page
from tests.sip_helpers import AGENT_PASSWORD as PASSWORD
from tests.sip_helpers import (
    free_port,
    registered,
    speech_wav,
    start_hotline,
    stop_hotline,
    transcribe,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]

PHONE = """async () => {
  const JsSIP = (await import('/console/static/vendor/jssip.mjs')).default;
  const csrf = (document.cookie.match(/(?:^|;\\s*)ivr_csrf=([^;]+)/) || [])[1] || '';
  const r = await fetch('/api/softphone/credential', {method: 'POST', headers: {'X-CSRF-Token': csrf}});
  const c = await r.json();
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(c.ws_uri)], uri: c.sip_uri,
    authorization_user: c.username, password: c.password, register_expires: c.register_expires_s,
  });
  window.phone = {state: 'idle', stats: null, log: []};
  ua.on('newRTCSession', (e) => {
    if (e.originator !== 'remote') return;
    const s = e.session;
    window.phone.state = 'ringing';
    s.on('sdp', (x) => {  // only this machine's candidates (the test runs on 127.0.0.1)
      if (x.originator === 'local') x.sdp = x.sdp.split('\\r\\n').filter(
        (l) => !l.startsWith('a=candidate') || l.includes(' 127.0.0.1 ')).join('\\r\\n');
    });
    s.on('peerconnection', (p) => {
      p.peerconnection.addEventListener('iceconnectionstatechange', () => window.phone.log.push('ice ' + p.peerconnection.iceConnectionState));
      p.peerconnection.addEventListener('connectionstatechange', () => window.phone.log.push('pc ' + p.peerconnection.connectionState));
    });
    s.on('confirmed', () => { window.phone.state = 'talking'; });
    s.on('ended', (x) => { window.phone.state = 'ended'; window.phone.log.push('ended ' + x.cause + ' ' + x.originator); });
    s.on('failed', (f) => { window.phone.state = 'failed: ' + f.cause; });
    s.answer({mediaConstraints: {audio: true, video: false}, pcConfig: {iceServers: []}});
    const poll = setInterval(async () => {
      if (!s.connection) return;
      const rows = [];
      (await s.connection.getStats()).forEach((v) => rows.push(v));
      const inbound = rows.find((v) => v.type === 'inbound-rtp' && v.kind === 'audio');
      const outbound = rows.find((v) => v.type === 'outbound-rtp' && v.kind === 'audio');
      window.phone.stats = {received: inbound ? inbound.packetsReceived : 0, sent: outbound ? outbound.packetsSent : 0};
      if (s.isEnded()) clearInterval(poll);
    }, 1000);
  });
  return await new Promise((done) => {
    ua.on('registered', () => done('registered'));
    ua.on('registrationFailed', (e) => done('failed: ' + e.cause));
    ua.start();
  });
}"""


def bridge_plan(tmp: Path, sip: int) -> Path:
    plan = tmp / "bridge.yaml"
    text = (ROOT / "tests" / "sip" / "bridge.yaml").read_text()
    plan.write_text(text.replace("@AGENT_URI@", f"sip:ann@127.0.0.1:{sip}").replace("@MODE@", "bridge"))
    return plan


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    served = start_hotline(
        tmp_path_factory.mktemp("softcall"),
        bridge_plan,
        env={"IVR_WS_PORT": str(free_port(socket.SOCK_STREAM))},
    )
    yield served
    stop_hotline(served)


@pytest.fixture(scope="module")
def media_browser(tmp_path_factory):
    """Chromium with a fake microphone that says a recording, loopback media allowed."""
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("mic")
    mic = speech_wav(tmp / "agent.wav", [("jfk.flac", 2)], rate=16000)
    flags = [
        *FLAGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        yield browser
        browser.close()


def test_the_agents_browser_answers_and_both_hear_each_other(hotline, media_browser, engines, tmp_path):
    page = Page(media_browser, hotline["api"])
    try:
        page.sign_in("ann", PASSWORD)
        page.page.wait_for_url("**/console/agent")
        assert page.page.evaluate(PHONE) == "registered"
        wait_until(lambda: any("transport=ws" in c for c in registered(hotline["run"])), 10, "ann's browser")
        caller = speech_wav(tmp_path / "caller.wav", [(None, 40)])
        heard = baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{hotline['sip']}", caller, seconds=40)
        phone = page.page.evaluate("() => window.phone")
    finally:
        page.close()
    assert phone["state"] in ("talking", "ended"), phone
    assert phone["stats"]["received"] > 200 and phone["stats"]["sent"] > 200, (
        phone
    )  # both ways, 20 ms packets
    samples, rate = decode_file(heard)
    said = transcribe(engines, samples, rate)
    assert "connecting you to billing" in said and "country" in said, (
        said
    )  # the agent's words, via the worker
