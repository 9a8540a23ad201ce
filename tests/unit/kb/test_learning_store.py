"""The KB's versions and the operator's report over a real store (SQLite and PostgreSQL): approve,
merge, edit, roll back, retire, export; live entries a worker picks up without a restart;
and a generated day of 500 calls of known mix whose report shows that mix. Category: unit."""

from __future__ import annotations

import pytest
import yaml

from ivr.analytics.report import report, tables, to_csv
from ivr.kb import KbError
from ivr.kb.live import LiveKnowledge
from ivr.qa.config import QaConfig
from ivr.qa.screen import Screener
from ivr.store.tables import kb_candidates
from tests.fakes import WordsEmbedder
from tests.tools.synthetic import ESCALATING_AGENT_CALLS, MIX, REDIALS, generate_day

LEARNING_VOCAB = ["paper", "bill", "post", "roaming", "europe", "pay", "card", "refund"]

pytestmark = pytest.mark.unit


def candidate(store, question: str, answer: str) -> int:  # type: ignore[no-untyped-def]
    with store.engine.begin() as conn:
        return int(conn.execute(kb_candidates.insert().values(call_id="c", agent="ann", question=question, answer=answer,
                                                              created_at=1.0)).inserted_primary_key[0])  # fmt: skip


def test_kb_versions_from_candidate_to_rollback(store):
    kb = store.kb
    a = candidate(store, "Can I get a paper bill?", "Yes, we post one monthly.")
    b = candidate(store, "Do you send paper bills", "Yes.")
    done = kb.approve(a, "sue", also=[b])
    assert done == {"key": "can_i_get_a_paper_bill", "version": 1}
    assert [c["state"] for c in kb.candidates(None)] == ["merged", "approved"]
    (entry,) = kb.entries()
    assert entry["questions"] == ["Can I get a paper bill?", "Do you send paper bills"]
    with pytest.raises(KbError, match="already approved"):
        kb.approve(a, "sue")
    kb.edit(done["key"], "sue", answer="Yes: a paper bill by post each month, free.")
    assert kb.entry(done["key"])["version"] == 2
    c = candidate(store, "paper bill by post?", "Yes")
    assert kb.approve(c, "sue", into=done["key"])["version"] == 3  # merged: the answer stays
    assert kb.entry(done["key"])["answer"] == "Yes: a paper bill by post each month, free."
    back = kb.rollback(done["key"], "sue", to_version=1)
    assert back["version"] == 4 and kb.entry(done["key"])["answer"] == "Yes, we post one monthly."
    assert [v["note"] for v in kb.history(done["key"])][0] == "rolled back to v1"
    exported = yaml.safe_load(kb.export_yaml())["knowledge"]
    assert exported[0]["id"] == done["key"] and exported[0]["answer"] == "Yes, we post one monthly."
    kb.retire(done["key"], "sue")
    assert kb.live() == [] and kb.entries() == []
    with pytest.raises(KbError, match="no live KB entry"):
        kb.rollback(done["key"], "sue")
    with pytest.raises(KbError, match="answer is empty"):
        kb.approve(candidate(store, "q?", "a"), "sue", answer="  ")


def test_an_approval_is_live_for_a_running_worker_without_a_restart(store):
    live = LiveKnowledge(store.kb, WordsEmbedder(LEARNING_VOCAB), refresh_s=0)
    assert live.best("do you post a paper bill") == (None, 0.0)
    store.kb.approve(candidate(store, "can I get a paper bill", "Yes, by post."), "sue")
    entry, score = live.best("do you post a paper bill")
    assert entry is not None and entry["answer"] == "Yes, by post." and entry["version"] == 1 and score > 0.6
    store.kb.edit(entry["id"], "sue", answer="Yes, by post, monthly.")
    assert live.best("paper bill")[0]["answer"] == "Yes, by post, monthly."


def test_a_generated_day_of_500_calls_reports_its_known_mix(store):
    info = generate_day(store.engine, 500, day="2026-11-30", tz="Europe/London")
    Screener(store, QaConfig(timezone="Europe/London")).run_since(0)
    r = report(store.engine, info["day_start"], info["day_end"], "Europe/London")
    n = 500
    resolved = MIX["balance"] + MIX["data"] + MIX["kb"] + MIX["outage"]
    assert r["calls"] == n
    assert r["containment"] == resolved / n
    assert r["containment_redial_corrected"] == (resolved - REDIALS) / n
    l1 = resolved + MIX["no_match"]
    l3 = MIX["complaint"] + MIX["vip"]
    assert r["tiers"] == {"L1": l1 / n, "L2": (n - l1 - l3) / n, "L3": l3 / n}
    assert r["top_intents"][0] == {
        "intent": "check_balance",
        "calls": MIX["balance"],
        "share": MIX["balance"] / n,
    }
    queued = MIX["lost_sim"] + MIX["agent"] + MIX["agent_abandoned"] + MIX["complaint"] + MIX["vip"]
    assert r["abandon_rate"] == round(MIX["agent_abandoned"] / queued, 4)
    assert r["escalation_rate"] == (MIX["complaint"] + ESCALATING_AGENT_CALLS) / n
    general = next(q for q in r["queues"] if q["queue"] == "general")
    assert (general["offered"], general["abandoned"], general["service_level"]) == (35, 10, 0.0)
    assert r["kb"]["calls_answered_from_kb"] == MIX["kb"] and r["kb"]["their_containment"] == 1.0
    assert (
        r["pain_points"]["nodes"][0]["node"] == "menu"
        and r["pain_points"]["nodes"][0]["calls"] == MIX["no_match"]
    )
    assert {g["topic"] for g in r["hot_topics"]["unmatched"]} >= {"do you sell phone cases"}
    assert r["qa"]["screened"] == n and 0 < r["qa"]["queued"] <= 0.2 * n + 0.05 * n
    csv_text = to_csv(tables(r)["tiers"])
    assert csv_text.splitlines()[0] == "tier,share,calls,target" and "L1,0.78,390,0.8" in csv_text
