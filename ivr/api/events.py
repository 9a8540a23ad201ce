"""What an agent's screen is told: the call offered to them (the screen pop) over HTTP, and a
WebSocket that pushes `agent` (their state, first and on each change), `offer`, `call_update`
(the call's new transcript lines and radar; a page opened mid-call gets all of them first) and
`call_end` as they happen, for the agent the token belongs to (a supervisor may follow any
agent with `?agent=NAME`). Workers write to the store; this reads it, so it works whichever
worker holds the call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from ivr.acd.engine import Acd
from ivr.api.auth import AgentUser, websocket_principal
from ivr.store.tables import call_events, calls

POLL_S = 0.3
SHOWN = {"final_transcript", "say", "affect", "intent", "queue_update", "bridge", "hangup", "monitor"}


async def until_closed(ws: WebSocket, push: Any) -> None:
    """Run `push` (the socket's sending loop) until it ends or the page goes away: a loop that
    sends only on a change would otherwise poll for a closed socket until its next send."""

    async def gone() -> None:
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass  # the page says nothing we act on

    tasks = {asyncio.ensure_future(push), asyncio.ensure_future(gone())}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # the server logs it and closes the socket
    finally:  # also when this handler itself is cancelled (the server stops): nothing is awaited then
        for t in tasks:
            t.cancel()


def _acd(store: Any) -> Acd:
    return Acd(store.engine, {})


def _new_events(store: Any, call_id: str, after_seq: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(call_events.c.seq, call_events.c.t_ms, call_events.c.type, call_events.c.data)
            .where(call_events.c.call_id == call_id, call_events.c.seq > after_seq)
            .order_by(call_events.c.seq)
        ).all()
    # not the radar's cues (numbers for retraining, ~2 KB an utterance): the pages show its scores
    return [{"seq": r.seq, "t_ms": r.t_ms, "type": r.type, **_shown(json.loads(r.data))} for r in rows]


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("cues", None)
    return data


def silent(e: dict[str, Any]) -> bool:
    """A supervisor listening in silently: not shown to the agent (whisper and barge are)."""
    return e["type"] == "monitor" and e.get("mode") == "listen"


def _agent_state(store: Any, name: str) -> dict[str, Any] | None:
    a = store.agents.get(name)
    return (
        None if a is None else {"name": a.name, "state": str(a.state), "since": a.since, "reason": a.reason}
    )


def _ended(store: Any, call_id: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(calls.c.status, calls.c.outcome, calls.c.end_reason).where(calls.c.id == call_id)
        ).first()
    if row is None or row.status != "ended":
        return None
    return {"outcome": row.outcome, "end_reason": row.end_reason}


def events_router() -> APIRouter:
    router = APIRouter(tags=["agents"])

    @router.get("/api/agents/{name}/offer")
    def offer(name: str, request: Request, who: AgentUser) -> dict[str, Any]:
        if who.user != name and not who.can("supervisor"):
            raise HTTPException(403, f"{who.user} may see only their own offers")
        pop = _acd(request.app.state.store).offer_for(name)
        if pop is None:
            raise HTTPException(404, f"no call is ringing for or connected to {name}")
        return pop

    @router.websocket("/api/events")
    async def events(ws: WebSocket, token: str = "", agent: str = "") -> None:
        store = ws.app.state.store
        opened = await websocket_principal(ws, token, "agent")
        if opened is None:
            return
        who, token = opened
        name = agent or who.user
        if name != who.user and not who.can("supervisor"):
            await ws.close(code=4403, reason=f"{who.user} may follow only their own calls")
            return
        await ws.accept()
        acd = _acd(store)
        supervising = who.can("supervisor")
        current: str | None = None
        seq = -1
        state: dict[str, Any] | None = None

        async def push() -> None:
            nonlocal current, seq, state
            try:
                while True:
                    if (
                        await asyncio.to_thread(store.users.authenticate, token) is None
                    ):  # logged out or expired meanwhile
                        await ws.close(code=4401, reason="the token has expired")
                        return
                    now_state = await asyncio.to_thread(_agent_state, store, name)
                    if now_state != state:  # the agent's own state (the first message a page gets)
                        state = now_state
                        await ws.send_json({"type": "agent", **(state or {"name": name, "state": "unknown"})})
                    pop = await asyncio.to_thread(acd.offer_for, name)
                    if pop is not None and pop["call_id"] != current:
                        current, seq = pop["call_id"], -1
                        await ws.send_json({"type": "offer", "agent": name, **pop})
                    if current is not None:
                        new = await asyncio.to_thread(_new_events, store, current, seq)
                        if new:
                            seq = new[-1]["seq"]
                            lines = [e for e in new if e["type"] in SHOWN and (supervising or not silent(e))]
                            if lines:
                                await ws.send_json(
                                    {"type": "call_update", "call_id": current, "events": lines}
                                )
                        end = await asyncio.to_thread(_ended, store, current)
                        if end is not None:
                            await ws.send_json({"type": "call_end", "call_id": current, **end})
                            current, seq = None, -1
                    await asyncio.sleep(POLL_S)
            except WebSocketDisconnect:
                return

        await until_closed(ws, push())

    return router
