"""The queue's callbacks over the store (a part of `Acd`): a caller who hung up to be called
back keeps their place; when their turn comes any worker with two free lines rings an agent
and then dials the caller, up to `CALLBACK_TRIES` times."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update

from ivr.acd import policy
from ivr.acd.policy import Agent, QueueRules, agent_from_row
from ivr.store.engine import write_tx
from ivr.store.tables import agents, queue_entries

if TYPE_CHECKING:
    from ivr.acd.engine import Place

CALLBACK_TRIES = 3
"""Dialling a caller back who does not answer: tries in all."""


class CallbackQueue:
    """Uses Acd's `engine`, `rules`, `place`, `_offer`, `_take` and `_leave`."""

    engine: Engine
    _none_free_until: float
    rules: Callable[[str], QueueRules]
    place: Callable[[str], Place]
    _offer: Callable[..., policy.Offer | None]
    _take: Callable[..., bool]
    _leave: Callable[..., None]

    def claim_callback(self, now: float | None = None) -> tuple[dict[str, Any], Agent] | None:
        """A callback whose turn it is, with the agent now ringing for it; None if none is due.
        The entry is `calling` until `callback_done`."""
        now = time.time() if now is None else now
        offer = self._offer(now, lambda w: w.callback)
        if offer is None:
            return None
        agent, call_id = offer.agents[0], offer.waiting.call_id
        with write_tx(self.engine) as conn:
            if not self._take(conn, agent.name, call_id, "callback", "calling", now):
                return None
            row = conn.execute(select(queue_entries).where(queue_entries.c.call_id == call_id)).first()
        if row is None:  # gone meanwhile (the caller's worker cleared it)
            return None
        entry = {"call_id": call_id, "queue": row.queue, "priority": row.priority, "number": row.callback,
                 "attempts": row.attempts, "reasons": json.loads(row.reasons), "waited_s": round(now - row.joined_at),
                 "context": json.loads(row.context)}  # fmt: skip
        return entry, agent

    def to_callback(self, call_id: str, number: str) -> Place:
        """The caller hangs up to be called back at `number`, keeping their place."""
        with write_tx(self.engine) as conn:
            conn.execute(
                update(queue_entries)
                .where(queue_entries.c.call_id == call_id, queue_entries.c.state.in_(["waiting", "offered"]))
                .values(state="callback", callback=number, next_try_at=time.time(), ready=True, agent="")
            )
        return self.place(call_id)

    def agent_on_call(self, agent: str, call_id: str) -> None:
        """The agent answered a callback's first leg (the caller is being dialled)."""
        with write_tx(self.engine) as conn:
            conn.execute(
                update(agents)
                .where(agents.c.name == agent)
                .values(state="on_call", since=time.time(), missed=0, call_id=call_id)
            )

    def callback_done(self, call_id: str, agent: str, outcome: str, retry_s: float = 120.0) -> str:
        """How a callback went: `answered` (the caller is with the agent), `no_answer` (the
        caller did not pick up: tried again `retry_s` later, 3 tries in all), `agent_missed`
        (the agent's phone did not answer: the callback waits for the next agent), `interrupted`
        (the call broke off: tried again `retry_s` later, the try not counted). Returns the
        entry's state after it."""
        self._none_free_until = 0.0  # an agent this process frees is seen at once
        now = time.time()
        with write_tx(self.engine) as conn:
            row = conn.execute(select(queue_entries).where(queue_entries.c.call_id == call_id)).first()
            if row is None:
                return "left"
            if outcome == "answered":
                conn.execute(
                    update(agents).where(agents.c.name == agent).values(state="on_call", since=now, missed=0)
                )
                self._leave(conn, call_id, "answered")
                return "left"
            if outcome == "agent_missed":
                a = agent_from_row(conn.execute(select(agents).where(agents.c.name == agent)).first())
                after = policy.missed_ring(a, self.rules(row.queue), now)
                conn.execute(
                    update(agents).where(agents.c.name == agent)
                    .values(state=str(after.state), since=now, missed=after.missed, reason=after.reason, call_id="")
                )  # fmt: skip
                conn.execute(
                    update(queue_entries)
                    .where(queue_entries.c.call_id == call_id)
                    .values(state="callback", agent="")
                )
                return "callback"
            if row.state == "left":
                return "left"
            if outcome == "interrupted":  # an agent still ringing for it is free again
                conn.execute(
                    update(agents).where(agents.c.name == agent, agents.c.state == "ringing")
                    .values(state="available", since=now, call_id="")
                )  # fmt: skip
                conn.execute(
                    update(queue_entries).where(queue_entries.c.call_id == call_id)
                    .values(state="callback", agent="", next_try_at=now + retry_s)
                )  # fmt: skip
                return "callback"
            attempts = row.attempts + 1
            if attempts >= CALLBACK_TRIES:
                self._leave(conn, call_id, "callback_failed")
                return "left"
            conn.execute(
                update(queue_entries).where(queue_entries.c.call_id == call_id)
                .values(state="callback", agent="", attempts=attempts, next_try_at=now + retry_s)
            )  # fmt: skip
            return "callback"
