"""A caller's wait for a human: join the queue, hear where they are, hold music between the
announcements, and ring the agent the queue picks; a ring nobody answers goes to the next
agent with the caller at their place; an upset caller moves up; a caller who hangs up is
recorded as abandoned with their wait. Runs in the call's coroutine; the queue itself is in
the store (`engine.Acd`), so every worker sees the same one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ivr.acd import policy
from ivr.acd.engine import Acd
from ivr.conversation import InputKind, TransferOutcome, TransferRequest
from ivr.events import EventType

ANNOUNCE_MS = 30000
"""How often a waiting caller hears their position and the expected wait."""
NOBODY = (
    "I'm sorry, none of our agents is available right now. Please stay on the line and the next"
    " one to become free will take your call."
)


async def wait_for_agent(session: Any, request: TransferRequest, acd: Acd, agent_uri: str) -> TransferOutcome:
    """Queue the caller until an agent answers (CONNECTED), or the wait ends: the caller hung
    up, or waited `max_wait_s` (NO_ANSWER: the dialplan's `unavailable` is said)."""
    call_id = session.call_id
    rules = acd.rules(request.queue)
    caller = request.context.get("caller") or {}
    upset = (request.context.get("affect") or {}).get("level") == "escalate"
    priority, reasons = policy.priority_for(request.priority, str(caller.get("tier") or ""), upset)
    pop = {**request.context, "reason": request.reason, "tier": request.tier}
    place = await asyncio.to_thread(acd.join, call_id, request.queue, priority, request.skill, reasons, session.masked(pop))
    session.emit(EventType.QUEUE_JOIN, queue=request.queue, position=place.position, priority=priority, reasons=list(reasons))
    joined_ms = session.now_ms
    await session.say(NOBODY if place.agents_serving == 0 else policy.announcement(place.position, place.wait_s))
    await session.start_hold()
    next_update = session.now_ms + ANNOUNCE_MS

    def leave(reason: str, agent: str = "") -> None:
        session.emit(EventType.QUEUE_LEAVE, reason=reason, wait_ms=session.now_ms - joined_ms, **({"agent": agent} if agent else {}))

    try:
        while True:
            room = getattr(session.transport, "lines_free", None)
            agent = await asyncio.to_thread(acd.claim, call_id) if room is None or room() > 0 else None
            if agent is not None:
                session.emit(EventType.AGENT_OFFER, agent=agent.name)
                await session.stop_hold()
                outcome = await session.bridge_to(agent_uri.format(name=agent.name), request, rules.ring_timeout_s)
                if outcome is TransferOutcome.CONNECTED:
                    await asyncio.to_thread(acd.answered, call_id, agent.name)
                    session.agent = agent.name
                    leave("answered", agent.name)
                    return outcome
                after = await asyncio.to_thread(acd.missed, call_id, agent.name)
                session.emit(EventType.QUEUE_UPDATE, position=1, reason=f"{agent.name}: {outcome} ({after.state})")
                if session.caller_gone:
                    await asyncio.to_thread(acd.leave, call_id, "abandoned")
                    leave("abandoned")
                    return TransferOutcome.NO_ANSWER
                await session.start_hold()
                continue
            item = await session.wait_input(1000)  # a second of the call's time
            if item.kind is InputKind.HANGUP:
                await asyncio.to_thread(acd.leave, call_id, "abandoned")
                leave("abandoned")
                return TransferOutcome.NO_ANSWER
            if item.kind is InputKind.AFFECT and item.level == "escalate":
                if await asyncio.to_thread(acd.escalate, call_id):
                    place = await asyncio.to_thread(acd.place, call_id)
                    session.emit(EventType.QUEUE_UPDATE, position=place.position, reason="the caller sounds upset")
            if session.now_ms - joined_ms >= rules.max_wait_s * 1000:
                await asyncio.to_thread(acd.leave, call_id, "timeout")
                leave("timeout")
                await session.stop_hold()
                return TransferOutcome.NO_ANSWER
            if session.now_ms >= next_update:
                next_update = session.now_ms + ANNOUNCE_MS
                place = await asyncio.to_thread(acd.place, call_id)
                session.emit(EventType.QUEUE_UPDATE, position=place.position, wait_s=round(place.wait_s))
                await session.say(NOBODY if place.agents_serving == 0 else policy.announcement(place.position, place.wait_s))
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(acd.leave, call_id, "interrupted"))
        raise
