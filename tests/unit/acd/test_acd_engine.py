"""The queue over the store (SQLite and PostgreSQL): join, place, claim, missed rings,
answered, wrap-up; two workers never ring the same agent."""

from __future__ import annotations

import threading

import pytest

from ivr.acd.engine import Acd
from ivr.acd.policy import AgentState, QueueRules
from ivr.records import Store

RULES = {"billing": QueueRules("billing", frozenset({"billing"}), max_missed=2, wrap_up_s=0)}

pytestmark = pytest.mark.unit  # SQLite and, under `make test`, PostgreSQL: no model


def test_a_caller_waits_is_offered_the_agent_and_is_answered(store):
    acd = Acd(store.engine, RULES)
    assert acd.join("c1", "billing", 0).position == 1
    assert acd.join("c2", "billing", 0).position == 2
    assert acd.claim("c1") is None  # nobody is available
    assert acd.logged_in("billing") == 0
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    assert acd.place("c2").agents_serving == 1
    assert acd.claim("c2") is None  # c1 is first
    got = acd.claim("c1")
    assert got.name == "ann" and store.agents.get("ann").state is AgentState.RINGING
    assert acd.claim("c2") is None  # ann rings for c1 only
    acd.answered("c1", "ann")
    assert store.agents.get("ann").state is AgentState.ON_CALL and acd.place("c2").position == 1
    acd.call_ended("ann")
    assert store.agents.get("ann").state is AgentState.WRAP_UP
    (handled,) = acd.handle_times("billing")  # c1's, answer to hang-up, for the expected wait
    assert 0 <= handled < 60
    assert acd.place("c2").wait_s == handled  # next in line, one agent: one handle time
    assert acd.claim("c2").name == "ann"  # wrap-up of 0 s is over


def test_missed_rings_then_away_and_the_caller_keeps_the_place(store):
    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    acd.join("c1", "billing", 0)
    acd.join("c2", "billing", 0)
    assert acd.claim("c1").name == "ann"
    assert acd.missed("c1", "ann").state is AgentState.AVAILABLE
    assert acd.place("c1").position == 1  # back at the head
    assert acd.claim("c1").name == "ann"
    assert acd.missed("c1", "ann").state is AgentState.AWAY
    assert store.agents.get("ann").reason == "missed"


def test_an_upset_caller_moves_up(store):
    acd = Acd(store.engine, RULES)
    acd.join("calm", "billing", 0)
    acd.join("upset", "billing", 0)
    assert acd.escalate("upset") and not acd.escalate("upset")
    assert acd.place("upset").position == 1 and acd.place("calm").position == 2
    acd.leave("calm", "abandoned")
    assert acd.place("calm").position == 0 and acd.waiting_count() == 1


