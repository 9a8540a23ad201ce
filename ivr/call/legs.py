"""A call's other legs: the agent's phone bridged in (with a whisper only the agent hears), a
blind REFER, the hand to the console; once bridged, the agent's side transcribed too and a
supervisor's phone able to join. Owned by the CallSession, which exposes these steps through
the call-control interface (`ivr.conversation.CallControl`) that the hand-overs use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ivr.call.agent_side import FarSide
from ivr.call.agent_transfer import TransferWatch
from ivr.call.hold import hold_loop
from ivr.call.monitor import MonitorWatch
from ivr.conversation import TransferOutcome, TransferRequest, Whisper
from ivr.events import EventType
from ivr.transport import MonitorTransport, ReleasingTransport
from speech.service.replies import SpeechUnavailable

if TYPE_CHECKING:
    from ivr.call.session import CallSession


class Legs:
    def __init__(self, session: CallSession, on_left: Callable[[], None]) -> None:
        """`on_left`: the caller has left the IVR (handed over for good)."""
        self.s = session
        self._on_left = on_left
        self.bridged = False
        """The caller talks to an agent: the IVR records and transcribes, and no longer answers."""
        self._far: FarSide | None = None
        self._monitor: MonitorWatch | None = None
        self._transfers: TransferWatch | None = None

    def _why(self) -> dict[str, str]:
        reason = self.s.transport.bridge_reason
        return {"reason": reason} if reason else {}

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        self.s.emit(EventType.BRIDGE, uri=uri, state="dialing", mode="refer")
        outcome = await self.s.on_call(self.s.transport.refer(uri, timeout_s))
        self.s.emit(EventType.BRIDGE, uri=uri, state=str(outcome), mode="refer", **self._why())
        if outcome is TransferOutcome.CONNECTED:
            self._on_left()
        return outcome

    async def hand_to_console(self, queue: str) -> None:
        await self.s.on_call(self.s.transport.transfer(queue))
        self._on_left()

    async def bridge_to(
        self, uri: str, request: TransferRequest, ring_timeout_s: float, whisper_pcm: Whisper | None = None
    ) -> TransferOutcome:
        """Dial `uri`, whisper the hand-over to the agent only (`whisper_pcm`, or the request's
        whisper synthesised), then connect the caller."""
        s, transport = self.s, self.s.transport
        whisper: Whisper = whisper_pcm if whisper_pcm is not None else b""
        if whisper_pcm is None and request.whisper:
            try:
                whisper = await s.track(s.synthesize(request.whisper))
            except SpeechUnavailable:  # the agent is connected without the spoken summary
                s.emit(EventType.ERROR, message="no whisper: the speech service is away", stage="tts")
        s.emit(EventType.BRIDGE, uri=uri, state="dialing")
        outcome = await s.on_call(transport.bridge(uri, whisper, request, ring_timeout_s))
        answered = transport.agent_answered_ms
        connected = outcome is TransferOutcome.CONNECTED
        when = {"answered_ms": answered} if connected and answered is not None else {}
        s.emit(EventType.BRIDGE, uri=uri, state=str(outcome), **self._why(), **when)
        if connected:
            self._connected()
        return outcome

    def _connected(self) -> None:
        """The caller talks to the agent: both sides are transcribed, a supervisor may join."""
        s, transport = self.s, self.s.transport
        self.bridged = True
        if self._far is None and transport.agent_leg:
            self._far = FarSide(s, "caller" if s.main_speaker != "caller" else "agent")
            transport.on_agent_audio = self._far.feed
            transport.agent_hold_music = str(hold_loop(None, s.settings.data_dir, transport.sample_rate)[0])
            transport.on_agent_hold = self._agent_hold
            transport.on_agent_dtmf = self._agent_dtmf
        desk = s.services.desk
        if isinstance(transport, MonitorTransport) and desk is not None and self._monitor is None:
            self._monitor = MonitorWatch(s, desk, s.services.agent_uri)
        handed = s.services.transfers
        if isinstance(transport, ReleasingTransport) and handed is not None and self._transfers is None:
            self._transfers = TransferWatch(s, handed, self)

    def release_agent(self) -> None:
        """The agent hands the caller on: their leg ends; the IVR has the caller again."""
        transport = self.s.transport
        if isinstance(transport, ReleasingTransport):
            transport.release_agent()
        self.bridged = False

    def _agent_hold(self, held: bool) -> None:
        """The agent's phone holds the caller (they hear the music) or takes them back."""
        self.s.emit(EventType.HOLD, state="start" if held else "stop", by="agent")

    def _agent_dtmf(self, digit: str) -> None:
        self.s.emit(EventType.DTMF, digit=digit, by="agent")

    async def close(self) -> None:
        if self._far is not None:
            await self._far.close()
        if self._monitor is not None:
            await self._monitor.close()
        if self._transfers is not None:
            await self._transfers.close()
