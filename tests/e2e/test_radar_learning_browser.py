"""The radar learns, in a real Chromium against a real API server and store: the agent's wrap-up
and a reviewer's QA form say whether the caller was upset (the reviewer marks the line where it
started) and the store keeps the labels with the call's cues; an admin retrains on a generated
labelled day in the console, sees before/after on the held-out calls, approves the version and
the next call is judged with it; a rollback and the call after is judged with the shipped model
again. Category: browser."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert

from ivr.api import BackgroundServer, create_app
from ivr.call.record import CallRecord
from ivr.events import EventType as T
from ivr.events import make
from ivr.qa.config import load_qa_config
from ivr.qa.screen import Screener
from ivr.radar.live import LiveRadar
from ivr.records import Store
from ivr.store.engine import write_tx
from ivr.store.tables import queue_entries
from prosody.radar import RadarModel
from tests.browser import Page
from tests.e2e.test_learning_calls import replay
from tests.tools.radar_day import write_day

pytestmark = pytest.mark.browser
PASSWORD = "a long password"
WAIT_MS = 15000
CUES = {
    "pp": [1.0, 2.0, 0.5, -0.5],
    "po": [0.8, 1.5, 0.4, -0.3],
    "own": 1.0,
    "trust": 1.0,
    "gain": 1.0,
    "s": 2.0,
}


@pytest.fixture
def served(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store.users.add("sue", "supervisor", PASSWORD)
    store.users.add("ada", "admin", PASSWORD)
    store.agents.add("ann", PASSWORD, ["general"])
    (tmp_path / "run").mkdir()
    qa = load_qa_config("dialplans/qa.yaml")
    with BackgroundServer(create_app(store=store, run_dir=tmp_path / "run", qa_config=qa)) as api:
        yield store, api.base_url, qa
    store.close()


def _a_call_ann_took(store: Store, qa) -> str:  # type: ignore[no-untyped-def]
    """An ended call put through to ann: the caller's three lines, each with the radar's cues."""
    cid = "call-upset-1"
    rec = CallRecord(cid, store.writer, caller={"number": "+447700900123"})
    rec(make(cid, 0, T.CALL_START, sample_rate=8000))
    lines = [(2000, 4000, "I want to check my bill"), (9000, 12000, "this is the third time I have called"),
             (16000, 19000, "nobody ever calls me back")]  # fmt: skip
    for onset, end, text in lines:
        rec(make(cid, end, T.AFFECT, anger=0.2, anxiety=0.1, level="calm", cues=CUES))
        rec(make(cid, end, T.FINAL_TRANSCRIPT, text=text, onset_ms=onset))
    rec(make(cid, 21000, T.CALL_END, duration_ms=21000))
    store.writer.flush()
    now = time.time()
    with write_tx(store.engine) as conn:
        conn.execute(insert(queue_entries).values(call_id=cid, queue="general", joined_at=now - 30, state="left",
                                                  agent="ann", left_at=now - 5, leave_reason="answered"))  # fmt: skip
    Screener(store, qa).run_since(0)
    return cid


def test_the_wrap_up_and_the_review_form_store_who_was_upset(served, chromium):
    store, base, qa = served
    cid = _a_call_ann_took(store, qa)
    agent = Page(chromium, base, 1400, 900)
    try:
        agent.sign_in("ann", PASSWORD)
        expect(agent.page).to_have_url(re.compile(r"/console/agent$"), timeout=WAIT_MS)
        recent = agent.page.get_by_role("region", name="recent calls")
        recent.get_by_role("button", name="Wrap up").click(timeout=WAIT_MS)
        form = agent.page.locator("form.wrapup")
        form.locator("select[name=disposition]").select_option("escalated")
        form.get_by_label("Caller upset?").select_option("angry")
        form.get_by_role("button", name=re.compile("Submit")).click()
        expect(form).to_be_hidden(timeout=WAIT_MS)
        assert agent.foreign() == [] and not agent.errors, agent.errors
    finally:
        agent.close()
    assert [(r["source"], r["label"], r["author"]) for r in store.radar.labels_of(cid)] == [
        ("wrapup", "angry", "ann")
    ]

    sup = Page(chromium, base, 1600, 1000)
    try:
        sup.sign_in("sue", PASSWORD)
        expect(sup.page).to_have_url(re.compile(r"/console/floor$"), timeout=WAIT_MS)
        sup.page.goto(f"{base}/console/calls/{cid}")
        expect(sup.page.locator(".upset-labels")).to_contain_text("angry (wrap-up, ann)", timeout=WAIT_MS)
        sup.page.get_by_role("button", name="upset from here (0:09)").click()  # "third time I have called"
        expect(sup.page.locator(".transcript li.marked")).to_contain_text("third time")
        review = sup.page.get_by_role("form", name="review form")
        for q in ("understood", "correct", "escalated_right", "compliance"):
            review.locator(f"select[name={q}]").select_option("yes")
        review.locator("select[name=tone]").select_option("2")
        review.get_by_label("Caller upset?").select_option("anxious")
        expect(review.get_by_label("where it started")).to_contain_text("Started at 0:09")
        review.get_by_role("button", name="Submit review").click()
        expect(sup.page.get_by_role("status")).to_contain_text("Reviewed", timeout=WAIT_MS)
        expect(sup.page.locator(".upset-labels")).to_contain_text(
            "anxious from 0:09 (review, sue)", timeout=WAIT_MS
        )
        sup.shot("radar-label")
        assert sup.foreign() == [] and not sup.errors, sup.errors
    finally:
        sup.close()
    labels = {r["source"]: r for r in store.radar.labels_of(cid)}
    assert (
        labels["qa"]["label"] == "anxious"
        and labels["qa"]["started_ms"] == 9000
        and labels["qa"]["author"] == "sue"
    )
    (row,) = store.radar.labelled_calls(0)  # kept with the utterances' cues
    assert [u["t_ms"] for u in row["utterances"]] == [4000, 12000, 19000]


def test_an_admin_retrains_approves_and_rolls_back_in_the_console_and_the_next_call_follows(
    served, chromium, speech_address
):
    store, base, _ = served
    day = write_day(store.engine)
    since = datetime.fromtimestamp(day["first"], ZoneInfo("Europe/London")).date().isoformat()
    live = LiveRadar(store.radar, RadarModel.load(), refresh_s=0)
    admin = Page(chromium, base, 1600, 1000)
    try:
        admin.sign_in("ada", PASSWORD)
        expect(admin.page).to_have_url(re.compile(r"/console/floor$"), timeout=WAIT_MS)
        admin.page.goto(f"{base}/console/radar")
        labels = admin.page.get_by_role("region", name="labels")
        expect(labels).to_contain_text("upset calls labelled", timeout=WAIT_MS)
        expect(labels.locator("[data-kpi=caught]")).to_contain_text("of the upset calls as they ran")
        admin.page.get_by_label("Labelled since").fill(since)
        admin.page.get_by_label("False alarms per 100 calm calls").fill("3")
        admin.page.get_by_role("button", name="Save budget").click()
        expect(admin.page.get_by_role("status")).to_contain_text("Budget: 3", timeout=WAIT_MS)
        admin.page.get_by_role("button", name="Retrain", exact=True).click()
        status = admin.page.get_by_role("status")
        expect(status).to_contain_text("Proposed as version 1", timeout=60000)
        table = admin.page.get_by_role("table", name="before and after")
        expect(table).to_contain_text("live (version 0), as it runs")
        expect(table).to_contain_text("live, its threshold set for the budget")
        expect(table).to_contain_text("retrained, for the budget")
        admin.shot("radar-retrain")
        row = admin.page.locator("tr[data-version='1']")
        row.get_by_role("button", name="Approve").click()
        expect(status).to_contain_text("Version 1 is live", timeout=WAIT_MS)
        expect(row).to_contain_text("active")
        assert live.current().version == 1  # what a worker's next call is judged with
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
            events = pool.submit(
                replay, speech_address, store, "escalate.yaml", "after-approval", live
            ).result()
        affects = [
            e.data for e in events if e.type == "affect" and "cues" in e.data
        ]  # the radar's (not the script's)
        assert affects and all(a.get("model") == 1 for a in affects), affects
        row.get_by_role("button", name="Roll back").click()
        expect(status).to_contain_text("the shipped model is live", timeout=WAIT_MS)
        assert not admin.errors and admin.foreign() == [], admin.errors
    finally:
        admin.close()
    with ThreadPoolExecutor(1) as pool:
        events = pool.submit(replay, speech_address, store, "escalate.yaml", "after-rollback", live).result()
    affects = [
        e.data for e in events if e.type == "affect" and "cues" in e.data
    ]  # the radar's (not the script's)
    assert affects and all("model" not in a for a in affects), affects
    version = store.radar.version(1)
    assert version["state"] == "rolled_back" and version["budget"] == 3.0 and version["created_by"] == "ada"
