"""The screener: every ended call, once (and again when a later call changes what it shows: the
caller re-dialled after an AI 'resolved'). `ivr serve` runs it as calls end; `ivr qa run`
re-screens a period."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ivr.qa.config import QaConfig
from ivr.qa.flags import facts, risk, screen_call
from ivr.store.tables import calls

log = logging.getLogger("ivr.qa")


class Screener:
    def __init__(self, store: Any, config: QaConfig) -> None:
        self.store = store
        self.config = config
        self._tz = ZoneInfo(config.timezone)

    def day_of(self, started_at: float) -> str:
        return datetime.fromtimestamp(started_at, self._tz).date().isoformat()

    def _same_caller(self, call: dict[str, Any], after: bool) -> list[dict[str, Any]]:
        if not call.get("caller"):
            return []
        window = self.config.thresholds.redial_within_s
        t = float(call["started_at"])
        q = select(calls.c.id, calls.c.started_at, calls.c.outcome, calls.c.status).where(
            calls.c.caller == call["caller"], calls.c.id != call["id"]
        )
        q = (
            q.where(calls.c.started_at > t, calls.c.started_at <= t + window)
            if after
            else q.where(calls.c.started_at < t, calls.c.started_at >= t - window)
        )
        with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(calls.c.started_at))]

    def screen(self, call_id: str, follow: bool = True) -> dict[str, Any] | None:
        """Screen one ended call; returns its result (None: no such ended call)."""
        call = self.store.calls.get(call_id)
        if call is None or call.get("status") != "ended":
            return None
        events = call.get("events", [])
        flags = screen_call(
            call, events, self._same_caller(call, after=True), self.config.weights, self.config.thresholds
        )
        score = risk(flags)
        fact = facts(call, events)
        day = self.day_of(float(call["started_at"]))
        self.store.qa.save(call_id, day, score, [f.to_dict() for f in flags], fact)
        self._record_kb(call, fact)
        if follow:  # this call may be the re-dial that an earlier 'resolved' call must show
            for earlier in self._same_caller(call, after=False):
                if earlier["outcome"] == "ai_resolved" and earlier["status"] == "ended":
                    self.screen(earlier["id"], follow=False)
        return {"call_id": call_id, "day": day, "score": score, "flags": [f.to_dict() for f in flags]}

    def _record_kb(self, call: dict[str, Any], fact: dict[str, Any]) -> None:
        uses = []
        for u in fact["kb"]:
            key, _, v = u["entry"].partition("@v")
            uses.append({
                "call_id": call["id"], "key": key, "version": int(v) if v.isdigit() else 0, "t_ms": int(u["t_ms"]),
                "at": float(call["started_at"]) + int(u["t_ms"]) / 1000, "outcome": call.get("outcome") or "",
            })  # fmt: skip
        self.store.kb.record_uses(uses)

    def sample(self, days: Iterable[str]) -> dict[str, dict[str, int]]:
        c = self.config
        return {
            d: self.store.qa.sample_day(d, c.share, c.random_share, c.seed, c.min_score)
            for d in sorted(set(days))
        }

    def screen_many(self, call_ids: Iterable[str]) -> list[dict[str, Any]]:
        out = []
        for cid in call_ids:
            try:
                r = self.screen(cid)
            except Exception as e:  # one odd record must not stop the others being screened
                log.exception("qa: screening call %s failed: %s", cid, e)
                continue
            if r is not None:
                out.append(r)
        self.sample(r["day"] for r in out)
        return out

    def screen_pending(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.screen_many(self.store.qa.unscreened(limit))

    def run_since(self, since: float) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(
                select(calls.c.id).where(calls.c.status == "ended", calls.c.started_at >= since).order_by(calls.c.started_at)
            )]  # fmt: skip
        return self.screen_many(ids)

    def loop(self, stopping: threading.Event, interval_s: float = 1.0) -> None:
        """`ivr serve`'s thread: screen calls as they end; a store outage is waited out."""
        while not stopping.is_set():
            try:
                while not stopping.is_set() and self.screen_pending():
                    pass  # a burst of ended calls: the next 200 at once
            except Exception as e:
                log.error("qa: screening paused, the store is away: %s", e)
            stopping.wait(interval_s)
