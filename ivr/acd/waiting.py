"""A caller's wait for a human: join the queue, hear where they are, hold music between the
announcements, and ring the agent the queue picks. A ring nobody answers goes to the next
agent with the caller at their place; an agent who hangs up during the briefing puts the
caller back at the head; an upset caller moves up. While waiting the AI still listens: a
question the knowledge base can answer is answered over the music, "agent" is met with
the caller's place, and 1 (or nobody logged in, or the maximum wait) offers a callback
that keeps the place. A caller who hangs up is recorded as abandoned with their wait.

Runs in the call's coroutine; the queue itself is in the store (`engine.Acd`), so every
worker sees the same one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from ivr.acd import briefing, policy
from ivr.acd.callback import offer_callback, spoken_tail
from ivr.acd.engine import Acd
from ivr.conversation import CallControl, InputKind, TransferOutcome, TransferRequest
from ivr.events import EventType

ANNOUNCE_MS = 30000
"""How often a waiting caller hears their position and the expected wait."""
NOBODY = (
    "I'm sorry, none of our agents is available right now. Please stay on the line and the next"
    " one to become free will take your call."
)
CALLBACK_KEY = "1"
STORE_AWAY = "Our systems are slow for a moment. Please stay on the line, you keep your place."
"""Said once when the queue's store is away (the caller then waits on hold until it is back)."""
T = TypeVar("T")


class _CallerLeft(Exception):
    """The caller hung up while the queue waited for the store."""


History = Callable[[str, str], dict[str, Any] | None]
"""`(number, call_id) -> the caller's past calls` for the briefing and the screen pop."""
AGENT_WORDS = re.compile(r"\b(agent|person|human|someone|operator|representative)\b")


def _outcome_word(outcome: TransferOutcome, reason: str) -> str:
    if outcome is TransferOutcome.CONNECTED:
        return "bridged"
    if "briefing" in reason:
        return "requeued"
    if outcome is TransferOutcome.NO_ANSWER:
        return "no_answer"
    return "rejected"


