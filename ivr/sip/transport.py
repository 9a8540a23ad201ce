"""A SIP call as a transport: the same protocol the replay implements.

Frames arrive from pjmedia's clock thread and are handed to the event loop; what the IVR
says is queued here and taken 20 ms at a time by that thread. The caller's audio, what
they heard, and the events are recorded as the call goes.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ivr.transport import CallInput, DtmfDigit
from speech.audio import FRAME_MS, AudioFrame


class SipCallTransport:
    def __init__(
        self,
        call_id: str,
        caller: str,
        sample_rate: int,
        loop: asyncio.AbstractEventLoop,
        command: Callable[[str, Any], None],
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
        self.transferred_to: str | None = None
        self.end_reason = ""

    # -- called from pjmedia's clock thread: copy and return ------------------------------
    def media_frame_in(self, pcm: bytes) -> None:
        self._loop.call_soon_threadsafe(self._on_frame, pcm)

    def media_frame_out(self) -> bytes:
        with self._out_lock:
            if not self._out or self._held:
                self._sent.append(self._silence)
                return self._silence
            chunk = self._out.popleft()
            drained = not self._out
        self._sent.append(chunk)
        if drained:
            self._loop.call_soon_threadsafe(self._idle.set)
        return chunk

    # -- called from the SIP thread ------------------------------------------------------
    def media_started(self) -> None:
        """The call's audio is connected (frames start arriving)."""

    def sip_dtmf(self, digit: str) -> None:
        self._loop.call_soon_threadsafe(self._on_dtmf, digit)

    def sip_disconnected(self, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._on_end, reason)

    # -- the event loop side -------------------------------------------------------------
    def _on_frame(self, pcm: bytes) -> None:
        if self._ended:
            return
        t_ms = self._frames_in * FRAME_MS
        self._frames_in += 1
        if len(pcm) != self._frame_bytes:
            pcm = (pcm + self._silence)[: self._frame_bytes]
        self._record(pcm)
        self._inbox.put_nowait(AudioFrame(pcm, self.sample_rate, t_ms))
        if t_ms >= self._max_call_ms:
            self.end_reason = "max call length"
            self._command("hangup", None)
            self._on_end("max call length")

    def _on_dtmf(self, digit: str) -> None:
        if not self._ended:
            try:
                self._inbox.put_nowait(DtmfDigit(digit, self._frames_in * FRAME_MS))
            except ValueError:
                pass  # not a key we know: ignore, keep the call

    def _on_end(self, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self.end_reason = self.end_reason or reason
            self._inbox.put_nowait(None)
            self._idle.set()

    def _record(self, caller_pcm: bytes) -> None:
        if self._recording is None:
            return
        if self._wav is None:
            self._recording.parent.mkdir(parents=True, exist_ok=True)
            self._wav = sf.SoundFile(str(self._recording), "w", self.sample_rate, 2, "PCM_16", format="WAV")
        heard = self._sent.popleft() if self._sent else self._silence
        left = np.frombuffer(caller_pcm, dtype="<i2")
        right = np.frombuffer(heard, dtype="<i2")[: len(left)]
        self._wav.write(np.stack([left, right], axis=1))

    def close_recording(self) -> None:
        if self._wav is not None:
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

    @property
    def is_playing(self) -> bool:
        return bool(self._out)

    async def wait_playback(self) -> None:
        await self._idle.wait()

    async def transfer(self, target: str) -> None:
        self.transferred_to = target
        if target.startswith(("sip:", "sips:", "tel:")):
            self._command("xfer", target)
        else:  # a human queue: the agent console takes it from here (agent issue)
            self._command("hangup", None)
        self._on_end(f"transferred to {target}")

    async def hangup(self) -> None:
        self._command("hangup", None)
        self._on_end("ivr hung up")
