"""The learning pages in a real Chromium against a real API server and store: a supervisor
approves an agent's KB candidate (edited) in the browser and the store's live KB answers a
caller's other words with it; the dashboard shows the generated day's figures; a reviewer
scores a flagged call on the admin's form and the disagreement is counted. Category: browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ivr.api import BackgroundServer, create_app
from ivr.qa.config import load_qa_config
from ivr.qa.screen import Screener
from ivr.records import Store
from ivr.store.tables import kb_candidates
from tests.browser import Page
from tests.tools.synthetic import generate_day

pytestmark = pytest.mark.browser
PASSWORD = "a long password"
WAIT_MS = 15000


@pytest.fixture
def served(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store.users.add("sue", "supervisor", PASSWORD)
    (tmp_path / "run").mkdir()
    qa = load_qa_config("dialplans/qa.yaml")
    with BackgroundServer(create_app(store=store, run_dir=tmp_path / "run", qa_config=qa)) as api:
        yield store, api.base_url, qa
    store.close()


def test_a_supervisor_approves_a_kb_candidate_in_the_browser_and_the_next_caller_hears_it(
    served, chromium, speech_address
):
    store, base, _ = served
    with store.engine.begin() as conn:
        conn.execute(kb_candidates.insert().values(
            call_id="call-9", agent="ann", question="can I get a paper bill",
            answer="yes we can post it", created_at=1.0))  # fmt: skip
    sup = Page(chromium, base, 1600, 900)
    try:
        sup.sign_in("sue", PASSWORD)
        expect(sup.page).to_have_url(re.compile(r"/console/floor$"), timeout=WAIT_MS)  # signed in
        sup.page.goto(f"{base}/console/kb")
        card = sup.page.get_by_role("article", name="candidate 1")
        expect(card).to_contain_text("from ann", timeout=WAIT_MS)
        card.locator("textarea[name=answer]").fill(
            "Yes. We can post you a paper bill every month, free of charge."
        )
        card.get_by_role("button", name="Approve").click()
        expect(sup.page.get_by_role("status")).to_contain_text(
            "Live: can_i_get_a_paper_bill v1", timeout=WAIT_MS
        )
        expect(sup.page.get_by_role("region", name="entries")).to_contain_text("every month, free of charge")
        sup.shot("kb")
        assert sup.foreign() == []
    finally:
        sup.close()
    (entry,) = store.kb.live()
    assert entry["answer"].startswith("Yes. We can post you a paper bill") and entry["version"] == 1
    assert store.kb.candidate(1)["decided_by"] == "sue"
    # the next replayed call asks in other words, and the AI answers with what was approved
    from concurrent.futures import ThreadPoolExecutor

    from tests.e2e.test_learning_calls import replay

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        events = pool.submit(replay, speech_address, store, "paper_bill.yaml", "after-approval").result()
    heard = [e.data for e in events if e.type == "say" and "paper bill" in e.data["text"]]
    assert heard and heard[0]["text"].startswith("Yes. We can post you a paper bill every month")
    assert any(e.type == "final_transcript" and "post" in e.data["text"].lower() for e in events)


def test_the_dashboard_and_a_qa_review(served, chromium):
    store, base, qa = served
    import time

    # yesterday's 08:00-20:00 in London: wholly in the past and inside the page's 7 days at any
    # hour the suite runs (today's would be in the future before 08:00)
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    yesterday = (datetime.now(ZoneInfo("Europe/London")) - timedelta(days=1)).date().isoformat()
    generate_day(store.engine, 500, day=yesterday, tz="Europe/London")
    Screener(store, qa).run_since(0)
    sup = Page(chromium, base, 1920, 1080)
    try:
        sup.sign_in("sue", PASSWORD)
        expect(sup.page).to_have_url(re.compile(r"/console/floor$"), timeout=WAIT_MS)  # signed in
        sup.page.goto(f"{base}/console/dashboard")
        expect(sup.page.locator("[data-kpi=calls]")).to_have_text(re.compile(r"^\d+$"), timeout=WAIT_MS)
        r = store  # the figures the page shows are the report's
        from ivr.analytics.report import report

        figures = report(r.engine, 0, time.time() + 1, "Europe/London")
        expect(sup.page.locator("[data-kpi=calls]")).to_have_text(str(figures["calls"]))
        expect(sup.page.locator("[data-kpi=containment]")).to_have_text(
            f"{figures['containment'] * 100:.1f}%"
        )
        expect(sup.page.locator("[data-kpi=L3]")).to_have_text(f"{figures['tiers']['L3'] * 100:.1f}%")
        expect(sup.page.get_by_role("region", name="queues")).to_contain_text("general")
        expect(sup.page.get_by_role("region", name="top intents")).to_contain_text("check balance")
        sup.shot("dashboard")
        csv = sup.page.request.get(f"{base}/api/report/tiers.csv?days=2")
        assert csv.ok and csv.text().splitlines()[0] == "tier,share,calls,target"

        sup.page.goto(f"{base}/console/qa")
        first = sup.page.get_by_role("region", name="review queue").locator("tbody tr").first
        expect(first).to_contain_text("radar escalate", timeout=WAIT_MS)
        sup.shot("qa")
        first.locator("a").click()
        form = sup.page.get_by_role("form", name="review form")
        expect(form).to_be_visible(timeout=WAIT_MS)
        for q in ("understood", "correct", "escalated_right", "compliance"):
            form.locator(f"select[name={q}]").select_option("yes")
        form.locator("select[name=tone]").select_option("5")
        sup.page.get_by_role("region", name="qa").get_by_label("wrong").first.check()
        form.get_by_role("button", name="Submit review").click()
        expect(sup.page.get_by_role("status")).to_contain_text("disagrees with the AI", timeout=WAIT_MS)
        assert sup.foreign() == []
    finally:
        sup.close()
    agreement = store.qa.agreement()
    assert (
        agreement["reviews"] == 1
        and agreement["disagree"] == 1
        and agreement["wrong_flags"] == {"radar_escalate": 1}
    )