class _Wait:
    def __init__(
        self,
        session: CallControl,
        request: TransferRequest,
        acd: Acd,
        agent_uri: str,
        history: History | None,
    ) -> None:
        self.s, self.request, self.acd, self.agent_uri, self.history = (
            session,
            request,
            acd,
            agent_uri,
            history,
        )
        self._past: dict[str, Any] | None = None
        self.call_id = session.call_id
        self.rules = request.rules  # of the dialplan version this call runs
        self.joined_ms = 0
        self.ready = True
        self.offered_callback = False

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """A queue operation on the store. While the store is away (PostgreSQL restarting) the
        caller is told once and keeps their place on hold; it is tried again each second of
        the call until it is back, or the caller hangs up (`_CallerLeft`)."""
        told = False
        while True:
            try:
                return await asyncio.to_thread(fn, *args)
            except (OperationalError, InterfaceError) as e:
                if not told:
                    told = True
                    self.s.emit(
                        EventType.ERROR,
                        message=f"the store is away: {str(e).splitlines()[0]}"[:300],
                        stage="queue",
                    )
                    if not self.s.caller_gone:
                        await self.s.say(STORE_AWAY)
                        await self.s.start_hold()
                item = await self.s.wait_input(1000)
                if item.kind is InputKind.HANGUP or self.s.caller_gone:
                    raise _CallerLeft from None

    def emit_transfer(self, outcome: str) -> None:
        r = self.request
        self.s.emit(EventType.TRANSFER, queue=r.queue, reason=r.reason, tier=r.tier, outcome=outcome)

    def leave(self, reason: str, **extra: Any) -> None:
        self.s.emit(EventType.QUEUE_LEAVE, reason=reason, wait_ms=self.s.now_ms - self.joined_ms, **extra)

    async def announce(self) -> None:
        place = await self.db(self.acd.place, self.call_id)
        self.s.emit(EventType.QUEUE_UPDATE, position=place.position, wait_s=round(place.wait_s))
        await self.say_place(place)

    async def say_place(self, place: Any) -> None:
        """The place and the expected wait, a sentence at a time: each sentence ("You are number
        12 in the queue.") is synthesised once and cached for every caller who reaches that
        place, where the whole announcement would be synthesised anew nearly every time (at
        200 callers waiting that is 7 syntheses a second, more than the speech service has)."""
        if place.agents_serving == 0:
            await self.s.say(NOBODY)
            return
        for sentence in policy.announcement(place.position, place.wait_s).split(". "):
            await self.s.say(sentence if sentence.endswith(".") else sentence + ".")

    async def set_ready(self) -> None:
        """Tell the queue whether this worker has a line for the agent leg now: when not, the
        caller is passed over (keeping their place) instead of holding the agent."""
        room = self.s.lines_free()
        ready = room is None or room > 0
        if ready != self.ready:
            self.ready = ready
            await self.db(self.acd.set_ready, self.call_id, ready)

    async def past_calls(self) -> dict[str, Any] | None:
        """The caller's past calls (read once: the pop and the briefing both show them)."""
        if self._past is None:
            number = str((self.request.context.get("caller") or {}).get("number") or "")
            self._past = {}
            if self.history is not None and number:
                try:
                    self._past = await asyncio.to_thread(self.history, number, self.call_id) or {}
                except Exception:  # the briefing and the pop go without the history
                    self._past = {}
        return self._past or None

    async def whisper(self) -> bytes:
        """The briefing (at most 5 s), from the context and the caller's past calls."""
        ctx = {**self.request.context, "reason": self.request.reason}
        history = await self.past_calls()
        rate = self.s.sample_rate
        try:
            _, pcm = await briefing.fit(briefing.parts(ctx, history), self.s.synthesize, rate)
        except Exception as e:  # the speech service is away: the agent gets the screen pop only
            self.s.emit(EventType.ERROR, message=f"no briefing: {e}", stage="tts")
            return b""
        return pcm

    async def to_callback(self, nobody: bool) -> bool:
        self.offered_callback = True
        number = await offer_callback(self.s, nobody)
        if not number or self.s.caller_gone:
            if not self.s.caller_gone:
                await self.s.say("Thank you for waiting. You keep your place in the queue.")
                await self.s.start_hold()
            return False
        place = await self.db(self.acd.to_callback, self.call_id, number)
        self.leave("callback", number=number)
        self.emit_transfer("callback")
        await self.s.say(
            f"Thank you. We will call you back on the number ending {spoken_tail(number)} as soon as an"
            f" agent is free. You are number {max(1, place.position)} in the queue. Goodbye.",
            interruptible=False,
        )
        return True

    async def heard(self, text: str) -> None:
        """The caller spoke on hold: the AI answers what it can; "agent" gets their place."""
        said = text.lower()
        answer = None
        if not AGENT_WORDS.search(said) and self.request.assistant is not None:
            answer = await asyncio.to_thread(self.request.assistant, text)
        await self.s.stop_hold()
        if answer:
            self.s.emit(EventType.QUEUE_UPDATE, position=(await self.db(self.acd.place, self.call_id)).position,
                        reason="answered a question while waiting")  # fmt: skip
            await self.s.say(answer + " You keep your place in the queue.")
        else:
            await self.announce()
        await self.s.start_hold()

    async def ring(self, agent: policy.Agent) -> TransferOutcome | None:
        """Ring the claimed agent: CONNECTED, or None (the caller waits on at their place)."""
        s = self.s
        # the briefing is made while the agent's phone rings (not before: a burst of callers
        # would each keep their claimed agent waiting on the speech service)
        briefing = asyncio.ensure_future(self.whisper())
        s.emit(EventType.AGENT_OFFER, agent=agent.name)
        await s.stop_hold()
        outcome = await s.bridge_to(
            self.agent_uri.format(name=agent.name),
            self.request,
            self.rules.ring_timeout_s,
            whisper_pcm=briefing,
        )
        word = _outcome_word(outcome, s.bridge_reason)
        if outcome is TransferOutcome.CONNECTED or briefing.done():
            pcm = await briefing
            said = {"briefing_ms": len(pcm) * 1000 // (2 * s.sample_rate)}
        else:
            briefing.cancel()
            said = {}
        s.emit(EventType.AGENT_OFFER, agent=agent.name, outcome=word, **said)
        if outcome is TransferOutcome.CONNECTED:
            await self.db(self.acd.answered, self.call_id, agent.name)
            s.agent = agent.name
            self.leave("answered", agent=agent.name)
            self.emit_transfer("bridged")
            return outcome
        after = await self.db(self.acd.missed, self.call_id, agent.name)
        s.discard_speech()  # said over the ringback: answering each now would be a burst of stale replies
        s.emit(EventType.QUEUE_UPDATE, position=1, reason=f"{agent.name}: {word} ({after.state})")
        if not s.caller_gone:
            await s.start_hold()
        return None

    async def run(self) -> TransferOutcome:
        s, request, acd = self.s, self.request, self.acd
        caller = request.context.get("caller") or {}
        upset = (request.context.get("affect") or {}).get("level") == "escalate"
        priority, reasons = policy.priority_for(request.priority, str(caller.get("tier") or ""), upset)
        pop = {
            **request.context,
            "reason": request.reason,
            "tier": request.tier,
            "history": await self.past_calls() or {},
        }
        try:
            place = await self.db(
                acd.join, self.call_id, request.queue, priority, request.skill, reasons, s.masked(pop)
            )
        except _CallerLeft:  # hung up before the store came back: never in the queue
            self.emit_transfer("abandoned")
            return TransferOutcome.NO_ANSWER
        s.emit(
            EventType.QUEUE_JOIN,
            queue=request.queue,
            position=place.position,
            priority=priority,
            reasons=list(reasons),
        )
        self.joined_ms = s.now_ms
        try:
            if place.agents_serving == 0:  # nobody could take the call: say so, offer a callback
                if await self.to_callback(nobody=True):
                    return TransferOutcome.CALLBACK
            else:  # an agent free now rings at once; else the caller hears their place
                await self.set_ready()
                agent = await self.db(acd.claim, self.call_id) if self.ready else None
                if agent is not None and await self.ring(agent) is TransferOutcome.CONNECTED:
                    return TransferOutcome.CONNECTED
                if agent is None and not s.caller_gone:
                    await self.say_place(place)
                    await s.start_hold()
            next_update = s.now_ms + ANNOUNCE_MS
            while True:
                await self.set_ready()
                may = self.ready and not acd.nobody_free()
                agent = await self.db(acd.claim, self.call_id) if may else None
                if agent is not None:
                    if await self.ring(agent) is TransferOutcome.CONNECTED:
                        return TransferOutcome.CONNECTED
                    if not s.caller_gone:
                        continue
                item = await s.wait_input(1000)  # a second of the call's time
                if item.kind is InputKind.HANGUP or s.caller_gone:
                    await self.db(acd.leave, self.call_id, "abandoned")
                    self.leave("abandoned")
                    self.emit_transfer("abandoned")
                    return TransferOutcome.NO_ANSWER
                if item.kind is InputKind.AFFECT and item.level == "escalate":
                    if await self.db(acd.escalate, self.call_id):
                        place = await self.db(acd.place, self.call_id)
                        s.emit(
                            EventType.QUEUE_UPDATE, position=place.position, reason="the caller sounds upset"
                        )
                elif item.kind is InputKind.DTMF and item.digit == CALLBACK_KEY:
                    if await self.to_callback(nobody=False):
                        return TransferOutcome.CALLBACK
                elif item.kind is InputKind.SPEECH and item.text.strip():
                    await self.heard(item.text)
                if s.now_ms - self.joined_ms >= self.rules.max_wait_s * 1000:
                    if not self.offered_callback and await self.to_callback(nobody=False):
                        return TransferOutcome.CALLBACK
                    if s.now_ms - self.joined_ms >= self.rules.max_wait_s * 1000 * 2 or s.caller_gone:
                        await self.db(acd.leave, self.call_id, "timeout")
                        self.leave("timeout")
                        self.emit_transfer("no_answer")
                        await s.stop_hold()
                        return TransferOutcome.NO_ANSWER
                if s.now_ms >= next_update:
                    next_update = s.now_ms + ANNOUNCE_MS
                    await self.announce()
        except _CallerLeft:  # hung up while the store was away
            with contextlib.suppress(SQLAlchemyError):
                await asyncio.to_thread(acd.leave, self.call_id, "abandoned")
            self.leave("abandoned")
            self.emit_transfer("abandoned")
            return TransferOutcome.NO_ANSWER
        except asyncio.CancelledError:
            with contextlib.suppress(SQLAlchemyError):  # the store away: the host's clean-up leaves it
                await asyncio.shield(asyncio.to_thread(acd.leave, self.call_id, "interrupted"))
            raise


async def wait_for_agent(
    session: CallControl, request: TransferRequest, acd: Acd, agent_uri: str, history: History | None = None
) -> TransferOutcome:
    """Queue the caller until an agent answers (CONNECTED), they take a callback (CALLBACK),
    or the wait ends: they hung up, or waited twice `max_wait_s` having declined the callback
    (NO_ANSWER: the dialplan's `unavailable` is said). `history(number, call_id)`: the
    caller's past calls for the briefing."""
    return await _Wait(session, request, acd, agent_uri, history).run()


@dataclass(frozen=True)
class QueueHandoff:
    """The hand-over to the queue (ACD): the caller waits for one of the queue's agents, who is
    rung with a briefing; the queue is in the store, shared by every worker."""

    acd: Acd
    agent_uri: str
    """How an agent is dialled, `{name}` filled in (sip:{name}@the hotline's Kamailio)."""
    history: History | None = None

    async def hand_over(self, call: CallControl, request: TransferRequest) -> TransferOutcome:
        call.needs_agent_line(True)  # the worker keeps a line free for this caller's agent leg
        try:
            return await wait_for_agent(call, request, self.acd, self.agent_uri, self.history)
        finally:
            call.needs_agent_line(False)
