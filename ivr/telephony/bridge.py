"""The agent's leg of a SIP call (a part of `SipCallTransport`): the caller hears ringback
while the agent's phone rings and while the agent hears the whisper (played into the agent
leg only); then the endpoint cross-connects the two legs. A blind REFER reports here too."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum

import numpy as np

from ivr.conversation import TransferOutcome, TransferRequest, Whisper
from ivr.telephony.commands import ConnectAgent, DialAgent, HangupAgent, Refer, ReleaseAgent, Send
from ivr.telephony.handoff import agent_headers
from speech.audio import FRAME_MS


class BridgeState(StrEnum):
    IDLE = ""
    DIALING = "dialing"
    """The agent's phone rings, or the agent hears the whisper (a REFER: the target rings)."""
    CONNECTED = "connected"
    OVER = "over"
    """The last attempt failed (busy, no answer, the agent hung up during the briefing)."""


WHISPER_MAX_S = 8.0
"""The ring's bound is stretched by this while the whisper is still being made (a briefing
is at most 5 s of speech)."""


def _outcome_of_status(status: int) -> TransferOutcome:
    if status in (486, 600, 603):
        return TransferOutcome.BUSY
    if status in (408, 480, 487):
        return TransferOutcome.NO_ANSWER
    return TransferOutcome.FAILED


def ringback(sample_rate: int) -> bytes:
    """One 3 s cadence of UK ringback (400 + 450 Hz; 0.4 s on, 0.2 off, 0.4 on, 2 s off)."""
    t = np.arange(int(0.4 * sample_rate)) / sample_rate
    burst = 0.08 * (np.sin(2 * np.pi * 400 * t) + np.sin(2 * np.pi * 450 * t))
    gap = np.zeros(int(0.2 * sample_rate))
    tail = np.zeros(int(2.0 * sample_rate))
    cycle = np.concatenate([burst, gap, burst, tail])
    return (np.clip(cycle, -1, 1) * 32767).astype("<i2").tobytes()


