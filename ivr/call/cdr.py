"""Call records: one row a call (the CDR an operator lists and exports) and its event log.

Rows are written as the call happens (`ivr.call.record` through the writer); this module
reads them, exports them, marks calls a dead process left in flight, and purges what the
retention settings say to forget.
"""

from __future__ import annotations

import builtins
import csv
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, and_, delete, func, or_, select, update

from ivr.store.engine import write_tx
from ivr.store.tables import call_events, calls, queue_entries

OUTCOMES = ("ai_resolved", "transferred", "abandoned", "callback", "caller_hung_up", "interrupted", "failed")
"""How a call ended, one of these (`ivr.call.record.outcome_of` decides)."""

EXPORT_COLUMNS = (
    "id", "caller", "caller_name", "caller_tier", "started", "answered", "ended", "duration_s",
    "outcome", "end_reason", "tier", "queue", "transfer_reason", "intents", "path", "affect_level",
    "anger_max", "anxiety_max", "turns", "dialplan", "dialplan_version", "recording_path", "recording_s",
    "called", "line", "language",
)  # fmt: skip


def iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else ""


def summary(row: Any) -> dict[str, Any]:
    """A call row as the API and `ivr calls list --json` show it."""
    m = dict(row._mapping)
    m["path"] = json.loads(m["path"] or "[]")
    m["intents"] = json.loads(m["intents"] or "[]")
    for key in ("started_at", "answered_at", "ended_at"):
        m[key.replace("_at", "")] = iso(m[key])
    return m


@dataclass(frozen=True, slots=True)
class Page:
    calls: list[dict[str, Any]]
    next_cursor: str | None


class CallRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading ------------------------------------------------------------------------
    def list(
        self,
        since: float | None = None,
        until: float | None = None,
        outcome: str | None = None,
        caller: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        called: str | None = None,
    ) -> Page:
        """Newest first. `cursor` is the previous page's next_cursor (keyset pagination: the
        100,000th call is as quick to reach as the first)."""
        q = select(calls)
        if since is not None:
            q = q.where(calls.c.started_at >= since)
        if until is not None:
            q = q.where(calls.c.started_at < until)
        if outcome:
            q = q.where(calls.c.outcome == outcome)
        if caller:
            q = q.where(calls.c.caller == caller)
        if called:
            q = q.where(calls.c.called == called)
        if cursor:
            at, _, after_id = cursor.partition("|")
            q = q.where(
                or_(
                    calls.c.started_at < float(at),
                    and_(calls.c.started_at == float(at), calls.c.id < after_id),
                )
            )
        q = q.order_by(calls.c.started_at.desc(), calls.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = f"{rows[-1].started_at!r}|{rows[-1].id}" if more and rows else None
        return Page([summary(r) for r in rows], nxt)

    def count(self, outcome: str | None = None) -> int:
        q = select(func.count()).select_from(calls)
        if outcome:
            q = q.where(calls.c.outcome == outcome)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def count_by_called(self, since: float) -> dict[str, int]:
        """Calls started since `since`, by the number called."""
        q = select(calls.c.called, func.count()).where(calls.c.started_at >= since).group_by(calls.c.called)
        with self.engine.connect() as conn:
            return {str(k): int(n) for k, n in conn.execute(q).all()}

    def get(self, call_id: str) -> dict[str, Any] | None:
        """The call with its event log, both sides' transcript and the radar timeline."""
        with self.engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.id == call_id)).first()
            if row is None:
                return None
            evs = conn.execute(
                select(call_events.c.seq, call_events.c.t_ms, call_events.c.type, call_events.c.data)
                .where(call_events.c.call_id == call_id)
                .order_by(call_events.c.seq)
            ).all()
        out = summary(row)
        events = [{"t_ms": e.t_ms, "type": e.type, **json.loads(e.data)} for e in evs]
        out["events"] = events
        out["transcript"] = transcript(events)
        out["radar"] = [
            {"t_ms": e["t_ms"], "anger": e["anger"], "anxiety": e["anxiety"], "level": e["level"]}
            for e in events
            if e["type"] == "affect"
        ]
        return out

    def export_csv(self, out: IO[str]) -> int:
        """One row a call, oldest first (CDR style). Returns the number of rows."""
        w = csv.writer(out)
        w.writerow(EXPORT_COLUMNS)
        n = 0
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1000).execute(
                select(calls).order_by(calls.c.started_at)
            )
            for row in result:
                w.writerow(export_row(row))
                n += 1
        return n

    # -- maintenance --------------------------------------------------------------------
    def mark_interrupted(
        self, host: str, pids: Sequence[int] | None = None, reason: str = ""
    ) -> builtins.list[str]:
        """Calls still live on this host (of these processes, or of any: a restarted serve)
        become `interrupted`, ended at their last event. Returns their ids."""
        q = select(calls.c.id, calls.c.started_at, calls.c.pid).where(
            calls.c.status == "live", calls.c.host == host
        )
        if pids is not None:
            q = q.where(calls.c.pid.in_(pids))
        done: list[str] = []
        with write_tx(self.engine) as conn:
            for call_id, started_at, pid in conn.execute(q).all():
                last = conn.execute(
                    select(func.max(call_events.c.t_ms)).where(call_events.c.call_id == call_id)
                ).scalar_one()
                conn.execute(
                    update(calls)
                    .where(calls.c.id == call_id, calls.c.status == "live")
                    .values(
                        status="ended",
                        outcome="interrupted",
                        end_reason=reason or f"the process that held the call (pid {pid}) died",
                        ended_at=started_at + (last or 0) / 1000,
                        duration_ms=last or 0,
                    )
                )
                done.append(call_id)
        return done

    def purge(
        self, recordings_days: float, transcripts_days: float, data_dir: str, now: float | None = None
    ) -> dict[str, int]:
        """Forget what retention says to: recordings older than `recordings_days` (files the
        IVR wrote under the data dir are deleted), events and transcripts older than
        `transcripts_days` (the call's row stays, as a CDR) with the queue entries of that age
        (their screen pop holds what was said). 0 keeps forever."""
        now = time.time() if now is None else now
        root = Path(data_dir).resolve()
        counts = {"recordings": 0, "transcripts": 0}
        if recordings_days > 0:
            cut = now - recordings_days * 86400
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(calls.c.id, calls.c.recording_path).where(
                        calls.c.status == "ended",
                        calls.c.started_at < cut,
                        calls.c.recording_purged.is_(False),
                        calls.c.recording_path != "",
                    )
                ).all()
            for call_id, path in rows:
                p = Path(path).resolve()
                if p.is_relative_to(root):
                    p.unlink(missing_ok=True)
                with write_tx(self.engine) as conn:
                    conn.execute(
                        update(calls)
                        .where(calls.c.id == call_id)
                        .values(recording_purged=True, recording_path="")
                    )
                counts["recordings"] += 1
        if transcripts_days > 0:
            cut = now - transcripts_days * 86400
            with self.engine.connect() as conn:
                ids = (
                    conn.execute(
                        select(calls.c.id).where(
                            calls.c.status == "ended",
                            calls.c.started_at < cut,
                            calls.c.transcript_purged.is_(False),
                        )
                    )
                    .scalars()
                    .all()
                )
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                with write_tx(self.engine) as conn:
                    conn.execute(delete(call_events).where(call_events.c.call_id.in_(chunk)))
                    conn.execute(update(calls).where(calls.c.id.in_(chunk)).values(transcript_purged=True))
                for call_id in chunk:  # the worker's JSON-lines copy of the events
                    log = root / "calls" / f"{os.path.basename(call_id)}.jsonl"
                    log.unlink(missing_ok=True)
            counts["transcripts"] = len(ids)
            with write_tx(self.engine) as conn:  # the queue's past entries hold the screen pop (words said)
                counts["queue_entries"] = conn.execute(
                    delete(queue_entries).where(
                        queue_entries.c.state == "left", queue_entries.c.left_at < cut
                    )
                ).rowcount
        return counts


def transcript(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every side, in order: what the caller said, what the IVR said, what the agent said."""
    out: list[dict[str, Any]] = []
    for e in events:
        if e["type"] == "final_transcript" and e.get("text"):
            out.append({"t_ms": e["t_ms"], "speaker": e.get("speaker") or "caller", "text": e["text"]})
        elif e["type"] == "say" and e.get("prompt") != "play":
            out.append({"t_ms": e["t_ms"], "speaker": "ivr", "text": e["text"]})
    return out


def export_row(row: Any) -> list[Any]:
    m = row._mapping
    intents = json.loads(m["intents"] or "[]")
    return [
        m["id"], m["caller"], m["caller_name"], m["caller_tier"], iso(m["started_at"]), iso(m["answered_at"]),
        iso(m["ended_at"]), "" if m["duration_ms"] is None else round(m["duration_ms"] / 1000, 1),
        m["outcome"] or m["status"], m["end_reason"], m["tier"], m["queue"], m["transfer_reason"],
        ";".join(f"{i['name']}:{i['confidence']:.2f}" for i in intents), ">".join(json.loads(m["path"] or "[]")),
        m["affect_level"], m["anger_max"] if m["anger_max"] is not None else "",
        m["anxiety_max"] if m["anxiety_max"] is not None else "", m["turns"], m["dialplan"], m["dialplan_version"],
        m["recording_path"], "" if m["recording_ms"] is None else round(m["recording_ms"] / 1000, 1),
        m["called"], m["line"], m["language"],
    ]  # fmt: skip
