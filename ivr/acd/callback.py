"""Callbacks: a caller who would wait too long (or finds nobody logged in) is offered a call
back, confirms the number (the one they call from, or one they key), hangs up and keeps their
place. When the queue reaches them, a worker with two free lines rings the agent first: the
agent hears the briefing and "calling them now", then the IVR dials the caller, greets them
("this is Acme calling you back") and puts them through.

`offer_callback` runs in the waiting caller's call; `callback_app` is the dialplan-less app of
the outbound call (its first leg is the agent, its second the caller); `CallbackDialer` is the
worker's loop that takes due callbacks from the store.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from ivr.acd import briefing
from ivr.acd.engine import Acd
from ivr.conversation import CallControl, InputKind, TransferOutcome, TransferRequest
from ivr.events import EventType
from ivr.queues import QueueRules

log = logging.getLogger("ivr.callback")

OFFER_MS = 8000
"""How long the caller has to choose after the offer."""
DIGIT_GAP_MS = 5000
MIN_DIGITS, MAX_DIGITS = 6, 15
GREETING = "Hello, this is the call back you asked for. Connecting you to an agent now."
NO_PICKUP = "The customer did not answer. We will try them again later. Thank you."


def callable_number(caller: str) -> str:
    """The digits of a caller's SIP user if it looks like a phone number, else ''."""
    caller = caller.strip()
    if not re.fullmatch(r"\+?[\d\s().-]+", caller):
        return ""  # "anonymous", "sipp", a name: the caller keys a number
    digits = re.sub(r"\D", "", caller)
    return ("+" if caller.startswith("+") else "") + digits if MIN_DIGITS <= len(digits) <= MAX_DIGITS else ""


def spoken_tail(number: str) -> str:
    return " ".join(number[-4:])


async def _key_number(session: CallControl, first: str = "") -> str:
    """Digits keyed until # (or a pause): the number to call back."""
    digits = first
    while len(digits) < MAX_DIGITS:
        item = await session.wait_input(DIGIT_GAP_MS)
        if item.kind is InputKind.DTMF:
            if item.digit == "#":
                break
            if item.digit.isdigit():
                digits += item.digit
            continue
        if item.kind in (InputKind.NO_INPUT, InputKind.HANGUP):
            break
    return digits


async def offer_callback(session: CallControl, nobody: bool) -> str:
    """Offer a callback; the number the caller chose, or '' (they keep waiting)."""
    number = callable_number(session.caller)
    lead = "None of our agents is signed in right now." if nobody else "Sorry to keep you waiting."
    if number:
        prompt = (
            f"{lead} We can call you back and keep your place in the queue. Press 1 to be called"
            f" back on the number ending {spoken_tail(number)}, or 2 to key in another number. To"
            " keep waiting, just stay on the line."
        )
    else:
        prompt = (
            f"{lead} We can call you back and keep your place in the queue. Key in your phone"
            " number and then the hash key. To keep waiting, just stay on the line."
        )
    await session.stop_hold()
    await session.say(prompt)
    chosen = ""
    while True:
        item = await session.wait_input(OFFER_MS)
        if item.kind is InputKind.DTMF:
            if number and item.digit == "1":
                chosen = number
            elif number and item.digit == "2":
                await session.say("Please key in the number, then the hash key.")
                chosen = await _key_number(session)
            elif item.digit.isdigit():
                chosen = await _key_number(session, item.digit)
            break
        if item.kind in (InputKind.NO_INPUT, InputKind.HANGUP, InputKind.SPEECH):
            break  # silence or words: they wait on (what they said is answered by the wait)
    if chosen and not MIN_DIGITS <= len(chosen.lstrip("+")) <= MAX_DIGITS:
        await session.say("Sorry, that doesn't look like a phone number. You keep your place in the queue.")
        return ""
    return chosen


def callback_request(entry: dict[str, Any], rules: QueueRules) -> TransferRequest:
    ctx = entry.get("context") or {}
    return TransferRequest(
        entry["queue"], str(ctx.get("tier") or "L2"), f"callback for call {entry['call_id']}", int(entry["priority"]),
        "", ctx, rules, whisper=GREETING,
    )  # fmt: skip


