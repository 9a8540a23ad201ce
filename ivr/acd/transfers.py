"""An agent hands their live caller on: to a queue's agents, or to one agent by name. The
console writes the request here; the worker holding the call reads it, lets the first agent
go (their wrap-up starts), puts the caller back in the queue (a named agent's caller waits
for that agent alone) and writes back how it went."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, insert, select, update

from ivr.acd.engine import Acd
from ivr.store.engine import UserError, inserted_id, write_tx
from ivr.store.tables import agents, calls, transfers

LIVE = ("requested", "transferring")
NOTE_CHARS = 500


class Transfers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def request(
        self,
        call_id: str,
        agent: str,
        queues: Iterable[str],
        queue: str = "",
        target: str = "",
        note: str = "",
    ) -> dict[str, Any]:
        """`agent` asks to hand `call_id` (their call) to `queue`, or to the agent `target`
        (through the queue the call came from, or `queue`). One transfer of a call at a time."""
        known = set(queues)
        note = note.strip()[:NOTE_CHARS]
        if not queue and not target:
            raise UserError("say where to: a queue, or an agent (and the queue they take it from)")
        if queue and queue not in known:
            raise UserError(f"no queue {queue!r}: one of {', '.join(sorted(known)) or '(none)'}")
        now = time.time()
        with write_tx(self.engine) as conn:
            live = conn.execute(select(calls.c.status).where(calls.c.id == call_id)).scalar()
            if live != "live":
                raise UserError(f"call {call_id} is not live")
            mine = conn.execute(
                select(agents.c.name).where(
                    agents.c.name == agent,
                    agents.c.call_id == call_id,
                    agents.c.state.in_(("ringing", "on_call")),
                )  # (during the briefing the call is still ringing for the queue: carried out once through)
            ).first()
            if mine is None:
                raise UserError(f"call {call_id} is not {agent}'s to transfer")
            if target:
                if target == agent:
                    raise UserError("the call is already yours: transfer it to someone else")
                if conn.execute(select(agents.c.name).where(agents.c.name == target)).first() is None:
                    raise UserError(f"no agent {target!r}")
            busy = conn.execute(
                select(transfers.c.id).where(transfers.c.call_id == call_id, transfers.c.state.in_(LIVE))
            ).first()
            if busy is not None:
                raise UserError(f"call {call_id} is already being transferred")
            tid = inserted_id(conn.execute(
                insert(transfers).values(call_id=call_id, agent=agent, queue=queue, target=target, note=note,
                                         state="requested", reason="", created_at=now, updated_at=now)
            ))  # fmt: skip
        return self.get(int(tid)) or {}

    def get(self, transfer_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(transfers).where(transfers.c.id == transfer_id)).first()
        return dict(row._mapping) if row else None

    def to_serve(self, call_id: str) -> dict[str, Any] | None:
        """For the worker holding `call_id`: the transfer it should carry out, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(transfers).where(transfers.c.call_id == call_id, transfers.c.state == "requested")
            ).first()
        return dict(row._mapping) if row else None

    def report(self, transfer_id: int, state: str, reason: str = "") -> None:
        """The worker's word: transferring (the first agent's wrap-up starts), done or failed."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(transfers).where(transfers.c.id == transfer_id)).first()
            conn.execute(
                update(transfers).where(transfers.c.id == transfer_id)
                .values(state=state, reason=reason, updated_at=time.time())
            )  # fmt: skip
        if row is not None and state == "transferring":
            Acd(self.engine, {}).call_ended(row.agent)  # off the call: their wrap-up starts
