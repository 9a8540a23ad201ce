"""The console's records: wrap-ups, knowledge-base candidates, and supervisors' monitoring of
live calls (the API writes a request; the worker holding the call carries it out and writes
back how it went)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Engine, insert, select, update

from ivr.store.engine import UserError, inserted_id, write_tx
from ivr.store.tables import agents, calls, kb_candidates, monitors, queue_entries, wrapups

DISPOSITIONS = (
    "resolved",
    "follow_up",
    "escalated",
    "callback_promised",
    "not_resolved",
    "wrong_queue",
    "no_action",
)
"""What an agent may say a call came to."""
MONITOR_MODES = ("listen", "whisper", "barge")
MONITOR_LIVE = ("requested", "dialing", "active", "ending")
"""States of a monitor that still holds (or is about to hold) the supervisor's phone."""


class ConsoleRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- wrap-up ---------------------------------------------------------------------------
    def handled_by(self, agent: str, call_id: str) -> bool:
        """True if `agent` was put through to `call_id` (only they may wrap it up)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(queue_entries.c.agent, queue_entries.c.leave_reason).where(
                    queue_entries.c.call_id == call_id
                )
            ).first()
        return row is not None and row.agent == agent and row.leave_reason == "answered"

    def wrap_up(
        self, agent: str, call_id: str, disposition: str, note: str, kb: tuple[str, str] | None = None,
        available: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """The agent's wrap-up of their call (once; a second is refused), the KB candidate it
        suggests, and, if `available`, the agent back to available from wrap-up."""
        if disposition not in DISPOSITIONS:
            raise UserError(f"disposition {disposition!r}: one of {', '.join(DISPOSITIONS)}")
        if not self.handled_by(agent, call_id):
            raise UserError(f"{agent} was not put through to call {call_id}")
        now = time.time()
        with write_tx(self.engine) as conn:
            if conn.execute(select(wrapups.c.call_id).where(wrapups.c.call_id == call_id)).first():
                raise UserError(f"call {call_id} is already wrapped up")
            conn.execute(
                insert(wrapups).values(
                    call_id=call_id, agent=agent, disposition=disposition, note=note, created_at=now
                )
            )
            kb_id = None
            if kb is not None:
                kb_id = inserted_id(
                    conn.execute(
                        insert(kb_candidates).values(
                            call_id=call_id, agent=agent, question=kb[0], answer=kb[1], created_at=now
                        )
                    )
                )
            state = conn.execute(select(agents.c.state).where(agents.c.name == agent)).scalar()
            if available and state == "wrap_up":
                conn.execute(
                    update(agents)
                    .where(agents.c.name == agent, agents.c.state == "wrap_up")
                    .values(state="available", since=now)
                )
        return {"call_id": call_id, "disposition": disposition, "kb_candidate": kb_id}

    def wrapup_of(self, call_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(wrapups).where(wrapups.c.call_id == call_id)).first()
        return dict(row._mapping) if row else None

    def recent_calls(self, agent: str, limit: int = 20) -> list[dict[str, Any]]:
        """The calls `agent` was put through to, newest first, with their wrap-up if any."""
        q = (
            select(calls.c.id, calls.c.caller, calls.c.caller_name, calls.c.started_at, calls.c.duration_ms,
                   calls.c.status, calls.c.queue, calls.c.affect_level, calls.c.intents,
                   wrapups.c.disposition, wrapups.c.note)
            .select_from(queue_entries.join(calls, calls.c.id == queue_entries.c.call_id)
                         .outerjoin(wrapups, wrapups.c.call_id == queue_entries.c.call_id))
            .where(queue_entries.c.agent == agent, queue_entries.c.leave_reason == "answered")
            .order_by(calls.c.started_at.desc()).limit(limit)
        )  # fmt: skip
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            intents = json.loads(d.pop("intents") or "[]")
            d["intent"] = intents[-1]["name"] if intents else ""
            out.append(d)
        return out

    # -- monitoring ------------------------------------------------------------------------
    def monitor_request(
        self, call_id: str, supervisor: str, mode: str, browser_phones: bool = False
    ) -> dict[str, Any]:
        """A supervisor asks to listen to, whisper on or barge into a live call through their
        own phone: a desk phone (a SIP account: `ivr agents add`) or, where the hotline has
        browser phones, the console they are signed in to. One monitor per call at a time."""
        if mode not in MONITOR_MODES:
            raise UserError(f"mode {mode!r}: one of {', '.join(MONITOR_MODES)}")
        now = time.time()
        with write_tx(self.engine) as conn:
            call = conn.execute(select(calls.c.status).where(calls.c.id == call_id)).first()
            if call is None or call.status != "live":
                raise UserError(f"call {call_id} is not live")
            with_agent = conn.execute(
                select(agents.c.name).where(agents.c.call_id == call_id, agents.c.state == "on_call")
            ).first()
            if with_agent is None:
                raise UserError(
                    f"call {call_id} is not with an agent: only a call put through to one can be monitored"
                )
            phone = conn.execute(select(agents.c.ha1).where(agents.c.name == supervisor)).scalar()
            if not phone and not browser_phones:
                raise UserError(
                    f"{supervisor} has no phone on the hotline: `ivr agents add {supervisor} --skills ...` gives one"
                )
            busy = conn.execute(
                select(monitors.c.supervisor).where(
                    monitors.c.call_id == call_id, monitors.c.state.in_(MONITOR_LIVE)
                )
            ).first()
            if busy is not None:
                raise UserError(f"{busy.supervisor} is already monitoring call {call_id}")
            mid = inserted_id(conn.execute(
                insert(monitors).values(call_id=call_id, supervisor=supervisor, mode=mode, state="requested",
                                        created_at=now, updated_at=now)
            ))  # fmt: skip
        return self.monitor(int(mid)) or {}

    def monitor(self, monitor_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(monitors).where(monitors.c.id == monitor_id)).first()
        return dict(row._mapping) if row else None

    def monitor_of(self, call_id: str) -> dict[str, Any] | None:
        """The call's live monitor (or its latest one)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(monitors).where(monitors.c.call_id == call_id).order_by(monitors.c.id.desc())
            ).first()
        return dict(row._mapping) if row else None

    def monitor_change(
        self, call_id: str, supervisor: str, mode: str | None = None, stop: bool = False
    ) -> dict[str, Any]:
        """Switch the live monitor's mode (listen -> whisper -> barge and back), or stop it."""
        if mode is not None and mode not in MONITOR_MODES:
            raise UserError(f"mode {mode!r}: one of {', '.join(MONITOR_MODES)}")
        with write_tx(self.engine) as conn:
            row = conn.execute(
                select(monitors).where(monitors.c.call_id == call_id, monitors.c.state.in_(MONITOR_LIVE))
            ).first()
            if row is None:
                raise UserError(f"nobody is monitoring call {call_id}")
            if row.supervisor != supervisor:
                raise UserError(f"{row.supervisor} is monitoring call {call_id}, not {supervisor}")
            values: dict[str, Any] = {"updated_at": time.time()}
            if mode is not None:
                values["mode"] = mode
            if stop:
                values["state"] = "ending"
            conn.execute(update(monitors).where(monitors.c.id == row.id).values(**values))
        return self.monitor(row.id) or {}

    def monitors_to_serve(self, call_id: str) -> dict[str, Any] | None:
        """For the worker holding `call_id`: the monitor it should carry out, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(monitors).where(monitors.c.call_id == call_id, monitors.c.state.in_(MONITOR_LIVE))
            ).first()
        return dict(row._mapping) if row else None

    def monitor_report(self, monitor_id: int, state: str, reason: str = "") -> None:
        """The worker's word on a monitor: dialing, active, ended or failed (with why)."""
        with write_tx(self.engine) as conn:
            conn.execute(
                update(monitors).where(monitors.c.id == monitor_id)
                .values(state=state, reason=reason, updated_at=time.time())
            )  # fmt: skip