async def callback_app(
    session: CallControl, entry: dict[str, Any], agent: str, acd: Acd, caller_uri: str, rules: QueueRules,
    retry_s: float, history: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """The outbound call of a callback: the agent's phone is this call's first leg. Whatever
    happens (the speech service away, the worker stopping), the callback is settled in the
    store: done, or queued again for its next try."""
    settled = {"done": False}

    async def settle(outcome: str) -> str:
        settled["done"] = True
        return await asyncio.to_thread(acd.callback_done, entry["call_id"], agent, outcome, retry_s)

    try:
        await _callback(session, entry, agent, caller_uri, rules, history, settle, acd)
    finally:
        if not settled["done"]:
            await asyncio.shield(
                asyncio.to_thread(acd.callback_done, entry["call_id"], agent, "interrupted", retry_s)
            )


async def _callback(
    session: CallControl, entry: dict[str, Any], agent: str, caller_uri: str, rules: QueueRules,
    history: dict[str, Any] | None, settle: Callable[[str], Awaitable[str]], acd: Acd,
) -> None:  # fmt: skip
    call_id = entry["call_id"]
    request = callback_request(entry, rules)
    ring_timeout_s = rules.ring_timeout_s

    def transfer(**extra: Any) -> None:
        session.emit(
            EventType.TRANSFER, queue=entry["queue"], reason=request.reason, tier=request.tier, **extra
        )

    transfer(priority=int(entry["priority"]))
    session.emit(EventType.AGENT_OFFER, agent=agent)
    if not await session.wait_answered(ring_timeout_s):
        state = await settle("agent_missed")
        session.emit(EventType.AGENT_OFFER, agent=agent, outcome="no_answer")
        transfer(outcome="no_answer")
        log.info("callback %s: agent %s did not answer (%s)", call_id, agent, state)
        await session.hangup("the agent did not answer the callback")
        return
    session.agent = agent  # from here the agent's wrap-up follows the call's end
    await asyncio.to_thread(acd.agent_on_call, agent, call_id)
    phrases = briefing.parts(entry.get("context") or {}, history)
    waited = int(entry.get("waited_s") or 0) // 60
    phrases.insert(1, f"call back after {waited} minutes" if waited >= 1 else "call back")
    rate = session.sample_rate
    text, _ = await briefing.fit(phrases, session.synthesize, rate)
    await session.say(text + " Calling them now.", interruptible=False)
    await session.wait_playback()
    outcome = await session.bridge_to(caller_uri, request, ring_timeout_s)
    if outcome is TransferOutcome.CONNECTED:
        await settle("answered")
        transfer(outcome="bridged")
        while (await session.wait_input(60000)).kind is not InputKind.HANGUP:
            pass  # agent and caller talk; the call is recorded and transcribed until one hangs up
        return
    state = await settle("no_answer")
    transfer(outcome="no_answer")
    await session.say(
        NO_PICKUP if state == "callback" else "The customer did not answer. That was the last try. Thank you."
    )
    await session.hangup(f"the caller did not answer the callback ({state})")


class CallbackDialer:
    """A worker's loop that takes due callbacks while it has two lines free (agent + caller).
    A tick a second reads the store (a plain read: no lock when nothing is due)."""

    def __init__(
        self, acd: Any, room: Callable[[], int], start: Callable[[dict[str, Any], Any], None]
    ) -> None:
        self.acd, self.room, self.start = acd, room, start
        self.stopped = asyncio.Event()

    async def run(self, every_s: float = 1.0) -> None:
        while not self.stopped.is_set():
            try:
                await asyncio.wait_for(self.stopped.wait(), every_s)
                return
            except TimeoutError:
                pass
            if self.room() < 2:
                continue
            try:
                got = await asyncio.to_thread(self.acd.claim_callback)
            except Exception as e:  # the store is away: the next tick tries again
                log.warning("callbacks: %s", e)
                continue
            if got is not None:
                entry, agent = got
                log.info("callback %s to %s: ringing agent %s", entry["call_id"], entry["number"], agent.name)
                self.start(entry, agent)
