"""The queue over the store: every worker's waiting callers and every agent in one place, so
two workers never ring the same agent (an agent is claimed by one conditional UPDATE inside
one write transaction) and the queue outlives a restart of `ivr serve`.

Synchronous (SQLAlchemy): a call's coroutine runs these in a thread.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from ivr.acd import policy
from ivr.acd.callback_queue import CallbackQueue
from ivr.acd.policy import Agent, AgentState, QueueRules, Waiting, agent_from_row
from ivr.settings import HOST_NAME
from ivr.store.engine import write_tx
from ivr.store.tables import agents, calls, queue_entries

HOST = HOST_NAME


@dataclass(frozen=True, slots=True)
class Place:
    position: int
    wait_s: float
    agents_serving: int
    """Agents logged in (in any state but logged out) who serve the queue."""


def _waiting(row, now: float | None = None) -> Waiting:
    callback = row.state in ("callback", "calling")
    ready = bool(row.ready) and row.state in ("waiting", "callback")
    if row.state == "callback" and now is not None:
        ready = ready and row.next_try_at <= now
    return Waiting(
        row.call_id,
        row.queue,
        row.priority,
        row.joined_at,
        row.skill,
        tuple(json.loads(row.reasons)),
        ready,
        callback,
    )


LIVE = ("waiting", "offered", "callback", "calling")
"""Entry states that hold a place in the queue."""
FREE_CHECK_S = 0.9
"""How long "no agent is free" read from the store stands for a process's waiting callers."""


