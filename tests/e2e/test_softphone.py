"""Agents whose phone is the browser, against one real `ivr serve` (Kamailio with SIP over
WebSocket and auth_ephemeral, rtpengine, a pjsua2 worker) and a real Chromium whose fake
microphone says a recording. The console asks the API for a short-lived SIP credential and
registers with JsSIP (the bundle `make setup` builds); a tampered, expired or another agent's
credential registers nothing and a signed-out page gets none; a page with no microphone says
so and its agent is offered no calls. Then a baresip caller reaches ann in the page: her
WebSocket is dropped first (the page registers again by itself), the call rings, she answers,
each side hears the other, she holds (the caller hears the hotline's music), keys a digit,
mutes, and hangs up from the page; the call's record holds it all."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from ivr.call.hold import NOTES_HZ
from ivr.telephony import webrtc
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
    transcribe_mixed,
    wait_until,
)

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

# what the page's <audio> plays (the caller, through the worker and rtpengine), kept at 16 kHz
LISTEN = """() => {
  const el = document.getElementById('phone-audio');
  const ctx = new AudioContext({sampleRate: 16000});
  const src = ctx.createMediaStreamSource(el.srcObject);
  const tap = ctx.createScriptProcessor(4096, 1, 1);
  window.heard = [];
  tap.onaudioprocess = (e) => { for (const v of e.inputBuffer.getChannelData(0)) window.heard.push(v); };
  src.connect(tap); tap.connect(ctx.destination);
  window.listening = ctx;
}"""


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    ws = free_port(socket.SOCK_STREAM)
    served = start_hotline(
        tmp_path_factory.mktemp("softphone"),
        lambda tmp, sip: ROOT / "tests" / "sip" / "queue.yaml",  # ann and bob take billing's calls
        env={"IVR_WS_PORT": str(ws)},
    )
    served["ws"] = ws
    from ivr.records import Store

    store = Store(f"sqlite:///{served['data']}/ivr.sqlite3")
    store.users.add("sam", "supervisor", PASSWORD)  # a supervisor with no desk phone: the floor page is one
    store.close()
    yield served
    stop_hotline(served)


@pytest.fixture(scope="module")
def browsers(tmp_path_factory):
    """Chromium with a fake microphone that says a recording (loopback media allowed), and
    one with no microphone at all."""
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("mic")
    mic = speech_wav(tmp / "agent.wav", [("jfk.flac", 2)], rate=16000)
    sup_mic = speech_wav(tmp / "supervisor.wav", [("cmu_arctic_us_aew_a0002.wav", 1)], rate=16000)

    def media(wav: Path) -> list[str]:
        return [
            *FLAGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required",
        ]

    with sync_playwright() as p:
        speaking = p.chromium.launch(executable_path=CHROMIUM, args=media(mic), headless=True)
        supervising = p.chromium.launch(executable_path=CHROMIUM, args=media(sup_mic), headless=True)
        deaf = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield {"media": speaking, "supervisor": supervising, "none": deaf}
        for b in (speaking, supervising, deaf):
            b.close()


def _waiting(page: Page, predicate, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    """wait_until, but idling in Playwright between looks: a page whose WebSocket the test
    routes (to drop it) has its messages carried by this process, which a sleep would stall."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        page.page.wait_for_timeout(200)
    return value


def _browsers_registered(run) -> int:  # type: ignore[no-untyped-def]
    return sum("transport=ws" in c for c in registered(run))


def _agent_page(browser, hotline, who: str = "ann") -> Page:  # type: ignore[no-untyped-def]
    page = Page(browser, hotline["api"])
    page.sign_in(who, PASSWORD)
    page.page.wait_for_url("**/console/agent")
    return page


def _available(page: Page) -> None:
    """The agent goes available (Alt+1) once their page's phone is registered."""
    expect(page.page.locator(".phone .tag")).to_have_text("registered", timeout=15000)
    expect(page.page.locator(".statebar .pill")).not_to_have_text("unknown", timeout=10000)
    page.page.keyboard.press("Alt+1")
    expect(page.page.locator(".statebar .pill")).to_have_text("available", timeout=15000)


