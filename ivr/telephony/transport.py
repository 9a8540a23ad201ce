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

from ivr.conversation import TransferOutcome
from ivr.telephony.bridge import AgentBridge, BridgeState
from ivr.telephony.commands import Hangup, Send, SpeakOnHold, StartHold, StopHold
from ivr.telephony.supervisor_leg import SupervisorLeg
from ivr.transport import CallInput, DtmfDigit, Tick
from speech.audio import FRAME_MS, AudioFrame

HOLD_TICK_S = 1.0
"""How often the call's clock moves on while the caller is on hold and unheard (a wait's
second-long steps need no finer one)."""


class SipCallTransport(AgentBridge, SupervisorLeg):
    """A SIP call: its media (frames, playback, hold, recording) here; the agent's leg
    (`AgentBridge`) and a supervisor's (`SupervisorLeg`) in their own modules."""

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
        self.called = ""
        """The number (or SIP user) the caller dialled: the INVITE's request URI's user (as
        E.164 when the numbers file lists it)."""
        self.dialplan = ""
        """The dialplan the number called runs ("": the default)."""
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
        self.lines_free: Callable[[], int] | None = None
        """Lines the worker has free (set by the worker): an agent leg needs one."""
        self.needs_line = False
        """The caller waits for an agent: the worker keeps a line for the agent leg."""
        self._answered = asyncio.Event()  # media is up (an outbound call: the far end answered)
        self._gone = asyncio.Event()  # the call is over
        self._init_bridge(sample_rate)
        self._init_monitor()
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

    # -- the event loop side -------------------------------------------------------------

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
        if (
            t_ms >= self._max_call_ms and self.bridge_state is not BridgeState.CONNECTED
        ):  # agents are not cut off
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
        if (
            self._agent_in and self.bridge_state is BridgeState.CONNECTED
        ):  # the agent, as the caller hears them
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
        if self._sent or (self._agent_in and self.bridge_state is BridgeState.CONNECTED) or self._wav is None:
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

    async def hangup(self) -> None:
        self._command(Hangup())
        self._on_end("ivr hung up")