class Acd(CallbackQueue):
    def __init__(
        self, engine, queues: Mapping[str, QueueRules] | Callable[[], Mapping[str, QueueRules]]
    ) -> None:
        """`queues`: the queues' rules, or where to read the current ones (a worker's loaded
        dialplan: a reload reaches the queue without anyone writing into it)."""
        self.engine = engine
        fixed = dict(queues) if not callable(queues) else {}
        self._queues: Callable[[], Mapping[str, QueueRules]] = queues if callable(queues) else (lambda: fixed)
        self._none_free_until = 0.0

    @property
    def queues(self) -> Mapping[str, QueueRules]:
        return self._queues()

    def nobody_free(self) -> bool:
        """True while a read of this process found, less than `FREE_CHECK_S` ago, no agent free
        and none whose wrap-up ends meanwhile: a waiting caller's claim then skips the store.
        200 callers parked on a few dozen workers make one read a worker a second, not 200."""
        return time.time() < self._none_free_until

    def rules(self, queue: str) -> QueueRules:
        return self.queues.get(queue) or QueueRules(queue)

    # -- the caller's side ------------------------------------------------------------------
    def join(
        self, call_id: str, queue: str, priority: int, skill: str = "", reasons: tuple[str, ...] = (),
        context: Mapping[str, Any] | None = None,
    ) -> Place:  # fmt: skip
        """The caller waits from now; `context` is what the agent's screen will show. A caller
        back in a queue (an agent transferred them) waits afresh; their last wait is kept for
        the queue's figures under `CALL~MS`."""
        with write_tx(self.engine) as conn:
            before = conn.execute(
                select(queue_entries.c.joined_at).where(
                    queue_entries.c.call_id == call_id, queue_entries.c.state == "left"
                )
            ).scalar()
            if before is not None:
                conn.execute(
                    update(queue_entries).where(queue_entries.c.call_id == call_id)
                    .values(call_id=f"{call_id}~{int(before * 1000)}")
                )  # fmt: skip
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
                select(queue_entries).where(
                    queue_entries.c.queue == me.queue, queue_entries.c.state.in_(LIVE)
                )
            ).all()
            staff = [
                agent_from_row(r) for r in conn.execute(select(agents).where(agents.c.state != "logged_out"))
            ]
        rules = self.rules(me.queue)
        serving = sum(1 for a in staff if policy.serves(a, rules, _waiting(me)))
        pos = policy.position(call_id, [_waiting(r) for r in rows])
        return Place(pos, policy.estimated_wait_s(pos, self.handle_times(me.queue), serving), serving)

    def handle_times(self, queue: str, n: int = 50) -> list[float]:
        """How long the agents' last `n` calls from `queue` lasted (answer to hang-up), from
        every worker: what the expected wait is reckoned from."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(queue_entries.c.handle_s)
                .where(queue_entries.c.queue == queue, queue_entries.c.handle_s.is_not(None))
                .order_by(queue_entries.c.left_at.desc())
                .limit(n)
            ).all()
        return [float(r[0]) for r in rows]

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
        """If this caller is next for a free agent, that agent is theirs (state ringing).

        Read first, in a plain read: most seconds of a wait find no agent free, and a write
        transaction per waiting caller per second would serialise every worker on the store.
        The write that follows is conditional (the agent still available, the caller still
        waiting), so two callers who both read the same agent as theirs cannot both get it."""
        now = time.time() if now is None else now
        offer = self._offer(now, lambda w: w.call_id == call_id)
        if offer is None:
            return None
        agent = offer.agents[0]
        with write_tx(self.engine) as conn:
            if not self._take(conn, agent.name, call_id, "waiting", "offered", now):
                return None
        return agent

    def _offer(self, now: float, mine) -> policy.Offer | None:
        """The offer the queue makes now to the first waiting entry `mine` accepts, from a read."""
        with self.engine.connect() as conn:
            staff = [
                agent_from_row(r)
                for r in conn.execute(select(agents).where(agents.c.state.in_(["available", "wrap_up"])))
            ]
        wrap = self._wrap_up_s()
        if any(a.state is AgentState.WRAP_UP and now - a.since >= wrap for a in staff):
            with write_tx(self.engine) as wconn:  # a wrap-up is over: that agent is free again
                self._end_wrap_ups(wconn, now)
            with self.engine.connect() as conn:
                staff = [
                    agent_from_row(r)
                    for r in conn.execute(select(agents).where(agents.c.state == "available"))
                ]
        free = [a for a in staff if a.state is AgentState.AVAILABLE]
        if not free:
            ends = [a.since + wrap for a in staff if a.state is AgentState.WRAP_UP]
            self._none_free_until = min([time.time() + FREE_CHECK_S, *ends])
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(queue_entries).where(queue_entries.c.state.in_(["waiting", "callback"]))
            ).all()
        waiting = [_waiting(r, now) for r in rows]
        for offer in policy.offers({q: self.rules(q) for q in {w.queue for w in waiting}}, waiting, free):
            if mine(offer.waiting):
                return offer
        return None

    def _take(self, conn, agent: str, call_id: str, was: str, now_state: str, now: float) -> bool:
        got = conn.execute(
            update(agents)
            .where(agents.c.name == agent, agents.c.state == "available")
            .values(state="ringing", call_id=call_id, since=now)
        ).rowcount
        if got != 1:
            return False
        owner = {"host": HOST, "pid": os.getpid()} if now_state == "calling" else {}  # the dialler's, now
        moved = conn.execute(
            update(queue_entries)
            .where(queue_entries.c.call_id == call_id, queue_entries.c.state == was)
            .values(state=now_state, agent=agent, **owner)
        ).rowcount
        if moved != 1:  # the caller left meanwhile: the agent is free again (same transaction)
            conn.execute(update(agents).where(agents.c.name == agent).values(state="available", call_id=""))
            return False
        return True

    def set_ready(self, call_id: str, ready: bool) -> None:
        """Whether the caller's worker has a line for an agent leg now."""
        with write_tx(self.engine) as conn:
            conn.execute(update(queue_entries).where(queue_entries.c.call_id == call_id).values(ready=ready))

    def answered(self, call_id: str, agent: str) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(
                update(agents)
                .where(agents.c.name == agent)
                .values(state="on_call", since=time.time(), missed=0, call_id=call_id)
            )
            self._leave(conn, call_id, "answered")

    def missed(self, call_id: str, agent: str) -> Agent:
        """The agent's phone did not answer: the caller waits on (at their place), the agent is
        available again, or away after too many misses."""
        self._none_free_until = 0.0  # an agent this process frees is seen at once
        now = time.time()
        with write_tx(self.engine) as conn:
            entry = conn.execute(
                select(queue_entries.c.queue).where(queue_entries.c.call_id == call_id)
            ).scalar()
            row = conn.execute(select(agents).where(agents.c.name == agent)).first()
            after = policy.missed_ring(agent_from_row(row), self.rules(entry or ""), now)
            conn.execute(
                update(agents)
                .where(agents.c.name == agent)
                .values(
                    state=str(after.state), since=now, missed=after.missed, reason=after.reason, call_id=""
                )
            )
            conn.execute(
                update(queue_entries)
                .where(queue_entries.c.call_id == call_id, queue_entries.c.state == "offered")
                .values(state="waiting", agent="")
            )
        return after

    def leave(self, call_id: str, reason: str) -> None:
        self._none_free_until = 0.0  # an agent this process frees is seen at once
        with write_tx(self.engine) as conn:
            self._leave(conn, call_id, reason)

    def call_ended(self, agent: str) -> None:
        """The agent's call is over: its handle time is kept (for the expected wait), the agent
        goes to wrap-up, then is available again."""
        now = time.time()
        with write_tx(self.engine) as conn:
            call_id = conn.execute(select(agents.c.call_id).where(agents.c.name == agent)).scalar()
            if call_id:
                conn.execute(
                    update(queue_entries)
                    .where(queue_entries.c.call_id == call_id, queue_entries.c.leave_reason == "answered",
                           queue_entries.c.left_at.is_not(None), queue_entries.c.handle_s.is_(None))
                    .values(handle_s=now - queue_entries.c.left_at)
                )  # fmt: skip
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
            staff = [
                agent_from_row(r) for r in conn.execute(select(agents).where(agents.c.state != "logged_out"))
            ]
        return sum(1 for a in staff if policy.serves(a, rules, probe))

    def offer_for(self, agent: str) -> dict[str, Any] | None:
        """The call ringing for or connected to `agent`: who, why, what was said and found (the
        screen pop), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(queue_entries)
                .where(queue_entries.c.agent == agent, queue_entries.c.state.in_(["offered", "calling", "left"]),
                       queue_entries.c.leave_reason.in_(["", "answered"]))
                .order_by(queue_entries.c.joined_at.desc())
            ).first()  # fmt: skip
            me = conn.execute(select(agents.c.state, agents.c.call_id).where(agents.c.name == agent)).first()
        if row is None or me is None or me.call_id != row.call_id:
            return None
        return {"call_id": row.call_id, "queue": row.queue, "priority": row.priority, "reasons": json.loads(row.reasons),
                "waited_s": round(time.time() - row.joined_at, 1), "agent_state": me.state, **json.loads(row.context)}  # fmt: skip

    def worker_gone(
        self, host: str, pids: list[int] | None = None, call_back: bool = False
    ) -> dict[str, int]:
        """The calls of a worker that died (or of every worker of `host` when `pids` is None:
        serve starting again, or the host lost) are not coming back: its waiting callers leave
        the queue (`interrupted`: their record says so) or, with `call_back` (a host lost: the
        caller did not hang up), keep their place as a callback to the number they called from;
        a callback it was dialling waits for its next try, and the agents its calls held go to
        wrap-up instead of ringing or talking forever."""
        scope = [queue_entries.c.host == host] + ([queue_entries.c.pid.in_(pids)] if pids is not None else [])
        now = time.time()
        live = [*scope, queue_entries.c.state.in_(["waiting", "offered"])]
        with write_tx(self.engine) as conn:
            held = [r.call_id for r in conn.execute(select(queue_entries.c.call_id).where(*scope)).all()]
            called_back = 0
            if call_back:
                numbers = conn.execute(
                    select(queue_entries.c.call_id, calls.c.caller)
                    .join(calls, calls.c.id == queue_entries.c.call_id)
                    .where(*live, calls.c.caller != "")
                ).all()
                for call_id, number in numbers:
                    called_back += conn.execute(
                        update(queue_entries).where(queue_entries.c.call_id == call_id)
                        .values(state="callback", callback=number, agent="", attempts=0, next_try_at=now, ready=True)
                    ).rowcount  # fmt: skip
            left = conn.execute(
                update(queue_entries).where(*live).values(state="left", left_at=now, leave_reason="interrupted")
            ).rowcount  # fmt: skip
            requeued = conn.execute(
                update(queue_entries).where(*scope, queue_entries.c.state == "calling")
                .values(state="callback", agent="", next_try_at=now, ready=True)
            ).rowcount  # fmt: skip
            freed = 0
            for i in range(0, len(held), 500):
                freed += conn.execute(
                    update(agents).where(agents.c.call_id.in_(held[i : i + 500]), agents.c.state.in_(["ringing", "on_call"]))
                    .values(state="wrap_up", since=now, call_id="")
                ).rowcount  # fmt: skip
        return {"left": left, "called_back": called_back, "callbacks": requeued, "agents": freed}

    def waiting_count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(queue_entries).where(queue_entries.c.state.in_(LIVE))
                ).scalar_one()
            )

    # -- internals ----------------------------------------------------------------------------
    def _leave(self, conn, call_id: str, reason: str) -> None:
        conn.execute(
            update(queue_entries)
            .where(queue_entries.c.call_id == call_id, queue_entries.c.state != "left")
            .values(state="left", left_at=time.time(), leave_reason=reason)
        )

    def _wrap_up_s(self) -> float:
        # the wrap-up of the queue the agent's last call came from is not kept: the longest rule applies
        return max((r.wrap_up_s for r in self.queues.values()), default=30.0)

    def _end_wrap_ups(self, conn, now: float) -> None:
        wrap = self._wrap_up_s()
        for row in conn.execute(select(agents).where(agents.c.state == "wrap_up")).all():
            a = agent_from_row(row)
            if now - a.since >= wrap:
                conn.execute(
                    update(agents)
                    .where(agents.c.name == a.name, agents.c.state == "wrap_up")
                    .values(state="available", since=now)
                )