class AgentBridge:
    # the call's media, kept by SipCallTransport
    call_id: str
    sample_rate: int
    transferred_to: str | None
    _loop: asyncio.AbstractEventLoop
    _command: Send
    _frame_bytes: int
    _silence: bytes
    _out: deque[bytes]
    _out_lock: threading.Lock
    _frames_in: int
    _ended: bool

    def _init_bridge(self, sample_rate: int) -> None:
        self.bridge_state = BridgeState.IDLE
        self._bridge_seq = 0  # each transfer's agent leg has a number: a late word of an old one is ignored
        self._leg_closed = asyncio.Event()  # no agent leg of this call is being dialled or ringing
        self._leg_closed.set()
        self.agent_leg = True
        self.on_agent_audio: Callable[[bytes], None] | None = None
        """Given the agent's audio (20 ms frames, on the event loop) once the caller is put through."""
        self.agent_hold_music = ""
        self.on_agent_hold: Callable[[bool], None] | None = None
        self.on_agent_dtmf: Callable[[str], None] | None = None
        self._agent_rx: deque[bytes] = deque()
        self._agent_rx_scheduled = False
        self.bridge_reason = ""
        self.agent_answered_ms: int | None = None
        """The call's time at which the last agent leg answered (the briefing starts)."""
        self._connect_pending = (
            False  # the agent is briefed; the caller is put through once the IVR is silent
        )
        self._bridge_result: asyncio.Future[TransferOutcome] | None = None
        self._ring = ringback(sample_rate)
        self._ring_pos = -1  # >= 0: the caller hears ringback when nothing else plays
        self._agent_out: deque[bytes] = deque()  # the whisper, to the agent leg only
        self._whisper_pending = False  # the whisper is still being made (the phone rings meanwhile)
        self._agent_in: deque[bytes] = deque(maxlen=50)  # what the agent says, for the recording

    def _ringback_frame(self) -> bytes:
        n = self._frame_bytes
        pos = self._ring_pos
        self._ring_pos = (pos + n) % (len(self._ring) - len(self._ring) % n)
        return self._ring[pos : pos + n]

    def agent_frame_in(self, pcm: bytes) -> None:
        self._agent_in.append(pcm)
        if self.on_agent_audio is not None and self.bridge_state is BridgeState.CONNECTED:
            self._agent_rx.append(pcm)
            if not self._agent_rx_scheduled:
                self._agent_rx_scheduled = True
                self._loop.call_soon_threadsafe(self._drain_agent_rx)

    def agent_frame_out(self) -> bytes:
        try:
            chunk = self._agent_out.popleft()
        except IndexError:
            return self._silence
        if not self._agent_out:  # the whisper has been heard: connect the caller
            self._loop.call_soon_threadsafe(self._whisper_done)
        return chunk

    def release_agent(self) -> None:
        """The agent hands the caller on: their leg ends, the caller is the IVR's again."""
        if self.bridge_state is BridgeState.CONNECTED:
            self.bridge_state = BridgeState.IDLE
            self._command(ReleaseAgent())

    def agent_dtmf(self, digit: str) -> None:
        """The agent keyed `digit` (sent on to the caller) (SIP thread)."""
        if self.on_agent_dtmf is not None:
            self._loop.call_soon_threadsafe(self.on_agent_dtmf, digit)

    def agent_held(self, held: bool) -> None:
        """The agent's phone put the caller on hold (True) or took them back (SIP thread)."""
        if self.on_agent_hold is not None:
            self._loop.call_soon_threadsafe(self.on_agent_hold, held)

    def refer_done(self, status: int, reason: str) -> None:
        outcome = TransferOutcome.CONNECTED if 200 <= status < 300 else _outcome_of_status(status)
        self._loop.call_soon_threadsafe(self._bridge_done, outcome, f"{status} {reason}".strip())

    def agent_answered(self, seq: int = 0) -> None:
        self._loop.call_soon_threadsafe(self._on_agent_answered, seq)

    def agent_failed(self, status: int, reason: str, seq: int = 0) -> None:
        """The agent leg `seq` ended before it was connected (SIP final status)."""
        self._loop.call_soon_threadsafe(self._on_agent_failed, status, reason, seq)

    def _on_agent_failed(self, status: int, reason: str, seq: int) -> None:
        if seq != self._bridge_seq:
            return  # an earlier agent's leg, cancelled before this one was dialled
        self._leg_closed.set()
        if 200 <= status < 300:  # it answered, then hung up before the caller was put through
            self._bridge_done(TransferOutcome.FAILED, "the agent hung up during the briefing")
        else:
            self._bridge_done(_outcome_of_status(status), f"{status} {reason}")

    def _drain_agent_rx(self) -> None:
        self._agent_rx_scheduled = False
        while self._agent_rx:
            pcm = self._agent_rx.popleft()
            if self.on_agent_audio is not None:
                self.on_agent_audio(pcm)

    def _on_agent_answered(self, seq: int = 0) -> None:
        if (
            seq != self._bridge_seq or self.bridge_state is not BridgeState.DIALING
        ):  # answered after we gave up on it
            self._command(HangupAgent())
            return
        self.agent_answered_ms = self._frames_in * FRAME_MS
        if not self._agent_out and not self._whisper_pending:
            self._whisper_done()

    def _whisper_done(self) -> None:
        if self.bridge_state is BridgeState.DIALING:
            if self._out:  # the caller still hears the IVR (the hand-over phrase): put through after it
                self._connect_pending = True
                return
            self._connect_pending = False
            self._command(ConnectAgent())
            self._bridge_done(TransferOutcome.CONNECTED, "")

    def _bridge_done(self, outcome: TransferOutcome, reason: str) -> None:
        if self.bridge_state is not BridgeState.DIALING:
            return
        self.bridge_state = (
            BridgeState.CONNECTED if outcome is TransferOutcome.CONNECTED else BridgeState.OVER
        )
        self.bridge_reason = reason
        with self._out_lock:  # the clock thread advances the ringback under this lock
            self._ring_pos = -1
        self._agent_out.clear()
        if self._bridge_result is not None and not self._bridge_result.done():
            self._bridge_result.set_result(outcome)

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        """Blind transfer: REFER the caller's phone to `uri`; CONNECTED once it reports that the
        target answered (the IVR then hangs up its side)."""
        if self._ended:
            return TransferOutcome.FAILED
        self.transferred_to = uri
        self.bridge_state = BridgeState.DIALING
        self._bridge_result = self._loop.create_future()
        self._command(Refer(uri))
        try:
            return await asyncio.wait_for(asyncio.shield(self._bridge_result), timeout_s)
        except TimeoutError:
            self._bridge_done(TransferOutcome.NO_ANSWER, f"no result in {timeout_s} s")
            return TransferOutcome.NO_ANSWER

    def _queue_whisper(self, whisper: bytes) -> None:
        n = self._frame_bytes
        if whisper:  # a little lead-in so the agent's first syllable is not clipped
            whisper = bytes(n * 15) + whisper
            whisper += bytes(-len(whisper) % n)
            self._agent_out.extend(whisper[i : i + n] for i in range(0, len(whisper), n))

    def _whisper_ready(self, made: asyncio.Future[bytes], seq: int) -> None:
        if seq != self._bridge_seq or self.bridge_state is not BridgeState.DIALING:
            return  # that attempt is over
        self._whisper_pending = False
        ok = not made.cancelled() and made.exception() is None
        self._queue_whisper(made.result() if ok else b"")
        if self.agent_answered_ms is not None and not self._agent_out:  # answered, nothing to say
            self._whisper_done()

    async def bridge(
        self, uri: str, whisper: Whisper, request: TransferRequest, ring_timeout_s: float
    ) -> TransferOutcome:
        headers = agent_headers(self.call_id, request)
        if self._ended:
            return TransferOutcome.FAILED
        try:  # the last agent's leg (one that rang out) is gone before the next is dialled
            await asyncio.wait_for(self._leg_closed.wait(), 10)
        except TimeoutError:
            pass
        self._bridge_seq += 1
        self.agent_answered_ms = None
        self._whisper_pending = False
        self._connect_pending = False
        self._leg_closed.clear()
        self.transferred_to = uri
        self.bridge_state = BridgeState.DIALING
        self._bridge_result = self._loop.create_future()
        seq = self._bridge_seq
        if isinstance(whisper, bytes):
            self._queue_whisper(whisper)
            whisper_s = len(whisper) / (2 * self.sample_rate)
        else:  # still being made: the phone rings meanwhile; the whisper plays once it is ready
            self._whisper_pending = True
            whisper.add_done_callback(lambda f: self._whisper_ready(f, seq))
            whisper_s = WHISPER_MAX_S
        with self._out_lock:
            self._ring_pos = 0
        self._command(DialAgent(uri, headers, self._bridge_seq))
        whisper_s += len(self._out) * FRAME_MS / 1000
        try:
            return await asyncio.wait_for(asyncio.shield(self._bridge_result), ring_timeout_s + whisper_s)
        except TimeoutError:
            self._bridge_done(TransferOutcome.NO_ANSWER, f"no answer in {ring_timeout_s} s")
            self._command(HangupAgent())
            return TransferOutcome.NO_ANSWER
