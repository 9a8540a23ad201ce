"""The queue over the store (SQLite and PostgreSQL): join, place, claim, missed rings,
answered, wrap-up; two workers never ring the same agent."""

from __future__ import annotations

import threading

from ivr.acd.engine import Acd
from ivr.acd.policy import AgentState, QueueRules
from ivr.store import Store

RULES = {"billing": QueueRules("billing", frozenset({"billing"}), max_missed=2, wrap_up_s=0)}


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
    acd.call_ended("ann", 120.0)
    assert store.agents.get("ann").state is AgentState.WRAP_UP
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

    threads = [threading.Thread(target=worker, args=(acds[k], [f"c{i}" for i in range(k, 6, 2)])) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won == ["c0"]  # one agent, one ring: the first caller's
    for s in stores:
        s.close()
