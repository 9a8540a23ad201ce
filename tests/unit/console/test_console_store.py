"""The console's records in the store (SQLite and PostgreSQL): wrap-ups only by the agent who
took the call and only once, KB candidates from them, one supervisor's monitor per call and
its life, and the floor's snapshot (where each call is, waits, alerts)."""

from __future__ import annotations

import time

import pytest

from ivr.acd.engine import Acd
from ivr.acd.policy import QueueRules
from ivr.api.floor import SERVICE_LEVEL_S, snapshot
from ivr.call.record import CallRecord
from ivr.events import EventType as T
from ivr.events import make
from ivr.records import UserError

pytestmark = pytest.mark.unit
RULES = {"billing": QueueRules("billing", frozenset({"billing"}))}


def _live(store, call_id: str, level: str = "calm") -> None:  # type: ignore[no-untyped-def]
    rec = CallRecord(call_id, store.writer, caller={"number": "+447700900001", "name": "Ada", "tier": "gold"})
    rec(make(call_id, 0, T.CALL_START, sample_rate=8000))
    rec(make(call_id, 100, T.NODE, name="menu"))
    rec(make(call_id, 900, T.AFFECT, anger=0.7 if level == "escalate" else 0.1, anxiety=0.1, level=level))
    store.writer.flush()


def test_wrap_up_is_the_answering_agents_once_and_feeds_kb_candidates(store):
    store.agents.add("ann", "a long password", ["billing"])
    store.agents.add("bob", "a long password", ["billing"])
    acd = Acd(store.engine, RULES)
    _live(store, "c1")
    store.agents.set_state("ann", "available")
    acd.join("c1", "billing", 0)
    assert acd.claim("c1").name == "ann"
    with pytest.raises(UserError, match="not put through"):
        store.console.wrap_up("ann", "c1", "resolved", "too early")  # ringing, not answered
    acd.answered("c1", "ann")
    acd.call_ended("ann")
    with pytest.raises(UserError, match="bob was not put through"):
        store.console.wrap_up("bob", "c1", "resolved", "not his")
    with pytest.raises(UserError, match="disposition"):
        store.console.wrap_up("ann", "c1", "made_up", "x")
    out = store.console.wrap_up(
        "ann", "c1", "resolved", "refunded", kb=("can I get a paper bill", "yes, ..."), available=True
    )
    assert out["kb_candidate"] is not None and store.agents.get("ann").state == "available"
    with pytest.raises(UserError, match="already wrapped up"):
        store.console.wrap_up("ann", "c1", "resolved", "again")
    (cand,) = store.kb.candidates("new")
    assert cand["question"] == "can I get a paper bill" and cand["agent"] == "ann"
    (recent,) = store.console.recent_calls("ann")
    assert recent["id"] == "c1" and recent["disposition"] == "resolved"


def test_one_monitor_per_call_and_it_needs_a_phone_and_a_live_call(store):
    store.users.add("sue", "supervisor", "a long password")
    store.agents.add("ann", "a long password", ["billing"])
    _live(store, "c1")
    with pytest.raises(UserError, match="not with an agent"):  # still in the IVR: nothing to listen in on
        store.console.monitor_request("c1", "sue", "listen")
    acd = Acd(store.engine, RULES)
    store.agents.set_state("ann", "available")
    acd.join("c1", "billing", 0)
    assert acd.claim("c1").name == "ann"
    acd.answered("c1", "ann")
    with pytest.raises(UserError, match="no phone"):
        store.console.monitor_request("c1", "sue", "listen")
    store.agents.add("sue", "a long password", ["billing"], replace=True)
    assert store.users.authenticate(store.users.login("sue", "a long password", 60)).role == "supervisor"
    with pytest.raises(UserError, match="not live"):
        store.console.monitor_request("nope", "sue", "listen")
    m = store.console.monitor_request("c1", "sue", "listen")
    assert m["state"] == "requested" and store.console.monitors_to_serve("c1")["id"] == m["id"]
    with pytest.raises(UserError, match="already monitoring"):
        store.console.monitor_request("c1", "sue", "barge")
    assert store.console.monitor_change("c1", "sue", mode="whisper")["mode"] == "whisper"
    store.console.monitor_report(m["id"], "active")
    assert store.console.monitor_change("c1", "sue", stop=True)["state"] == "ending"
    store.console.monitor_report(m["id"], "ended", "200 the call ended")
    assert store.console.monitors_to_serve("c1") is None
    with pytest.raises(UserError, match="nobody is monitoring"):
        store.console.monitor_change("c1", "sue", mode="barge")


def test_the_floor_shows_where_each_call_is_and_raises_alerts(store):
    store.agents.add("ann", "a long password", ["billing"])
    acd = Acd(store.engine, RULES)
    _live(store, "in-ivr")
    _live(store, "waiting", level="escalate")
    acd.join("waiting", "billing", 10, reasons=("gold caller +20",))
    floor = snapshot(store, RULES, now=time.time() + SERVICE_LEVEL_S + 5)
    calls = {c["call_id"]: c for c in floor["calls"]}
    assert calls["in-ivr"]["where"] == "ivr" and calls["in-ivr"]["node"] == "menu"
    assert calls["waiting"]["where"] == "queue" and calls["waiting"]["escalating"]
    (q,) = floor["queues"]
    assert (
        q["name"] == "billing"
        and q["waiting"][0]["call_id"] == "waiting"
        and q["longest_wait_s"] > SERVICE_LEVEL_S
    )
    kinds = sorted(a["kind"] for a in floor["alerts"])
    assert kinds == ["escalating", "long_wait"]
    store.agents.set_state("ann", "available")
    assert acd.claim("waiting").name == "ann"
    ringing = {c["call_id"]: c for c in snapshot(store, RULES)["calls"]}["waiting"]
    assert ringing["where"] == "queue" and ringing["ringing"] == "ann"
    acd.answered("waiting", "ann")
    on = {c["call_id"]: c for c in snapshot(store, RULES)["calls"]}["waiting"]
    assert on["where"] == "agent" and on["agent"] == "ann"