def test_the_agents_console_registers_their_browser_as_their_phone(hotline, browsers):
    page = _agent_page(browsers["media"], hotline)
    try:
        expect(page.page.locator(".phone")).to_contain_text("registered", timeout=15000)
        wait_until(
            lambda: _browsers_registered(hotline["run"]) >= 1, 10, "ann's browser in Kamailio's location"
        )
        expect(page.page.locator(".phone [role=alert]")).to_have_count(0)  # the microphone works
        assert not page.foreign() and not page.errors
    finally:
        page.close()


def test_a_tampered_expired_or_borrowed_credential_registers_nothing(hotline, browsers):
    secret = webrtc.load_secret(hotline["run"])
    assert secret is not None
    ws = f"ws://127.0.0.1:{hotline['ws']}"

    def cred(agent: str, uri_agent: str, ttl: int, now: float | None = None) -> dict:  # type: ignore[type-arg]
        c = webrtc.credential(secret, agent, ttl, now)
        return {"ws_uri": ws, "sip_uri": f"sip:{uri_agent}@127.0.0.1", "username": c.username,
                "password": c.password}  # fmt: skip

    page = _agent_page(browsers["media"], hotline)
    expect(page.page.locator(".phone")).to_contain_text("registered", timeout=15000)  # settled
    page.page.goto("/api/health")  # a page of the server that runs no phone of its own
    before = _browsers_registered(hotline["run"])
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
        assert _browsers_registered(hotline["run"]) <= before  # nothing new
        page.page.evaluate(
            """async () => {
              const csrf = (document.cookie.match(/(?:^|;\\s*)ivr_csrf=([^;]+)/) || [])[1] || '';
              await fetch('/api/session', {method: 'DELETE', headers: {'X-CSRF-Token': csrf}});
            }"""
        )
        assert page.page.evaluate(REGISTER, {"cred": None, "tamper": ""}) == "no credential: 401"
    finally:
        page.close()


def test_a_page_with_no_microphone_says_so_and_its_agent_is_offered_no_calls(hotline, browsers):
    page = _agent_page(browsers["none"], hotline, "bob")
    try:
        alert = page.page.locator(".phone [role=alert]")
        expect(alert).to_contain_text("no microphone", timeout=15000)
        page.page.keyboard.press("Alt+1")  # bob goes available: his phone cannot take a call
        expect(page.page.locator(".statebar")).to_contain_text("phone: no microphone", timeout=15000)
        expect(page.page.locator(".statebar .pill")).to_have_text("away")
        page.page.get_by_label("where calls ring").select_option("desk")  # his desk phone, then
        expect(page.page.locator(".statebar .pill")).to_have_text("available", timeout=15000)
        page.page.keyboard.press("Alt+0")  # out of the queues again: ann takes the next call
        expect(page.page.locator(".statebar .pill")).to_have_text("logged out", timeout=15000)
    finally:
        page.page.evaluate("() => localStorage.removeItem('ivr.phone')")
        page.close()


def _music_heard_s(samples: np.ndarray, rate: int) -> float:
    """Seconds of the recording whose strongest tone is one of the hold music's notes."""
    hop = rate // 4
    notes = np.array([*NOTES_HZ, *(2 * f for f in NOTES_HZ)])
    hits = 0
    for i in range(0, len(samples) - hop, hop):
        spectrum = np.abs(np.fft.rfft(samples[i : i + hop] * np.hanning(hop)))
        if spectrum.max() < 1e-3:
            continue
        peak = np.argmax(spectrum) * rate / hop
        tonal = spectrum.max() > 20 * np.median(spectrum)
        hits += tonal and bool(np.any(np.abs(notes - peak) < 6))
    return hits * hop / rate


def _caller_wav(path: Path) -> Path:
    """A caller who talks on and on (so the agent hears them whenever they answer)."""
    said = ["cmu_arctic_us_aew_a0003.wav", "cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0002.wav"]
    return speech_wav(path, [(None, 6)] + [(said[i % 3], 1.5) for i in range(14)], rate=8000)


