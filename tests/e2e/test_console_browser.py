"""The console in a real Chromium against a real `ivr` API server and store: the agent's
screen pop, live lines, radar and wrap-up; the supervisor's floor; and what is refused. The
call's events are written to the store the way a worker writes them (the SIP version of this
is tests/test_console_sip.py)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from ivr.acd.engine import Acd
from ivr.acd.policy import QueueRules
from ivr.api import BackgroundServer, create_app
from ivr.call.record import CallRecord
from ivr.events import EventType as T
from ivr.events import make
from ivr.records import Store
from tests.browser import Page

pytestmark = pytest.mark.browser
PASSWORD = "a long password"
WAIT_MS = 15000


@pytest.fixture
def served(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store.agents.add("ann", PASSWORD, ["billing"])
    store.users.add("sue", "supervisor", PASSWORD)
    (tmp_path / "run").mkdir()
    with BackgroundServer(create_app(store=store, run_dir=tmp_path / "run")) as api:
        yield store, api.base_url
    store.close()


def _call(store: Store, call_id: str) -> CallRecord:
    rec = CallRecord(
        call_id, store.writer, caller={"number": "+447700900001", "name": "Ada Lovelace", "tier": "vip"}
    )
    rec(make(call_id, 0, T.CALL_START, sample_rate=8000, caller="+447700900001"))
    rec(make(call_id, 800, T.NODE, name="main"))
    rec(make(call_id, 2500, T.FINAL_TRANSCRIPT, text="I want to dispute a roaming charge on my bill"))
    rec(make(call_id, 2600, T.INTENT, name="dispute_charge", confidence=0.81, node="main"))
    rec(make(call_id, 2700, T.AFFECT, anger=0.31, anxiety=0.12, level="calm"))
    rec(make(call_id, 3000, T.SAY, text="Of course, connecting you to billing."))
    store.writer.flush()
    return rec


def _wrap_up_with_a_kb_suggestion(agent: Page) -> None:
    """The agent's wrap-up: an empty note is refused in the page; then a note and a knowledge
    base suggestion, sent with Ctrl+Enter."""
    form = agent.page.locator("form.wrapup")
    expect(form).to_be_visible(timeout=WAIT_MS)
    form.locator("textarea[name=note]").fill("")
    form.locator("button[type=submit]").click()
    expect(form.locator(".error")).to_contain_text("resolution note")  # validated before it is sent
    form.locator("textarea[name=note]").fill("Refunded the duplicate roaming charge.")
    form.locator("input[name=kb]").check()
    form.locator("input[name=kb_question]").fill("I was charged twice for roaming, can I get a refund?")
    form.locator("textarea[name=kb_answer]").fill(
        "Yes: a duplicate roaming charge is refunded to the next bill."
    )
    agent.shot("agent-wrapup")
    form.locator("textarea[name=kb_answer]").press("Control+Enter")
    expect(form).to_be_hidden(timeout=WAIT_MS)


def _the_wrap_up_and_its_kb_candidate(store: Store) -> None:
    """What the store keeps of the wrap-up: the disposition and note, and a new KB candidate."""
    wrap = store.console.wrapup_of("call-1")
    assert wrap["disposition"] == "resolved" and wrap["agent"] == "ann" and "Refunded" in wrap["note"]
    (kb,) = store.kb.candidates(None)
    assert (
        kb["question"].startswith("I was charged twice")
        and kb["state"] == "new"
        and kb["call_id"] == "call-1"
    )


def test_an_agent_takes_a_call_from_pop_to_wrap_up_and_the_supervisor_sees_the_floor(served, chromium):
    store, base = served
    acd = Acd(store.engine, {"billing": QueueRules("billing", frozenset({"billing"}))})
    agent, sup = Page(chromium, base), Page(chromium, base, 1920, 1080)
    try:
        agent.sign_in("ann", PASSWORD)
        expect(agent.page).to_have_url(re.compile(r"/console/agent$"))
        expect(agent.page.locator(".statebar .pill")).to_have_text("logged out", timeout=WAIT_MS)
        agent.page.keyboard.press("Alt+1")  # the keyboard works as the button does
        expect(agent.page.locator(".statebar .pill")).to_have_text("available", timeout=WAIT_MS)
        sup.sign_in("sue", PASSWORD)
        expect(sup.page).to_have_url(re.compile(r"/console/floor$"))

        rec = _call(store, "call-1")
        context = {"caller": {"name": "Ada Lovelace", "tier": "vip", "number": "+447700900001"},
                   "intent": {"name": "dispute_charge", "confidence": 0.81},
                   "transcript": ["I want to dispute a roaming charge on my bill"],
                   "vars": {"balance": "42.10"}, "path": ["main", "billing_help"],
                   "summary": "Ada Lovelace (vip); wants dispute charge", "history": {"count": 2, "days": 30,
                   "last_days_ago": 3.0, "last_intent": "check_balance", "last_outcome": "resolved"}}  # fmt: skip
        store.agents.set_state("ann", store.agents.get("ann").state)  # no-op: ann stays available
        acd.join("call-1", "billing", 150, reasons=("vip caller +50",), context=context)
        # the floor: the live call and the caller waiting in billing
        row = sup.page.locator("tr[data-call='call-1']")
        expect(row).to_contain_text("Ada Lovelace", timeout=WAIT_MS)
        expect(row).to_contain_text("queue billing")
        expect(sup.page.locator(".queue[data-queue=billing]")).to_contain_text("1 waiting")
        sup.shot("floor")
        sup.page.emulate_media(color_scheme="dark")  # dark or light, as the system is
        expect(sup.page.locator("body")).to_have_css("background-color", "rgb(17, 20, 24)")
        sup.shot("floor-dark")
        sup.page.emulate_media(color_scheme="light")

        assert acd.claim("call-1").name == "ann"
        pop = agent.page.locator(".pop.ringing")
        expect(pop).to_contain_text("dispute a roaming charge", timeout=WAIT_MS)  # before anyone answers
        expect(pop).to_contain_text("vip caller +50")
        expect(pop).to_contain_text("2 in 30 days")
        expect(agent.page.locator(".transcript")).to_contain_text("connecting you to billing")
        expect(agent.page.locator(".radar")).to_have_attribute("data-points", "1")

        acd.answered("call-1", "ann")
        rec(
            make("call-1", 9000, T.FINAL_TRANSCRIPT, text="Hello, this is Ann from billing.", speaker="agent")
        )
        rec(make("call-1", 12000, T.FINAL_TRANSCRIPT, text="I was charged twice for roaming in Spain."))
        rec(make("call-1", 12100, T.AFFECT, anger=0.55, anxiety=0.2, level="rising"))
        store.writer.flush()
        expect(agent.page.locator(".transcript .who-agent")).to_contain_text("this is Ann", timeout=WAIT_MS)
        expect(agent.page.locator(".transcript .who-caller").last).to_contain_text(
            "charged twice", timeout=WAIT_MS
        )
        expect(agent.page.locator(".radar")).to_have_attribute("data-points", "2", timeout=WAIT_MS)
        expect(row).to_contain_text("agent ann", timeout=WAIT_MS)
        agent.shot("agent-call")

        rec(make("call-1", 60000, T.CALL_END, duration_ms=60000))
        store.writer.flush()
        acd.call_ended("ann")
        _wrap_up_with_a_kb_suggestion(agent)
        expect(agent.page.locator(".statebar .pill")).to_have_text("available", timeout=WAIT_MS)
        expect(agent.page.locator("section[aria-label='recent calls']")).to_contain_text(
            "resolved", timeout=WAIT_MS
        )

        sup.page.goto("/console/calls/call-1")
        expect(sup.page.locator(".calldetail")).to_contain_text("Refunded the duplicate", timeout=WAIT_MS)
        expect(sup.page.locator(".calldetail .transcript")).to_contain_text("charged twice")
        sup.shot("call-detail")
        assert not agent.errors and not sup.errors, (agent.errors, sup.errors)
        assert not agent.foreign() and not sup.foreign(), (agent.foreign(), sup.foreign())
    finally:
        agent.close()
        sup.close()
    _the_wrap_up_and_its_kb_candidate(store)


def test_wrong_password_wrong_role_and_no_cookie_are_refused(served, chromium):
    store, base = served
    page = Page(chromium, base)
    try:
        page.sign_in("ann", "not the password")
        expect(page.page.locator(".error")).to_have_text("Wrong user or password.", timeout=WAIT_MS)
        expect(page.page).to_have_url(re.compile(r"/console/$"))
        # no cookie: the pages send you to sign in, the API says 401
        page.page.goto("/console/agent")
        expect(page.page).to_have_url(re.compile(r"/console/\?next=/console/agent$"))
        assert page.page.request.get("/api/floor").status == 401
        page.sign_in("ann", PASSWORD)
        expect(page.page).to_have_url(re.compile(r"/console/agent$"))
        # an agent is not sent the supervisor's pages, and the API refuses them the floor
        response = page.page.goto("/console/floor")
        assert response is not None and response.status == 403
        expect(page.page.locator("h1")).to_have_text("Refused")
        assert page.page.request.get("/api/floor").status == 403
        # the cookie alone cannot change anything: the CSRF token must come with it
        r = page.page.request.post("/api/agents/ann/state", data={"state": "away"})
        assert r.status == 403 and "CSRF" in r.text()
        assert not page.foreign(), page.foreign()
    finally:
        page.close()
    # the token is never handed to the page: httpOnly, and nothing in the body
    r = httpx.post(f"{base}/api/session", json={"user": "ann", "password": PASSWORD})
    assert "token" not in r.json() and "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()


def test_a_websocket_from_another_site_gets_no_session(served):
    store, base = served
    r = httpx.post(f"{base}/api/session", json={"user": "sue", "password": PASSWORD})
    cookie = r.cookies["ivr_session"]
    import websockets
    import websockets.sync.client as wsc

    url = base.replace("http://", "ws://") + "/api/floor/events"
    with wsc.connect(url, additional_headers={"Cookie": f"ivr_session={cookie}", "Origin": base}) as ws:
        assert '"floor"' in ws.recv(timeout=10)
    # another site's page carrying our cookie is refused before the socket opens
    with pytest.raises(websockets.exceptions.InvalidStatus) as e:
        wsc.connect(
            url, additional_headers={"Cookie": f"ivr_session={cookie}", "Origin": "http://evil.example"}
        )
    assert e.value.response.status_code == 403


def test_the_agent_sees_the_caller_was_lost_when_their_media_host_dies(served, chromium):
    """The host holding ann's call stops beating: the survivors close the call and free ann;
    her page says the caller was lost and why, and offers the wrap-up."""
    import time

    from ivr.app.hosts import Hosts, clean_up_lost
    from ivr.call.record import HOST

    store, base = served
    acd = Acd(store.engine, {"billing": QueueRules("billing", frozenset({"billing"}))})
    agent = Page(chromium, base)
    try:
        agent.sign_in("ann", PASSWORD)
        expect(agent.page.locator(".statebar .pill")).to_have_text("logged out", timeout=WAIT_MS)
        agent.page.keyboard.press("Alt+1")
        expect(agent.page.locator(".statebar .pill")).to_have_text("available", timeout=WAIT_MS)
        hosts = Hosts(store.engine)
        hosts.beat(HOST, "media", "10.0.0.2", [5062], 4, 1, 100, now=time.time() - 60)  # silent a minute
        _call(store, "call-2")
        acd.join("call-2", "billing", 0, context={"caller": {"name": "Ada Lovelace"}})
        assert acd.claim("call-2").name == "ann"
        acd.answered("call-2", "ann")
        expect(agent.page.locator(".transcript")).to_contain_text(
            "connecting you to billing", timeout=WAIT_MS
        )
        (lost,) = hosts.claim_lost()
        clean_up_lost(store, lost)
        alert = agent.page.locator("[role=alert]", has_text="The caller was lost")
        expect(alert).to_contain_text(f"host {HOST} was lost", timeout=WAIT_MS)
        expect(agent.page.locator("form.wrapup")).to_be_visible(timeout=WAIT_MS)
        expect(agent.page.locator(".statebar .pill")).to_have_text("wrap up", timeout=WAIT_MS)
        agent.shot("agent-caller-lost")
        assert not agent.errors, agent.errors
    finally:
        agent.close()
