"""A SIP call as a transport: the same protocol the replay implements.

Frames arrive from pjmedia's clock thread and are handed to the event loop; what the IVR
says is queued here and taken 20 ms at a time by that thread. The caller's audio, what
they heard, and the events are recorded as the call goes.

A bridge to an agent's phone: the caller hears ringback while the agent's phone rings and
while the agent hears the whisper (played into the agent leg only); then the endpoint
cross-connects the two legs. The recording goes on: the caller on the left, what the
caller heard (the IVR, then the agent) on the right.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from ivr.conversation import TransferOutcome, TransferRequest
from ivr.telephony.commands import (
    ConnectAgent,
    DialAgent,
    DialMonitor,
    Hangup,
    HangupAgent,
    HangupMonitor,
    Refer,
    Send,
    SetMonitorMode,
    SpeakOnHold,
    StartHold,
    StopHold,
)
from ivr.telephony.handoff import agent_headers
from ivr.transport import CallInput, DtmfDigit, Tick
from speech.audio import FRAME_MS, AudioFrame

HOLD_TICK_S = 1.0
"""How often the call's clock moves on while the caller is on hold and unheard (a wait's
second-long steps need no finer one)."""


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


class SipCallTransport:
    def __init__(
        self,
        call_id: str,
        caller: str,
        sample_rate: int,
        loop: asyncio.AbstractEventLoop,
        command: Send,
        recording: Path | None = None,
        max_call_ms: int = 1_800_000,
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.sample_rate = sample_rate
        self._loop = loop
        self._command = command  # runs an operation on the call in the SIP thread
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        self._silence = bytes(self._frame_bytes)
        self._inbox: asyncio.Queue[CallInput | None] = asyncio.Queue()
        self._out: deque[bytes] = deque()
        self._out_lock = threading.Lock()
        self._sent: deque[bytes] = deque(maxlen=500)  # what the caller heard, for the recording
        self._idle = asyncio.Event()
        self._idle.set()
        self._frames_in = 0
        self._ended = False
        self._held = False
        self._max_call_ms = max_call_ms
        self._recording = recording
        self._wav: sf.SoundFile | None = None
        self._wav_buffer: list[np.ndarray] = []  # stereo frames not yet written (~1 s at most)
        self._rx: deque[bytes] = deque()  # caller frames from the clock thread, not yet taken
        self._rx_scheduled = False
        self.transferred_to: str | None = None
        self.end_reason = ""
        # the bridge to an agent: "" -> dialing -> connected | over
        self.bridge_state = ""
        self._bridge_seq = 0  # each transfer's agent leg has a number: a late word of an old one is ignored
        self._leg_closed = asyncio.Event()  # no agent leg of this call is being dialled or ringing
        self._leg_closed.set()
        self.lines_free: Callable[[], int] | None = None
        """Lines the worker has free (set by the worker): an agent leg needs one."""
        self.needs_line = False
        """The caller waits for an agent: the worker keeps a line for the agent leg."""
        self._answered = asyncio.Event()  # media is up (an outbound call: the far end answered)
        self._gone = asyncio.Event()  # the call is over
        self.agent_leg = True
        self.on_agent_audio: Callable[[bytes], None] | None = None
        """Given the agent's audio (20 ms frames, on the event loop) once the caller is put through."""
        self._agent_rx: deque[bytes] = deque()
        self._agent_rx_scheduled = False
        self.bridge_reason = ""
        self.agent_answered_ms: int | None = None
        self._connect_pending = (
            False  # the agent is briefed; the caller is put through once the IVR is silent
        )
        """The call's time at which the last agent leg answered (the briefing starts)."""
        self._bridge_result: asyncio.Future[TransferOutcome] | None = None
        self.monitor_state = ""  # a supervisor's leg: "" | dialing | active | ended
        self.monitor_reason = ""
        self.on_monitor: Callable[[str, str], None] | None = None
        """Told (on the event loop) when the supervisor's leg answers or ends."""
        self._ring = ringback(sample_rate)
        self._ring_pos = -1  # >= 0: the caller hears ringback when nothing else plays
        self._agent_out: deque[bytes] = deque()  # the whisper, to the agent leg only
        self._agent_in: deque[bytes] = deque(maxlen=50)  # what the agent says, for the recording
        # on hold: pjmedia plays the music and the caller's frames stop until they speak;
        # the call's clock goes on from the wall clock (Tick inputs, silence in the recording)
        self._holding = False
        self._hold_listening = False
        self._hold_speaking = False  # the IVR's own output is connected over the music
        self._hold_ticker: asyncio.Task[None] | None = None

    # -- called from pjmedia's clock thread: copy and return ------------------------------
    def media_frame_in(self, pcm: bytes) -> None:
        # one wake-up of the event loop per batch of frames, not per frame: a busy loop
        # takes every frame that arrived meanwhile in one go (the flag is cleared before the
        # drain, so a frame appended during it is either drained or schedules another)
        self._rx.append(pcm)
        if not self._rx_scheduled:
            self._rx_scheduled = True
            self._loop.call_soon_threadsafe(self._drain_rx)

    def media_frame_out(self) -> bytes:
        with self._out_lock:
            if not self._out or self._held:
                chunk = self._ringback_frame() if self._ring_pos >= 0 and not self._out else self._silence
                self._sent.append(chunk)
                return chunk
            chunk = self._out.popleft()
            drained = not self._out
        self._sent.append(chunk)
        if drained:
            self._loop.call_soon_threadsafe(self._idle.set)
            if self._connect_pending:
                self._loop.call_soon_threadsafe(self._whisper_done)
        return chunk

    def _ringback_frame(self) -> bytes:
        n = self._frame_bytes
        pos = self._ring_pos
        self._ring_pos = (pos + n) % (len(self._ring) - len(self._ring) % n)
        return self._ring[pos : pos + n]

    def agent_frame_in(self, pcm: bytes) -> None:
        self._agent_in.append(pcm)
        if self.on_agent_audio is not None and self.bridge_state == "connected":
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

    # -- called from the SIP thread ------------------------------------------------------
    def media_started(self) -> None:
        """The call's audio is connected (frames start arriving)."""
        self._loop.call_soon_threadsafe(self._answered.set)

    async def wait_answered(self, timeout_s: float) -> bool:
        """An outbound call (a callback's first leg): True once the far end answered; False if
        it did not in `timeout_s` (the call is then hung up) or the call ended."""
        ended = asyncio.ensure_future(self._gone.wait())
        answered = asyncio.ensure_future(self._answered.wait())
        done, pending = await asyncio.wait(
            {ended, answered}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        for t in pending:
            t.cancel()
        if self._answered.is_set() and not self._ended:
            return True
        if not self._ended:
            self._command(Hangup())
        return False

    def sip_dtmf(self, digit: str) -> None:
        self._loop.call_soon_threadsafe(self._on_dtmf, digit)

    def sip_disconnected(self, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._on_end, reason)

    def hold_voice(self) -> None:
        """On hold, the caller's line got loud: their frames flow again (the AI listens)."""
        self._loop.call_soon_threadsafe(self._on_hold_voice)

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

    # -- the event loop side -------------------------------------------------------------
    def _drain_agent_rx(self) -> None:
        self._agent_rx_scheduled = False
        while self._agent_rx:
            pcm = self._agent_rx.popleft()
            if self.on_agent_audio is not None:
                self.on_agent_audio(pcm)

    def _drain_rx(self) -> None:
        self._rx_scheduled = False
        while self._rx:
            self._on_frame(self._rx.popleft())

    def _on_frame(self, pcm: bytes) -> None:
        if self._ended:
            return
        t_ms = self._frames_in * FRAME_MS
        self._frames_in += 1
        if len(pcm) != self._frame_bytes:
            pcm = (pcm + self._silence)[: self._frame_bytes]
        self._record(pcm)
        self._inbox.put_nowait(AudioFrame(pcm, self.sample_rate, t_ms))
        if t_ms >= self._max_call_ms and self.bridge_state != "connected":  # agents are not cut off
            self.end_reason = "max call length"
            self._command(Hangup())
            self._on_end("max call length")

    def _on_hold_voice(self) -> None:
        if self._holding:
            self._hold_listening = True

    async def _tick_on_hold(self) -> None:
        """While no frames come, the call's audio clock follows the wall clock (2 ticks a
        second): timeouts run, and the recording keeps its length."""
        loop = self._loop
        start, frames0 = loop.time(), self._frames_in
        while self._holding and not self._ended:
            await asyncio.sleep(HOLD_TICK_S)
            if self._hold_listening:  # frames carry the clock again
                start, frames0 = loop.time(), self._frames_in
                continue
            due = frames0 + int((loop.time() - start) * 1000) // FRAME_MS
            if due > self._frames_in:
                self._record_unheard(due - self._frames_in)
                self._frames_in = due
                self._inbox.put_nowait(Tick(self._frames_in * FRAME_MS))

    def _on_dtmf(self, digit: str) -> None:
        if not self._ended:
            try:
                self._inbox.put_nowait(DtmfDigit(digit, self._frames_in * FRAME_MS))
            except ValueError:
                pass  # not a key we know: ignore, keep the call

    def _on_end(self, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self._gone.set()
            self.end_reason = self.end_reason or reason
            self._inbox.put_nowait(None)
            self._idle.set()
            self._bridge_done(TransferOutcome.FAILED, "the caller hung up")

    def _on_agent_answered(self, seq: int = 0) -> None:
        if seq != self._bridge_seq or self.bridge_state != "dialing":  # answered after we gave up on it
            self._command(HangupAgent())
            return
        self.agent_answered_ms = self._frames_in * FRAME_MS
        if not self._agent_out:
            self._whisper_done()

    def _whisper_done(self) -> None:
        if self.bridge_state == "dialing":
            if self._out:  # the caller still hears the IVR (the hand-over phrase): put through after it
                self._connect_pending = True
                return
            self._connect_pending = False
            self._command(ConnectAgent())
            self._bridge_done(TransferOutcome.CONNECTED, "")

    def _bridge_done(self, outcome: TransferOutcome, reason: str) -> None:
        if self.bridge_state != "dialing":
            return
        self.bridge_state = "connected" if outcome is TransferOutcome.CONNECTED else "over"
        self.bridge_reason = reason
        with self._out_lock:  # the clock thread advances the ringback under this lock
            self._ring_pos = -1
        self._agent_out.clear()
        if self._bridge_result is not None and not self._bridge_result.done():
            self._bridge_result.set_result(outcome)

    def _record(self, caller_pcm: bytes, heard: bytes | None = None) -> None:
        if self._recording is None:
            return
        if self._wav is None:
            self._recording.parent.mkdir(parents=True, exist_ok=True)
            self._wav = sf.SoundFile(str(self._recording), "w", self.sample_rate, 2, "PCM_16", format="WAV")
        if heard is None:
            heard = self._sent.popleft() if self._sent else self._silence
        left = np.frombuffer(caller_pcm, dtype="<i2")
        right = np.frombuffer(heard, dtype="<i2")[: len(left)]
        if self._agent_in and self.bridge_state == "connected":  # the agent, as the caller hears them
            agent = np.frombuffer(self._agent_in.popleft(), dtype="<i2")[: len(left)]
            if len(agent) == len(right):
                right = np.clip(right.astype(np.int32) + agent, -32768, 32767).astype("<i2")
        stereo = np.empty((len(left), 2), dtype="<i2")
        stereo[:, 0] = left
        stereo[: len(right), 1] = right
        stereo[len(right) :, 1] = 0
        self._wav_buffer.append(stereo)
        if len(self._wav_buffer) >= 50:  # one write a second, not one per 20 ms frame
            self._flush_recording()

    def _record_unheard(self, frames: int) -> None:
        """`frames` of the caller unheard (on hold): silence on their side, and what they heard
        of ours (an announcement), or silence, in one block when nothing of ours is pending."""
        if self._recording is None:
            return
        if self._sent or (self._agent_in and self.bridge_state == "connected") or self._wav is None:
            for _ in range(frames):
                self._record(self._silence)
            return
        self._wav_buffer.append(np.zeros((frames * (len(self._silence) // 2), 2), dtype="<i2"))
        if len(self._wav_buffer) >= 50:
            self._flush_recording()

    def _flush_recording(self) -> None:
        if self._wav is not None and self._wav_buffer:
            self._wav.write(np.concatenate(self._wav_buffer))
        self._wav_buffer.clear()

    def close_recording(self) -> None:
        if self._wav is not None:
            self._flush_recording()
            self._wav.close()
            self._wav = None

    # -- the transport protocol ----------------------------------------------------------
    async def inputs(self) -> AsyncIterator[CallInput]:
        while True:
            item = await self._inbox.get()
            if item is None:
                return
            yield item

    def play(self, pcm: bytes) -> None:
        if not pcm or self._ended:
            return
        if self._holding and not self._hold_speaking:  # an announcement over the hold music
            self._hold_speaking = True
            self._command(SpeakOnHold())
        n = self._frame_bytes
        chunks = [pcm[i : i + n] for i in range(0, len(pcm), n)]
        if len(chunks[-1]) < n:
            chunks[-1] = chunks[-1] + self._silence[: n - len(chunks[-1])]
        with self._out_lock:
            self._out.extend(chunks)
        self._idle.clear()

    def stop_playback(self) -> None:
        with self._out_lock:
            self._out.clear()
            self._held = False
        self._idle.set()

    def hold_playback(self, held: bool) -> None:
        with self._out_lock:
            self._held = held

    def start_hold(self, path: str, loop_pcm: bytes) -> None:
        if self._ended or self._holding:
            return
        self._holding, self._hold_listening, self._hold_speaking = True, False, False
        self._command(StartHold(path))
        self._hold_ticker = asyncio.ensure_future(self._tick_on_hold())

    def stop_hold(self) -> None:
        if not self._holding:
            return
        self._holding = False
        if self._hold_ticker is not None:
            self._hold_ticker.cancel()
        self._command(StopHold())

    @property
    def is_playing(self) -> bool:
        return bool(self._out)

    async def wait_playback(self) -> None:
        await self._idle.wait()

    async def transfer(self, target: str) -> None:
        """To a human queue with no phone of its own: the agent console takes it from here
        (agent issue); until then the IVR's side of the call ends."""
        self.transferred_to = target
        self._command(Hangup())
        self._on_end(f"transferred to {target}")

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        """Blind transfer: REFER the caller's phone to `uri`; CONNECTED once it reports that the
        target answered (the IVR then hangs up its side)."""
        if self._ended:
            return TransferOutcome.FAILED
        self.transferred_to = uri
        self.bridge_state = "dialing"
        self._bridge_result = self._loop.create_future()
        self._command(Refer(uri))
        try:
            return await asyncio.wait_for(asyncio.shield(self._bridge_result), timeout_s)
        except TimeoutError:
            self._bridge_done(TransferOutcome.NO_ANSWER, f"no result in {timeout_s} s")
            return TransferOutcome.NO_ANSWER

    async def bridge(
        self, uri: str, whisper: bytes, request: TransferRequest, ring_timeout_s: float
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
        self._connect_pending = False
        self._leg_closed.clear()
        self.transferred_to = uri
        self.bridge_state = "dialing"
        self._bridge_result = self._loop.create_future()
        n = self._frame_bytes
        if whisper:  # a little lead-in so the agent's first syllable is not clipped
            whisper = bytes(n * 15) + whisper
            whisper += bytes(-len(whisper) % n)
            self._agent_out.extend(whisper[i : i + n] for i in range(0, len(whisper), n))
        with self._out_lock:
            self._ring_pos = 0
        self._command(DialAgent(uri, headers, self._bridge_seq))
        whisper_s = len(whisper) / (2 * self.sample_rate) + len(self._out) * FRAME_MS / 1000
        try:
            return await asyncio.wait_for(asyncio.shield(self._bridge_result), ring_timeout_s + whisper_s)
        except TimeoutError:
            self._bridge_done(TransferOutcome.NO_ANSWER, f"no answer in {ring_timeout_s} s")
            self._command(HangupAgent())
            return TransferOutcome.NO_ANSWER

    async def hangup(self) -> None:
        self._command(Hangup())
        self._on_end("ivr hung up")

    # -- a supervisor listening in (ivr.call.monitor drives these) ----------------------
    def monitor_dial(self, uri: str, mode: str, own_is_agent: bool = False) -> int:
        """Dial a supervisor's phone into the bridge; returns the leg's number. `own_is_agent`:
        this call's own leg is the agent (a callback dials the agent first)."""
        self._monitor_seq = getattr(self, "_monitor_seq", 0) + 1
        self.monitor_state = "dialing"
        self._command(DialMonitor(uri, mode, self._monitor_seq, own_is_agent))
        return self._monitor_seq

    def monitor_mode(self, mode: str) -> None:
        self._command(SetMonitorMode(mode))

    def monitor_hangup(self) -> None:
        self._command(HangupMonitor())

    def monitor_answered(self, seq: int) -> None:  # SIP thread
        self._loop.call_soon_threadsafe(self._monitor_word, seq, "active", "")

    def monitor_ended(self, status: int, reason: str, seq: int) -> None:  # SIP thread
        self._loop.call_soon_threadsafe(self._monitor_word, seq, "ended", f"{status} {reason}".strip())

    def _monitor_word(self, seq: int, state: str, reason: str) -> None:
        if seq == getattr(self, "_monitor_seq", 0):
            self.monitor_state, self.monitor_reason = state, reason
            if self.on_monitor is not None:
                self.on_monitor(state, reason)
