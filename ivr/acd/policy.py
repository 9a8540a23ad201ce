"""The queue's rules, with no I/O: a caller's priority, the order of the waiting, which agent
rings next (strategies `longest_idle`, `ring_all`, `skill_level`), position and estimated
wait, missed rings, wrap-up. The engine feeds it the store's rows and the clock.

Learnt from Asterisk's app_queue (strategies, penalties, wrap-up, autopause on missed rings,
position and hold-time announcements) and FreeSWITCH mod_callcenter (tiers by level); what
they lack and this has: the caller's value and mood in the priority, and a callback that
keeps the caller's place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ivr.queues import QueueRules, rules_from

__all__ = ["QueueRules", "rules_from"]  # where the queues' typed config was first defined

STRATEGIES = ("longest_idle", "ring_all", "skill_level")
NAMED = "@"
"""A waiting caller's skill "@ann": only ann serves them (an agent transferred the call to her)."""
VALUE_PRIORITY = {"vip": 100, "gold": 20, "standard": 0}
"""Added to a waiting caller's priority by their directory tier."""
ESCALATE_PRIORITY = 50
"""Added when the radar says the caller is upset (also while they wait)."""


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    skills: frozenset[str] = frozenset()
    level: int = 1
    """1-3: `skill_level` rings the highest level first."""
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    """When the state began: for an available agent, how long they have been idle."""
    missed: int = 0
    """Rings in a row not answered."""
    reason: str = ""


def agent_from_row(row: Any) -> Agent:
    """An agent as the store keeps them (a row of `agents`)."""
    return Agent(
        row.name,
        frozenset(json.loads(row.skills)),
        row.level,
        AgentState(row.state),
        row.since,
        row.missed,
        row.reason,
    )


@dataclass(frozen=True, slots=True)
class Waiting:
    call_id: str
    queue: str
    priority: int
    joined_at: float
    skill: str = ""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    ready: bool = True
    """An agent can be put through now: the caller's worker has a line for the agent leg, or
    (a callback) its next try is due. Not ready: passed over, keeping their place."""
    callback: bool = False
    """The caller hung up to be called back (any worker with two free lines calls)."""


@dataclass(frozen=True, slots=True)
class Offer:
    waiting: Waiting
    agents: tuple[Agent, ...]


def priority_for(base: int, caller_tier: str = "", escalated: bool = False) -> tuple[int, tuple[str, ...]]:
    """A caller's priority in the queue, and why."""
    why: list[str] = []
    p = base
    bonus = VALUE_PRIORITY.get(caller_tier.lower(), 0)
    if bonus:
        p += bonus
        why.append(f"{caller_tier} caller +{bonus}")
    if escalated:
        p += ESCALATE_PRIORITY
        why.append(f"upset +{ESCALATE_PRIORITY}")
    return p, tuple(why)


def escalate(w: Waiting) -> Waiting:
    """The radar escalated a caller who waits: they move up (once)."""
    if any(r.startswith("upset") for r in w.reasons):
        return w
    return replace(
        w, priority=w.priority + ESCALATE_PRIORITY, reasons=(*w.reasons, f"upset +{ESCALATE_PRIORITY}")
    )


def order(waiting: Iterable[Waiting]) -> list[Waiting]:
    """Highest priority first; first come, first served among equals."""
    return sorted(waiting, key=lambda w: (-w.priority, w.joined_at, w.call_id))


def position(call_id: str, waiting: Iterable[Waiting]) -> int:
    """1 = next; 0 if not waiting. Counted within the caller's queue."""
    items = list(waiting)
    mine = next((w for w in items if w.call_id == call_id), None)
    if mine is None:
        return 0
    same = order(w for w in items if w.queue == mine.queue)
    return same.index(mine) + 1


def serves(agent: Agent, rules: QueueRules, w: Waiting) -> bool:
    if w.skill.startswith(NAMED):  # transferred to one agent by name
        return agent.name == w.skill[len(NAMED) :]
    if w.skill:
        return w.skill in agent.skills
    return not rules.skills or bool(rules.skills & agent.skills)


def choose(rules: QueueRules, w: Waiting, agents: Iterable[Agent]) -> list[Agent]:
    """The agents to ring for `w`, by the queue's strategy (empty: nobody free)."""
    free = [a for a in agents if a.state is AgentState.AVAILABLE and serves(a, rules, w)]
    if not free:
        return []
    if rules.strategy == "ring_all":
        return sorted(free, key=lambda a: (a.since, a.name))
    if rules.strategy == "skill_level":
        return [min(free, key=lambda a: (-a.level, a.since, a.name))]
    return [min(free, key=lambda a: (a.since, a.name))]


def offers(queues: dict[str, QueueRules], waiting: Iterable[Waiting], agents: Sequence[Agent]) -> list[Offer]:
    """Who rings for whom now: the waiting in order, each agent offered at most one call."""
    taken: set[str] = set()
    out: list[Offer] = []
    for w in order(waiting):
        rules = queues.get(w.queue)
        if rules is None or not w.ready:
            continue
        chosen = [a for a in choose(rules, w, (a for a in agents if a.name not in taken))]
        if chosen:
            taken.update(a.name for a in chosen)
            out.append(Offer(w, tuple(chosen)))
    return out


def estimated_wait_s(
    pos: int, handle_times_s: Sequence[float], serving: int, default_handle_s: float = 180.0
) -> float:
    """Position x the mean recent handle time / agents serving the queue (at least one)."""
    if pos <= 0:
        return 0.0
    mean = sum(handle_times_s) / len(handle_times_s) if handle_times_s else default_handle_s
    return pos * mean / max(1, serving)


def missed_ring(agent: Agent, rules: QueueRules, now: float) -> Agent:
    """An agent let a ring time out: available again, or away after `max_missed` in a row."""
    missed = agent.missed + 1
    if missed >= rules.max_missed:
        return replace(agent, state=AgentState.AWAY, since=now, missed=missed, reason="missed")
    return replace(agent, state=AgentState.AVAILABLE, since=now, missed=missed)


def call_ended(agent: Agent, now: float) -> Agent:
    return replace(agent, state=AgentState.WRAP_UP, since=now, missed=0, reason="")


def tick(agent: Agent, rules: QueueRules, now: float) -> Agent:
    """Time passes: a wrap-up that is over makes the agent available."""
    if agent.state is AgentState.WRAP_UP and now - agent.since >= rules.wrap_up_s:
        return replace(agent, state=AgentState.AVAILABLE, since=now)
    return agent


def announcement(pos: int, wait_s: float) -> str:
    """What the caller hears while waiting."""
    if pos <= 1:
        place = "You are next in line."
    else:
        place = f"You are number {pos} in the queue."
    minutes = round(wait_s / 60)
    if wait_s < 60:
        when = "An agent should be with you in less than a minute."
    elif minutes == 1:
        when = "The expected wait is about one minute."
    else:
        when = f"The expected wait is about {minutes} minutes."
    return f"{place} {when}"
