"""The queue's rules (sans-IO): priority, order, strategies, position and wait, missed rings."""

from __future__ import annotations

import pytest

from ivr.acd.policy import (
    Agent,
    AgentState,
    QueueRules,
    Waiting,
    announcement,
    call_ended,
    choose,
    escalate,
    estimated_wait_s,
    missed_ring,
    offers,
    position,
    priority_for,
    tick,
)

pytestmark = pytest.mark.unit
A = AgentState.AVAILABLE
BILLING = QueueRules("billing", frozenset({"billing"}))


def agent(name, since, skills=("billing",), level=1, state=A):
    return Agent(name, frozenset(skills), level, state, since)


def test_a_vip_and_an_upset_caller_jump_a_standard_one():
    std = Waiting("std", "billing", priority_for(0)[0], joined_at=1.0)
    vip = Waiting("vip", "billing", priority_for(0, "vip")[0], joined_at=5.0)
    upset = escalate(Waiting("upset", "billing", 0, joined_at=3.0))
    assert [
        o.waiting.call_id
        for o in offers(
            {"billing": BILLING}, [std, vip, upset], [agent("a", 0), agent("b", 1), agent("c", 2)]
        )
    ] == ["vip", "upset", "std"]
    assert position("std", [std, vip, upset]) == 3 and position("nobody", [std]) == 0
    assert escalate(upset) == upset  # once
    assert priority_for(5, "gold", True) == (75, ("gold caller +20", "upset +50"))


def test_strategies():
    free = [
        agent("old", 1.0, level=1),
        agent("senior", 5.0, level=3),
        agent("busy", 0.0, state=AgentState.ON_CALL),
        agent("sales", 0.5, skills=("sales",)),
    ]
    w = Waiting("c", "billing", 0, 0.0)
    assert [a.name for a in choose(BILLING, w, free)] == ["old"]
    assert [
        a.name for a in choose(QueueRules("billing", frozenset({"billing"}), "skill_level"), w, free)
    ] == ["senior"]
    assert [a.name for a in choose(QueueRules("billing", frozenset({"billing"}), "ring_all"), w, free)] == [
        "old",
        "senior",
    ]
    assert [a.name for a in choose(QueueRules("any"), Waiting("c", "any", 0, 0.0, skill="sales"), free)] == [
        "sales"
    ]


def test_an_agent_is_offered_one_call_at_a_time():
    waiting = [Waiting("c1", "billing", 0, 1.0), Waiting("c2", "billing", 0, 2.0)]
    got = offers({"billing": BILLING}, waiting, [agent("only", 0)])
    assert [(o.waiting.call_id, [a.name for a in o.agents]) for o in got] == [("c1", ["only"])]


def test_missed_rings_wrap_up_and_the_wait():
    rules = QueueRules("billing", max_missed=2, wrap_up_s=30)
    a = agent("a", 0)
    a = missed_ring(a, rules, 10)
    assert a.state is A and a.missed == 1
    a = missed_ring(a, rules, 20)
    assert a.state is AgentState.AWAY and a.reason == "missed"
    done = call_ended(agent("b", 0, state=AgentState.ON_CALL), 100)
    assert tick(done, rules, 120).state is AgentState.WRAP_UP and tick(done, rules, 130).state is A
    assert estimated_wait_s(3, [120, 240], serving=2) == 270 and estimated_wait_s(0, [], 1) == 0
    assert announcement(1, 20) == "You are next in line. An agent should be with you in less than a minute."
    assert announcement(3, 270) == "You are number 3 in the queue. The expected wait is about 4 minutes."
