"""The queue over the store: every worker's waiting callers and every agent in one place, so
two workers never ring the same agent (an agent is claimed by one conditional UPDATE inside
one write transaction) and the queue outlives a restart of `ivr serve`.

Synchronous (SQLAlchemy): a call's coroutine runs these in a thread.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from ivr.acd import policy
from ivr.acd.policy import Agent, AgentState, QueueRules, Waiting
from ivr.store.engine import write_tx
from ivr.store.tables import agents, queue_entries

HOST = os.uname().nodename


@dataclass(frozen=True, slots=True)
class Place:
    position: int
    wait_s: float
    agents_serving: int
    """Agents logged in (in any state but logged out) who serve the queue."""


def _waiting(row) -> Waiting:  # type: ignore[no-untyped-def]
    return Waiting(row.call_id, row.queue, row.priority, row.joined_at, row.skill, tuple(json.loads(row.reasons)))


def _agent(row) -> Agent:  # type: ignore[no-untyped-def]
    return Agent(row.name, frozenset(json.loads(row.skills)), row.level, AgentState(row.state), row.since, row.missed, row.reason)


class Acd:
    def __init__(self, engine, queues: Mapping[str, QueueRules]) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.queues = dict(queues)
        self.handle_times: deque[float] = deque(maxlen=50)  # recent calls' lengths, for the wait

    def rules(self, queue: str) -> QueueRules:
        return self.queues.get(queue) or QueueRules(queue)

    # -- the caller's side ------------------------------------------------------------------
    def join(
        self, call_id: str, queue: str, priority: int, skill: str = "", reasons: tuple[str, ...] = (),
        context: Mapping[str, Any] | None = None,
    ) -> Place:  # fmt: skip
        """The caller waits from now; `context` is what the agent's screen will show."""
        with write_tx(self.engine) as conn:
            conn.execute(
                insert(queue_entries).values(
                    call_id=call_id, queue=queue, priority=priority, joined_at=time.time(), skill=skill,
                    reasons=json.dumps(list(reasons)), host=HOST, pid=os.getpid(),
                    context=json.dumps(dict(context or {}), ensure_ascii=False, default=str),
                )
            )  # fmt: skip
        return self.place(call_id)

    def place(self, call_id: str) -> Place:
        with self.engine.connect() as conn:
            me = conn.execute(select(queue_entries).where(queue_entries.c.call_id == call_id)).first()
            if me is None or me.state == "left":
                return Place(0, 0.0, 0)
            rows = conn.execute(
                select(queue_entries).where(queue_entries.c.queue == me.queue, queue_entries.c.state != "left")
            ).all()
            staff = [_agent(r) for r in conn.execute(select(agents).where(agents.c.state != "logged_out"))]
        rules = self.rules(me.queue)
        serving = sum(1 for a in staff if policy.serves(a, rules, _waiting(me)))
        pos = policy.position(call_id, [_waiting(r) for r in rows])
        return Place(pos, policy.estimated_wait_s(pos, list(self.handle_times), serving), serving)

    def escalate(self, call_id: str) -> bool:
        """The caller got upset while waiting: they move up (once); True if they did."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(queue_entries).where(queue_entries.c.call_id == call_id)).first()
            if row is None or row.state == "left":
                return False
            moved = policy.escalate(_waiting(row))
            if moved.priority == row.priority:
                return False
            conn.execute(
                update(queue_entries)
                .where(queue_entries.c.call_id == call_id)
                .values(priority=moved.priority, reasons=json.dumps(list(moved.reasons)))
            )
        return True

    def claim(self, call_id: str, now: float | None = None) -> Agent | None:
        """If this caller is next for a free agent, that agent is theirs (state ringing)."""
        now = time.time() if now is None else now
        with write_tx(self.engine) as conn:
            self._end_wrap_ups(conn, now)
            rows = conn.execute(select(queue_entries).where(queue_entries.c.state == "waiting")).all()
            staff = [_agent(r) for r in conn.execute(select(agents).where(agents.c.state == "available"))]
            for offer in policy.offers({q: self.rules(q) for q in {r.queue for r in rows}}, [_waiting(r) for r in rows], staff):
                if offer.waiting.call_id != call_id:
                    continue
                agent = offer.agents[0]
                got = conn.execute(
                    update(agents)
                    .where(agents.c.name == agent.name, agents.c.state == "available")
                    .values(state="ringing", call_id=call_id, since=now)
                ).rowcount
                if got != 1:
                    return None
                conn.execute(
                    update(queue_entries).where(queue_entries.c.call_id == call_id).values(state="offered", agent=agent.name)
                )
                return agent
        return None

    def answered(self, call_id: str, agent: str) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(
                update(agents).where(agents.c.name == agent).values(state="on_call", since=time.time(), missed=0, call_id=call_id)
            )
            self._leave(conn, call_id, "answered")

    def missed(self, call_id: str, agent: str) -> Agent:
        """The agent's phone did not answer: the caller waits on (at their place), the agent is
        available again, or away after too many misses."""
        now = time.time()
        with write_tx(self.engine) as conn:
            entry = conn.execute(select(queue_entries.c.queue).where(queue_entries.c.call_id == call_id)).scalar()
            row = conn.execute(select(agents).where(agents.c.name == agent)).first()
            after = policy.missed_ring(_agent(row), self.rules(entry or ""), now)
            conn.execute(
                update(agents)
                .where(agents.c.name == agent)
                .values(state=str(after.state), since=now, missed=after.missed, reason=after.reason, call_id="")
            )
            conn.execute(update(queue_entries).where(queue_entries.c.call_id == call_id).values(state="waiting", agent=""))
        return after

    def leave(self, call_id: str, reason: str) -> None:
        with write_tx(self.engine) as conn:
            self._leave(conn, call_id, reason)

    def call_ended(self, agent: str, handle_s: float) -> None:
        """The agent's call is over: wrap-up, then available again."""
        self.handle_times.append(handle_s)
        with write_tx(self.engine) as conn:
            conn.execute(
                update(agents)
                .where(agents.c.name == agent, agents.c.state.in_(["on_call", "ringing"]))
                .values(state="wrap_up", since=time.time(), call_id="")
            )

    def logged_in(self, queue: str, skill: str = "") -> int:
        """Agents who could take this queue's calls at all (not logged out)."""
        rules = self.rules(queue)
        probe = Waiting("", queue, 0, 0.0, skill)
        with self.engine.connect() as conn:
            staff = [_agent(r) for r in conn.execute(select(agents).where(agents.c.state != "logged_out"))]
        return sum(1 for a in staff if policy.serves(a, rules, probe))

    def offer_for(self, agent: str) -> dict[str, Any] | None:
        """The call ringing for or connected to `agent`: who, why, what was said and found (the
        screen pop), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(queue_entries)
                .where(queue_entries.c.agent == agent, queue_entries.c.state.in_(["offered", "left"]),
                       queue_entries.c.leave_reason.in_(["", "answered"]))
                .order_by(queue_entries.c.joined_at.desc())
            ).first()  # fmt: skip
            me = conn.execute(select(agents.c.state, agents.c.call_id).where(agents.c.name == agent)).first()
        if row is None or me is None or me.call_id != row.call_id:
            return None
        return {"call_id": row.call_id, "queue": row.queue, "priority": row.priority, "reasons": json.loads(row.reasons),
                "waited_s": round(time.time() - row.joined_at, 1), "agent_state": me.state, **json.loads(row.context)}  # fmt: skip

    def waiting_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(queue_entries).where(queue_entries.c.state != "left")).scalar_one())

    # -- internals ----------------------------------------------------------------------------
    def _leave(self, conn, call_id: str, reason: str) -> None:  # type: ignore[no-untyped-def]
        conn.execute(
            update(queue_entries)
            .where(queue_entries.c.call_id == call_id, queue_entries.c.state != "left")
            .values(state="left", left_at=time.time(), leave_reason=reason)
        )

    def _end_wrap_ups(self, conn, now: float) -> None:  # type: ignore[no-untyped-def]
        for row in conn.execute(select(agents).where(agents.c.state == "wrap_up")).all():
            a = _agent(row)
            # the wrap-up of the queue the agent's last call came from is not kept: the longest rule applies
            wrap = max((r.wrap_up_s for r in self.queues.values()), default=30.0)
            if now - a.since >= wrap:
                conn.execute(update(agents).where(agents.c.name == a.name, agents.c.state == "wrap_up").values(state="available", since=now))
