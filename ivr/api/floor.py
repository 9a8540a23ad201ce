"""The supervisor's floor on one page: live calls (caller, node or agent, duration, radar
level, flagged when escalating), queues (who waits, how long, at what priority; service level
and the longest wait), agents (state and time in it) and alerts. `GET /api/floor` is one
snapshot; the WebSocket `/api/floor/events` sends one at once (a page opened late starts from
the current state) and then each time the floor changes. All read from the store, so it shows
every worker's calls."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from sqlalchemy import func, select

from ivr.acd.engine import LIVE
from ivr.api.auth import SupervisorUser, websocket_principal
from ivr.api.events import until_closed
from ivr.queues import QueueRules, rules_from
from ivr.store.tables import agents, call_events, calls, monitors, queue_entries

SERVICE_LEVEL_S = 20.0
"""A call answered within this many seconds of joining the queue counts toward the service
level (the usual 80/20 target); a caller waiting longer raises an alert."""
SERVICE_WINDOW_S = 3600.0
"""The service level is reckoned over the last hour's answered and abandoned callers."""
FLOOR_POLL_S = 0.5


def _rules(request_app: Any) -> dict[str, QueueRules]:
    manager = getattr(request_app.state, "manager", None)
    try:
        return rules_from(manager.active.dialplan.queues) if manager is not None else {}
    except AttributeError:
        return {}


