"""A call handed to a human: to the queue (the ACD rings an agent while the caller waits), by a
SIP transfer or REFER, or bridged to an agent's phone with a whisper of the hand-over that only
the agent hears; once bridged, both sides are transcribed and a supervisor may listen in.
These are steps of the CallSession, kept apart from its media loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.conversation import TransferOutcome, TransferRequest
from ivr.events import EventType
from speech.service.client import SpeechUnavailable

if TYPE_CHECKING:
    from ivr.call.session import CallSession


async def transfer(session: CallSession, request: TransferRequest) -> TransferOutcome:
    session.transfer_request = request
    if not request.uri and session.services.acd is not None:
        # the queue starts at once: an agent free now rings while the caller still hears
        # the hand-over phrase (they are put through once it has been heard)
        from ivr.acd.waiting import wait_for_agent

        session.transport.needs_line = True  # the worker keeps a line free for this caller's agent leg
        try:
            return await wait_for_agent(
                session, request, session.services.acd, session.services.agent_uri, session.services.history
            )
        finally:
            session.transport.needs_line = False
    await session.transport.wait_playback()  # the caller hears the hand-over prompt
    if not request.uri:
        await session.transport.transfer(request.queue)
        session._ended = True
        return TransferOutcome.CONNECTED
    if request.mode == "refer":
        session.emit(EventType.BRIDGE, uri=request.uri, state="dialing", mode="refer")
        outcome = await session.transport.refer(request.uri, request.ring_timeout_s)
        session.emit(EventType.BRIDGE, uri=request.uri, state=str(outcome), mode="refer", **session._why())
        if outcome is TransferOutcome.CONNECTED:
            session._ended = True
        return outcome
    return await session.bridge_to(request.uri, request, request.ring_timeout_s)


async def bridge_to(
    session: CallSession,
    uri: str,
    request: TransferRequest,
    ring_timeout_s: int | float,
    whisper_pcm: bytes | None = None,
) -> TransferOutcome:
    """Dial `uri`, whisper the hand-over to the agent only (`whisper_pcm`, or the request's
    whisper synthesised), then connect the caller."""
    rate = session.transport.sample_rate
    whisper = whisper_pcm or b""
    if whisper_pcm is None and request.whisper:
        try:
            whisper = await session.track(session.speech.synthesize(request.whisper, rate))
        except SpeechUnavailable:  # the agent is connected without the spoken summary
            session.emit(EventType.ERROR, message="no whisper: the speech service is away", stage="tts")
    session.emit(EventType.BRIDGE, uri=uri, state="dialing")
    from ivr.dialplan.handover import agent_headers

    outcome = await session.transport.bridge(
        uri, whisper, agent_headers(session.call_id, request), int(ring_timeout_s)
    )
    answered = getattr(session.transport, "agent_answered_ms", None)
    when = {"answered_ms": answered} if outcome is TransferOutcome.CONNECTED and answered is not None else {}
    session.emit(EventType.BRIDGE, uri=uri, state=str(outcome), **session._why(), **when)
    if outcome is TransferOutcome.CONNECTED:
        session._bridged = True  # the caller talks to the agent; we record and transcribe both
        if hasattr(session.transport, "on_agent_audio") and session._far is None:
            from ivr.call.agent_side import FarSide

            session._far = FarSide(session, "caller" if session.main_speaker != "caller" else "agent")
            session.transport.on_agent_audio = session._far.feed
        acd = getattr(session.services, "acd", None)
        if hasattr(session.transport, "monitor_dial") and acd is not None and session._monitor is None:
            from ivr.call.monitor import MonitorWatch
            from ivr.store.console import ConsoleRecords

            session._monitor = MonitorWatch(session, ConsoleRecords(acd.engine), session.services.agent_uri)
    return outcome