def test_the_agent_answers_in_the_page_holds_keys_mutes_and_hangs_up(hotline, browsers, engines, tmp_path):
    from ivr.records import Store

    page = Page(browsers["media"], hotline["api"])
    sockets: list = []  # type: ignore[type-arg]

    def route(ws):  # type: ignore[no-untyped-def]
        ws.connect_to_server()
        sockets.append(ws)

    page.page.route_web_socket(re.compile(rf"^ws://127\.0\.0\.1:{hotline['ws']}"), route)
    seen: dict = {}  # type: ignore[type-arg]
    try:
        page.sign_in("ann", PASSWORD)
        page.page.wait_for_url("**/console/agent")
        _available(page)
        phone = page.page.locator(".phone .tag")
        expect(phone).to_have_text("registered", timeout=15000)
        sockets[-1].close(code=4000, reason="the test drops it")  # the network drops the socket
        expect(phone).to_have_text("reconnecting", timeout=10000)
        expect(page.page.locator(".phone [role=alert]")).to_contain_text("lost its connection")
        expect(phone).to_have_text("registered", timeout=20000)  # by itself, on a new socket
        assert len(sockets) == 2
        caller = _caller_wav(tmp_path / "caller.wav")
        done = threading.Event()

        def call() -> None:
            seen["heard"] = baresip_call(
                tmp_path, f"sip:hotline@127.0.0.1:{hotline['sip']}", caller, seconds=70
            )
            done.set()

        threading.Thread(target=call, daemon=True).start()
        answer = page.page.get_by_role("button", name="Answer")
        expect(answer).to_be_visible(timeout=30000)  # the next call rings in the page
        assert (
            page.page.get_by_label("microphone", exact=True).locator("option").count() >= 2
        )  # default + fake
        answer.click()
        meter = page.page.get_by_label("microphone level")
        _waiting(
            page, lambda: meter.evaluate("m => m.value") > 0.01, 15, "the agent's voice on the level meter"
        )
        expect(page.page.locator(".quality")).to_contain_text("Line: good", timeout=15000)
        seen["page_heard"] = _heard(page, 12)
        page.page.get_by_role("button", name="Hold").click()
        expect(page.page.locator(".phone-state")).to_have_text("on hold", timeout=10000)
        _waiting(
            page, lambda: _hold_events(hotline, "start"), 15, "the worker's word that the caller is held"
        )
        page.page.wait_for_timeout(6000)  # the caller listens to the music a while
        page.page.get_by_role("button", name="Take back").click()
        _waiting(page, lambda: _hold_events(hotline, "stop"), 15, "the caller taken back")
        page.page.get_by_label("keypad").get_by_role("button", name="5").click()
        page.page.get_by_role("button", name="Mute").click()
        expect(page.page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
        _waiting(
            page, lambda: meter.evaluate("m => m.value") == 0, 10, "a muted microphone's meter at nothing"
        )
        page.page.get_by_role("button", name="Hang up").click()  # the agent ends the call
        _waiting(page, done.is_set, 90, "the caller's phone to hang up")
        expect(page.page.get_by_role("button", name="Hang up")).to_have_count(0)
        assert not page.foreign() and not page.errors, (page.foreign(), page.errors)
    finally:
        page.close()
    to_agent = transcribe(engines, seen["page_heard"], 16000)
    assert re.search(r"twentieth|shook hands|danger trail|philip|apologi[sz]ed|particular case", to_agent), (
        to_agent
    )
    samples, rate = decode_file(seen["heard"])
    said = transcribe(engines, samples, rate)
    assert "find someone for you" in said and "country" in said, said  # the agent's words, via the worker
    assert _music_heard_s(samples, rate) >= 3, "the caller heard no hold music"
    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        (ended,) = wait_until(
            lambda: [c for c in store.calls.list().calls if c["status"] == "ended"] or None, 60, "the record"
        )
        call = store.calls.get(ended["id"])
    finally:
        store.close()
    kinds = [
        (e["type"], e.get("state"), e.get("by")) for e in call["events"] if e["type"] in ("hold", "dtmf")
    ]
    assert kinds == [("hold", "start", "agent"), ("hold", "stop", "agent"), ("dtmf", None, "agent")], kinds
    assert call["outcome"] == "transferred", call["outcome"]
    speakers = {t["speaker"] for t in call["transcript"]}
    assert {"caller", "agent"} <= speakers, speakers  # both sides transcribed
    assert any(e["type"] == "bridge" and e["state"] == "connected" for e in call["events"])


def _hold_events(hotline, state: str) -> bool:  # type: ignore[no-untyped-def]
    """The live call's record has an agent's hold `state` (the worker writes events as they happen)."""
    from ivr.records import Store

    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        for c in store.calls.list().calls:
            events = store.calls.get(c["id"])["events"]
            if any(
                e["type"] == "hold" and e.get("state") == state and e.get("by") == "agent" for e in events
            ):
                return True
        return False
    finally:
        store.close()


def _heard(page: Page, seconds: float) -> np.ndarray:
    """`seconds` of what the page's phone plays, captured in the page."""
    playing = "() => !!(document.getElementById('phone-audio') || {}).srcObject"
    _waiting(page, lambda: page.page.evaluate(playing), 15, "the call's audio in the page")
    page.page.evaluate(LISTEN)
    _waiting(page, lambda: page.page.evaluate("() => window.heard.length") > 16000 * seconds, seconds + 20,
             f"{seconds:.0f} s of the call in the page")  # fmt: skip
    page.page.evaluate("() => window.listening.close()")  # (a tap left running starves the page)
    heard = np.array(page.page.evaluate("() => window.heard"), np.float32)
    return heard


def _monitor_active(hotline, mode: str) -> bool:  # type: ignore[no-untyped-def]
    from ivr.records import Store

    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        for c in store.calls.list().calls:
            events = store.calls.get(c["id"])["events"]
            if any(e["type"] == "monitor" and e["mode"] == mode and e["state"] == "active" for e in events):
                return True
        return False
    finally:
        store.close()


CALLER_SAYS = r"twentieth|twenty-?th|20th|evening|shook hands|danger|philip|steels|author of"
AGENT_SAYS = r"country|fellow|americans|\bas(k)? not what"  # jfk, said by ann's microphone
SUPERVISOR_SAYS = r"apologi[sz]ed|particular case|whittemore|tom\b"


def _talking_caller(hotline, tmp_path: Path, seen: dict, seconds: int) -> threading.Event:  # type: ignore[no-untyped-def, type-arg]
    """A baresip caller who says two sentences by turns after 6 s, for `seconds`; what they
    heard lands in seen["heard"] and the event is set when they have hung up."""
    said = ["cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0003.wav"]
    caller = speech_wav(tmp_path / "caller.wav", [(None, 6)] + [(said[i % 2], 3) for i in range(12)])
    done = threading.Event()

    def call() -> None:
        seen["heard"] = baresip_call(tmp_path, f"sip:hotline@127.0.0.1:{hotline['sip']}", caller, seconds)
        done.set()

    threading.Thread(target=call, daemon=True).start()
    return done


def test_a_supervisor_listens_then_whispers_from_the_floor_page(hotline, browsers, engines, tmp_path):
    """sam has no desk phone: the floor page is his. Listening, he hears the caller and ann
    (she is not told: nothing rings in her page); whispering, ann hears him and the caller never does."""
    agent = _agent_page(browsers["media"], hotline)
    sup = Page(browsers["supervisor"], hotline["api"], 1600, 1000)
    seen: dict = {}  # type: ignore[type-arg]
    try:
        sup.sign_in("sam", PASSWORD)
        sup.page.wait_for_url("**/console/floor")
        _available(agent)
        expect(sup.page.locator(".phone .tag")).to_have_text("registered", timeout=15000)
        done = _talking_caller(hotline, tmp_path, seen, 80)
        agent.page.get_by_role("button", name="Answer").click(timeout=30000)
        expect(agent.page.locator(".phone-state")).to_have_text("talking", timeout=15000)
        row = sup.page.locator("section[aria-label='live calls'] tr[data-call]")
        row.get_by_role("button", name="listen").click(timeout=20000)
        expect(sup.page.locator(".phone-state")).to_have_text("supervising", timeout=20000)
        wait_until(lambda: _monitor_active(hotline, "listen"), 20, "the supervisor listening")
        seen["sup_heard"] = _heard(sup, 16)
        expect(agent.page.get_by_role("button", name="Answer")).to_have_count(0)  # ann was not told
        expect(agent.page.locator(".phone-state")).to_have_text("talking")
        row.get_by_role("button", name="whisper").click()
        wait_until(lambda: _monitor_active(hotline, "whisper"), 20, "the supervisor whispering")
        seen["agent_heard"] = _heard(agent, 12)
        row.get_by_role("button", name="stop").click()
        expect(sup.page.locator(".phone-state")).to_have_count(0, timeout=20000)  # his page's call is over
        agent.page.get_by_role("button", name="Hang up").click()
        assert done.wait(90)
        assert not sup.foreign() and not sup.errors, (sup.foreign(), sup.errors)
    finally:
        sup.close()
        agent.close()
    to_sup = transcribe_mixed(engines, seen["sup_heard"], 16000)
    assert re.search(CALLER_SAYS, to_sup) and re.search(AGENT_SAYS, to_sup), to_sup  # both sides, mixed
    to_agent = transcribe(engines, seen["agent_heard"], 16000)
    assert re.search(SUPERVISOR_SAYS, to_agent), to_agent  # the whisper
    samples, rate = decode_file(seen["heard"])
    to_caller = transcribe(engines, samples, rate)
    assert "country" in to_caller and not re.search(SUPERVISOR_SAYS, to_caller), to_caller


def test_an_agent_transfers_the_caller_to_another_agent_from_the_page(hotline, browsers, engines, tmp_path):
    """ann answers in her page and hands the caller to bob with a note; bob's page rings, he
    hears who sent the caller and why before the caller is put through; ann is off the call;
    the caller hangs up and bob's page ends the call by itself."""
    from ivr.records import Store

    ann = _agent_page(browsers["media"], hotline)
    bob = _agent_page(browsers["supervisor"], hotline, "bob")
    seen: dict = {}  # type: ignore[type-arg]
    try:
        _available(ann)
        done = _talking_caller(hotline, tmp_path, seen, 50)
        ann.page.get_by_role("button", name="Answer").click(timeout=30000)
        expect(ann.page.locator(".phone-state")).to_have_text("talking", timeout=15000)
        _available(bob)  # bob is free once ann has the caller: the queue did not ring him first
        ann.page.get_by_role("button", name="Transfer…").click()
        ann.page.get_by_label("transfer to").select_option("a:bob")
        ann.page.get_by_label("note for the next agent").fill("wants a refund for a double charge")
        ann.page.locator("form.transfer").get_by_role("button", name="Transfer", exact=True).click()
        expect(ann.page.locator("form.transfer [role=status]")).to_contain_text("Transferring to bob")
        expect(ann.page.locator(".phone-state")).to_have_count(0, timeout=20000)  # ann's call is over
        bob.page.get_by_role("button", name="Answer").click(timeout=40000)
        seen["bob_heard"] = _heard(bob, 10)  # the briefing, then the caller
        _waiting(bob, done.is_set, 90, "the caller to hang up")
        expect(bob.page.get_by_role("button", name="Hang up")).to_have_count(
            0, timeout=15000
        )  # over in his page
        expect(ann.page.locator(".statebar .pill")).not_to_have_text("on call")
    finally:
        bob.page.evaluate("() => localStorage.removeItem('ivr.phone')")
        ann.close()
        bob.close()
    to_bob = transcribe(engines, seen["bob_heard"], 16000)
    assert re.search(r"transferred by|refund|double charge", to_bob), to_bob  # the context in hand
    samples, rate = decode_file(seen["heard"])
    to_caller = transcribe(engines, samples, rate)
    # told, then talking with bob (his page's microphone says the sentence sam's said above)
    assert "putting you through" in to_caller and re.search(SUPERVISOR_SAYS, to_caller), to_caller
    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        calls = [c for c in store.calls.list().calls if c["status"] == "ended"]
        call = store.calls.get(calls[0]["id"])
        row = store.transfers.get(1)
    finally:
        store.close()
    offers = [(e["agent"], e.get("outcome", "ringing")) for e in call["events"] if e["type"] == "agent_offer"]
    assert offers[-2:] == [("bob", "ringing"), ("bob", "bridged")] and ("ann", "bridged") in offers, offers
    assert row is not None and row["state"] == "done" and row["target"] == "bob", row