def _latest_affect(conn: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    last = (
        select(call_events.c.call_id, func.max(call_events.c.seq).label("seq"))
        .where(call_events.c.call_id.in_(ids), call_events.c.type == "affect")
        .group_by(call_events.c.call_id)
        .subquery()
    )
    rows = conn.execute(
        select(call_events.c.call_id, call_events.c.data).join(
            last, (call_events.c.call_id == last.c.call_id) & (call_events.c.seq == last.c.seq)
        )
    ).all()
    return {r.call_id: json.loads(r.data) for r in rows}


def snapshot(store: Any, rules: dict[str, QueueRules], now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    with store.engine.connect() as conn:
        live = conn.execute(select(calls).where(calls.c.status == "live").order_by(calls.c.started_at)).all()
        staff = conn.execute(select(agents).order_by(agents.c.name)).all()
        entries = conn.execute(select(queue_entries).where(queue_entries.c.state.in_(LIVE))).all()
        recent = conn.execute(
            select(queue_entries.c.queue, queue_entries.c.joined_at, queue_entries.c.left_at, queue_entries.c.leave_reason)
            .where(queue_entries.c.left_at >= now - SERVICE_WINDOW_S, queue_entries.c.leave_reason.in_(["answered", "abandoned"]))
        ).all()  # fmt: skip
        watched = conn.execute(
            select(monitors.c.call_id, monitors.c.supervisor, monitors.c.mode, monitors.c.state)
            .where(monitors.c.state.in_(["requested", "dialing", "active", "ending"]))
        ).all()  # fmt: skip
        affect = _latest_affect(conn, [c.id for c in live])
    on_call = {a.call_id: a.name for a in staff if a.call_id and a.state == "on_call"}
    ringing = {a.call_id: a.name for a in staff if a.call_id and a.state == "ringing"}
    waiting_of = {e.call_id: e for e in entries}
    monitor_of = {m.call_id: {"supervisor": m.supervisor, "mode": m.mode, "state": m.state} for m in watched}
    out_calls = []
    alerts: list[dict[str, Any]] = []
    for c in live:
        a = affect.get(c.id, {})
        path = json.loads(c.path or "[]")
        intents = json.loads(c.intents or "[]")
        entry = waiting_of.get(c.id)
        where = "agent" if c.id in on_call else ("queue" if entry is not None else "ivr")
        row = {
            "call_id": c.id, "caller": c.caller, "caller_name": c.caller_name, "tier": c.caller_tier,
            "called": c.called, "line": c.line,
            "started_at": c.started_at, "duration_s": round(now - c.started_at, 1), "node": path[-1] if path else "",
            "where": where, "agent": on_call.get(c.id, ""), "ringing": ringing.get(c.id, ""), "queue": c.queue or (entry.queue if entry else ""),
            "intent": intents[-1]["name"] if intents else "",
            "radar": {"level": a.get("level", ""), "anger": a.get("anger"), "anxiety": a.get("anxiety")},
            "escalating": a.get("level") == "escalate", "monitor": monitor_of.get(c.id),
        }  # fmt: skip
        out_calls.append(row)
        if row["escalating"]:
            alerts.append(
                {
                    "kind": "escalating",
                    "call_id": c.id,
                    "text": f"{c.caller_name or c.caller} sounds upset ({row['where']})",
                }
            )
    queues: dict[str, dict[str, Any]] = {}
    for e in sorted(entries, key=lambda e: (-e.priority, e.joined_at)):
        q = queues.setdefault(e.queue, {"name": e.queue, "waiting": [], "longest_wait_s": 0.0})
        if e.state in ("waiting", "callback", "calling", "offered"):
            wait = round(now - e.joined_at, 1)
            q["waiting"].append({"call_id": e.call_id, "wait_s": wait, "priority": e.priority, "state": e.state,
                                 "reasons": json.loads(e.reasons or "[]"), "agent": e.agent})  # fmt: skip
            q["longest_wait_s"] = max(q["longest_wait_s"], wait)
            if e.state in ("waiting", "callback") and wait > SERVICE_LEVEL_S:
                alerts.append(
                    {"kind": "long_wait", "call_id": e.call_id, "text": f"waiting {wait:.0f} s in {e.queue}"}
                )
    for name in rules:
        queues.setdefault(name, {"name": name, "waiting": [], "longest_wait_s": 0.0})
    for q in queues.values():
        mine = [r for r in recent if r.queue == q["name"]]
        fast = sum(
            1 for r in mine if r.leave_reason == "answered" and r.left_at - r.joined_at <= SERVICE_LEVEL_S
        )
        q["service_level"] = round(fast / len(mine), 3) if mine else None
        q["handled_last_hour"] = len(mine)
    out_agents = _agents(staff, rules, now, alerts)
    return {"at": now, "calls": out_calls, "queues": sorted(queues.values(), key=lambda q: q["name"]),
            "agents": out_agents, "alerts": alerts, "service_level_s": SERVICE_LEVEL_S}  # fmt: skip


def _agents(
    staff: Any, rules: dict[str, QueueRules], now: float, alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each agent's state and how long they have been in it; a phone ringing far past every
    queue's ring timeout is an alert."""
    out_agents = []
    for a in staff:
        in_state = round(now - a.since, 1)
        out_agents.append({"name": a.name, "state": a.state, "since": a.since, "in_state_s": in_state,
                           "reason": a.reason, "call_id": a.call_id, "skills": json.loads(a.skills or "[]")})  # fmt: skip
        ring_limit = max((r.ring_timeout_s for r in rules.values()), default=20.0) + 10
        if a.state == "ringing" and in_state > ring_limit:
            alerts.append(
                {
                    "kind": "stuck_ringing",
                    "agent": a.name,
                    "text": f"{a.name} has been ringing {in_state:.0f} s",
                }
            )
    return out_agents


def _changed_part(s: dict[str, Any]) -> str:
    """What the floor shows, rounded to whole seconds (a tick of a clock alone is no change)."""

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: strip(x)
                for k, x in v.items()
                if k not in ("at", "duration_s", "in_state_s", "wait_s", "longest_wait_s")
            }
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(s), sort_keys=True, default=str)


def floor_router() -> APIRouter:
    router = APIRouter(tags=["floor"])

    @router.get("/api/floor")
    def floor(request: Request, _: SupervisorUser) -> dict[str, Any]:
        return snapshot(request.app.state.store, _rules(request.app))

    @router.websocket("/api/floor/events")
    async def floor_events(ws: WebSocket, token: str = "") -> None:
        store = ws.app.state.store
        opened = await websocket_principal(ws, token, "supervisor")
        if opened is None:
            return
        token = opened[1]
        await ws.accept()
        rules = _rules(ws.app)
        last = ""
        sent_at = 0.0

        async def push() -> None:
            nonlocal last, sent_at
            try:
                while True:
                    if await asyncio.to_thread(store.users.authenticate, token) is None:
                        await ws.close(code=4401, reason="the session has expired")
                        return
                    snap = await asyncio.to_thread(snapshot, store, rules)
                    key = _changed_part(snap)
                    # on a change at once; else once every 5 s so waits and durations keep moving
                    if key != last or snap["at"] - sent_at >= 5:
                        await ws.send_json({"type": "floor", **snap})
                        last, sent_at = key, snap["at"]
                    await asyncio.sleep(FLOOR_POLL_S)
            except WebSocketDisconnect:
                return

        await until_closed(ws, push())

    return router