def test_two_workers_never_ring_the_same_agent(store_url):
    stores = [Store(store_url) for _ in range(2)]
    stores[0].agents.add("ann", "correct horse", ["billing"])
    stores[0].agents.set_state("ann", AgentState.AVAILABLE)
    acds = [Acd(s.engine, RULES) for s in stores]
    for i in range(6):
        acds[i % 2].join(f"c{i}", "billing", 0)
    won: list[str] = []
    lock = threading.Lock()

    def worker(acd: Acd, calls: list[str]) -> None:
        for _ in range(20):
            for c in calls:
                if acd.claim(c) is not None:
                    with lock:
                        won.append(c)

    threads = [
        threading.Thread(target=worker, args=(acds[k], [f"c{i}" for i in range(k, 6, 2)])) for k in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won == ["c0"]  # one agent, one ring: the first caller's
    for s in stores:
        s.close()


def test_a_callback_keeps_its_place_and_is_claimed_by_a_dialer(store):
    acd = Acd(store.engine, RULES)
    acd.join("early", "billing", 0, context={"caller": {"name": "Ann"}})
    acd.join("late", "billing", 0)
    assert acd.to_callback("early", "07700900123").position == 1  # hung up, still first
    assert acd.claim_callback() is None  # nobody is available
    store.agents.add("bob", "correct horse", ["billing"])
    store.agents.set_state("bob", AgentState.AVAILABLE)
    assert acd.claim("late") is None  # the callback is ahead of the live caller
    entry, agent = acd.claim_callback()
    assert entry["call_id"] == "early" and entry["number"] == "07700900123" and agent.name == "bob"
    assert entry["context"]["caller"]["name"] == "Ann"
    assert store.agents.get("bob").state is AgentState.RINGING
    assert acd.offer_for("bob")["call_id"] == "early"  # the screen pop while bob rings
    # the caller does not pick up: tried later, the agent's call ends
    assert acd.callback_done("early", "bob", "no_answer", retry_s=3600) == "callback"
    acd.call_ended("bob")
    assert acd.claim_callback() is None  # not due for an hour
    assert acd.claim("late").name == "bob"  # so the live caller gets bob meanwhile
    assert acd.place("early").position == 1  # and the callback keeps its place


def test_a_callback_is_given_up_after_three_unanswered_tries(store):
    acd = Acd(store.engine, RULES)
    store.agents.add("bob", "correct horse", ["billing"])
    acd.join("cb", "billing", 0)
    acd.to_callback("cb", "07700900123")
    store.agents.set_state("bob", AgentState.AVAILABLE)
    for attempt in range(3):
        entry, _ = acd.claim_callback()
        assert entry["attempts"] == attempt
        acd.agent_on_call("bob", "cb")
        assert store.agents.get("bob").state is AgentState.ON_CALL
        state = acd.callback_done("cb", "bob", "no_answer", retry_s=0)
        acd.call_ended("bob")  # bob hangs up: wrap-up (0 s here), then available
    assert state == "left" and acd.place("cb").position == 0


def test_an_agent_who_misses_a_callback_leaves_it_for_the_next(store):
    acd = Acd(store.engine, RULES)
    for name in ("ann", "bob"):
        store.agents.add(name, "correct horse", ["billing"])
        store.agents.set_state(name, AgentState.AVAILABLE)
    acd.join("cb", "billing", 0)
    acd.to_callback("cb", "07700900123")
    _, first = acd.claim_callback()
    assert acd.callback_done("cb", first.name, "agent_missed") == "callback"
    _, second = acd.claim_callback()
    assert second.name != first.name


def test_a_caller_whose_worker_has_no_line_is_passed_over_not_dropped(store):
    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    acd.join("full", "billing", 10)
    acd.join("roomy", "billing", 0)
    acd.set_ready("full", False)  # its worker's lines are all in use
    assert acd.claim("full") is None
    assert acd.claim("roomy").name == "ann"  # the agent is not held for the full worker
    assert acd.place("full").position == 1  # who keeps their place


def test_a_dead_workers_callers_leave_the_queue_and_free_their_agents(store):
    import os

    from ivr.acd.engine import HOST

    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    acd.join("dead", "billing", 0)
    acd.join("next", "billing", 0)
    assert acd.claim("dead").name == "ann"  # ringing for a caller whose worker then dies
    acd.join("cb", "billing", 0)
    acd.to_callback("cb", "07700900123")
    got = acd.worker_gone(HOST, [os.getpid()])
    assert got == {"left": 2, "called_back": 0, "callbacks": 0, "agents": 1}, (
        got
    )  # "dead" and "next" were this pid's
    assert store.agents.get("ann").state is AgentState.WRAP_UP
    assert acd.place("cb").position == 1  # the callback does not depend on a live call
    assert acd.claim_callback()[0]["call_id"] == "cb"  # wrap-up 0 s: ann takes the callback
    assert acd.worker_gone(HOST) == {
        "left": 0,
        "called_back": 0,
        "callbacks": 1,
        "agents": 1,
    }  # serve restarts mid-dial
    assert acd.place("cb").position == 1


def test_a_callback_call_that_breaks_off_is_queued_again_without_counting_a_try(store):
    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    acd.join("cb", "billing", 0)
    acd.to_callback("cb", "07700900123")
    acd.claim_callback()
    assert acd.callback_done("cb", "ann", "interrupted", retry_s=0) == "callback"
    assert store.agents.get("ann").state is AgentState.AVAILABLE  # she was only ringing
    entry, agent = acd.claim_callback()
    assert entry["attempts"] == 0 and agent.name == "ann"


def test_nobody_free_spares_the_store_until_an_agent_is_freed_here(store):
    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    acd.join("c1", "billing", 0)
    assert not acd.nobody_free()
    assert acd.claim("c1").name == "ann"
    acd.join("c2", "billing", 0)
    assert acd.claim("c2") is None and acd.nobody_free()  # ann rings: nobody free, for a while
    acd.missed("c1", "ann")  # freed by this process: its callers look again at once
    assert not acd.nobody_free()
    assert acd.claim("c1").name == "ann"


def test_a_browser_phone_that_cannot_take_calls_keeps_its_agent_out_of_offers(store):
    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    lost = store.agents.phone_state("ann", False, "no microphone")
    assert lost.state is AgentState.AWAY and lost.reason == "phone: no microphone"
    acd.join("c1", "billing", 0)
    assert acd.claim("c1") is None  # her phone cannot ring: no offer
    assert store.agents.phone_state("ann", False, "reconnecting").reason == "phone: reconnecting"
    back = store.agents.phone_state("ann", True)
    assert back.state is AgentState.AVAILABLE and back.reason == ""
    assert acd.claim("c1").name == "ann"
    assert store.agents.phone_state("ann", False, "not registered").state is AgentState.RINGING  # the call's


def test_the_phone_coming_back_does_not_end_an_agents_own_break(store):
    store.agents.add("bob", "correct horse", ["billing"])
    store.agents.set_state("bob", AgentState.AWAY, "lunch")
    assert store.agents.phone_state("bob", True).state is AgentState.AWAY
    assert store.agents.phone_state("bob", False, "no microphone").reason == "lunch"
    store.agents.set_state("bob", AgentState.LOGGED_OUT)
    assert store.agents.phone_state("bob", False, "x").state is AgentState.LOGGED_OUT
    assert store.agents.phone_state("carol", True) is None  # not an agent


def test_an_agent_hands_their_caller_to_a_queue_or_a_named_agent(store):
    from ivr.records import UserError

    acd = Acd(store.engine, RULES)
    for name in ("ann", "bob", "cat"):
        store.agents.add(name, "correct horse", ["billing"])
        store.agents.set_state(name, AgentState.AVAILABLE)
    acd.join("c1", "billing", 0)
    got = acd.claim("c1")
    acd.answered("c1", got.name)
    t = store.transfers
    with pytest.raises(UserError, match="not live"):
        t.request("c1", got.name, ["billing"], queue="billing")
    from sqlalchemy import insert

    from ivr.store.tables import calls

    with store.engine.begin() as conn:
        conn.execute(insert(calls).values(id="c1", started_at=0.0, status="live"))
    with pytest.raises(UserError, match="say where to"):
        t.request("c1", got.name, ["billing"])
    with pytest.raises(UserError, match="no queue 'sales'"):
        t.request("c1", got.name, ["billing"], queue="sales")
    other = "bob" if got.name != "bob" else "cat"
    with pytest.raises(UserError, match="not bob's|not cat's"):
        t.request("c1", other, ["billing"], queue="billing")  # not their call
    with pytest.raises(UserError, match="already yours"):
        t.request("c1", got.name, ["billing"], target=got.name)
    with pytest.raises(UserError, match="no agent 'zed'"):
        t.request("c1", got.name, ["billing"], target="zed")
    row = t.request("c1", got.name, ["billing"], target=other, note="wants a refund " * 100)
    assert row["state"] == "requested" and len(row["note"]) == 500 and t.to_serve("c1")["id"] == row["id"]
    with pytest.raises(UserError, match="already being transferred"):
        t.request("c1", got.name, ["billing"], queue="billing")
    t.report(row["id"], "transferring")
    assert store.agents.get(got.name).state is AgentState.WRAP_UP  # off the call: their wrap-up
    assert t.to_serve("c1") is None
    # the caller waits for the named agent alone
    acd.join("c1", "billing", 1, "@" + other)
    assert acd.claim("c1").name == other
