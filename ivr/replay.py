"""The replay transport: a recorded call becomes frames on an audio clock.

The IVR's output is captured on the same clock (what it would have said, and when), so
`--out-audio` lines up with the caller's recording. Scripted DTMF digits arrive at their
audio time. By default the replay runs as fast as the machine allows; `realtime=True`
paces frames on the wall clock like a live call.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import numpy as np

from ivr.conversation import TransferOutcome, TransferRequest, Whisper
from ivr.transport import CallInput, DtmfDigit
from speech.audio import FRAME_MS, AudioFrame, call_rate_for, decode_file, resample, write_wav


def parse_dtmf_script(spec: str) -> list[DtmfDigit]:
    """`3.2:1,5.0:#` -> digit 1 at 3.2 s, # at 5.0 s. Raises ValueError naming the bad item."""
    digits: list[DtmfDigit] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        seconds, sep, digit = item.partition(":")
        try:
            if not sep:
                raise ValueError
            t_s = float(seconds)
            if t_s < 0 or not np.isfinite(t_s):
                raise ValueError
        except ValueError:
            raise ValueError(f"--dtmf item {item!r}: expected SECONDS:DIGIT, e.g. 3.2:1") from None
        try:
            digits.append(DtmfDigit(digit.strip(), round(t_s * 1000)))
        except ValueError as e:
            raise ValueError(f"--dtmf item {item!r}: {e}") from None
    return sorted(digits, key=lambda d: d.t_ms)


class ReplayTransport:
    """Implements the transport protocol over samples already decoded from a file."""

    def __init__(
        self,
        call_id: str,
        samples: np.ndarray,
        sample_rate: int,
        dtmf: Sequence[DtmfDigit] = (),
        realtime: bool = False,
        tail_ms: int = 1000,
        max_drain_ms: int = 60000,
        caller: str = "",
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.sample_rate = sample_rate
        self._samples = samples
        self._dtmf = deque(dtmf)
        self._realtime = realtime
        self._tail_ms = tail_ms
        self._max_drain_ms = max_drain_ms
        self._bytes_per_frame = sample_rate * FRAME_MS // 1000 * 2
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._out = bytearray()
        self._idle = asyncio.Event()
        self._idle.set()
        self._hung_up = False
        self._held = False
        self._hold_loop = b""
        self._hold_pos = 0
        self.transferred_to: str | None = None
        self.whisper = b""
        self.duration_ms = 0
        self.needs_line = False
        self.lines_free: Callable[[], int] | None = None  # a recording has no lines to count
        self.bridge_reason = ""
        self.agent_answered_ms: int | None = None
        self.end_reason = ""
        self.agent_leg = False
        self.on_agent_audio: Callable[[bytes], None] | None = None  # no agent leg: never called
        self.agent_hold_music = ""
        self.on_agent_hold: Callable[[bool], None] | None = None
        self.on_agent_dtmf: Callable[[str], None] | None = None

    @classmethod
    def from_file(
        cls, path: str | Path, channel: int = 0, call_id: str | None = None, **kwargs: object
    ) -> ReplayTransport:
        samples, file_rate = decode_file(path, channel)
        rate = call_rate_for(file_rate)
        return cls(call_id or Path(path).name, resample(samples, file_rate, rate), rate, **kwargs)  # type: ignore[arg-type]

    # -- input side ---------------------------------------------------------------
    async def inputs(self) -> AsyncIterator[CallInput]:
        step = self._bytes_per_frame // 2
        pcm = (np.clip(self._samples, -1, 1) * 32767).round().astype("<i2")
        total = len(pcm)
        t0 = time.monotonic()
        i = 0
        silence = bytes(self._bytes_per_frame)
        while not self._hung_up:
            t_ms = i * FRAME_MS
            past_end = i * step >= total
            if past_end:
                over_ms = (i * step - total) * 1000 // self.sample_rate
                done_tail = over_ms >= self._tail_ms
                if done_tail and (not self.is_playing or over_ms >= self._max_drain_ms):
                    break
            while self._dtmf and self._dtmf[0].t_ms <= t_ms:
                yield self._dtmf.popleft()
            if self._realtime:
                delay = t0 + t_ms / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            chunk = pcm[i * step : (i + 1) * step].tobytes()
            if len(chunk) < self._bytes_per_frame:
                chunk = chunk + silence[len(chunk) :]
            self._tick(t_ms)
            yield AudioFrame(chunk, self.sample_rate, t_ms)
            i += 1
        self.duration_ms = i * FRAME_MS
        while self._dtmf:  # digits scripted past the end of the audio still arrive
            yield self._dtmf.popleft()

    # -- output side --------------------------------------------------------------
    def _tick(self, t_ms: int) -> None:
        """One frame of audio time passed: move one frame of queued output onto the wire."""
        n = self._bytes_per_frame
        out = bytearray()
        while self._queue and len(out) < n and not self._held:
            head = self._queue[0]
            take = min(n - len(out), len(head))
            out += head[:take]
            if take == len(head):
                self._queue.popleft()
            else:
                self._queue[0] = head[take:]
            self._queued_bytes -= take
        if not out and self._hold_loop:  # hold music when nothing else plays
            loop = self._hold_loop
            out = bytearray((loop * 2)[self._hold_pos : self._hold_pos + n])
            self._hold_pos = (self._hold_pos + n) % len(loop)
        pos = t_ms * self.sample_rate // 1000 * 2
        if len(self._out) < pos:
            self._out += bytes(pos - len(self._out))
        self._out[pos : pos + len(out)] = out
        if not self._queue:
            self._idle.set()

    def play(self, pcm: bytes) -> None:
        if pcm:
            self._queue.append(pcm)
            self._queued_bytes += len(pcm)
            self._idle.clear()

    def stop_playback(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        self._held = False
        self._idle.set()

    def hold_playback(self, held: bool) -> None:
        self._held = held

    def start_hold(self, path: str, loop_pcm: bytes) -> None:
        self._hold_loop, self._hold_pos = loop_pcm, 0

    def stop_hold(self) -> None:
        self._hold_loop = b""

    @property
    def is_playing(self) -> bool:
        return bool(self._queue)

    async def wait_playback(self) -> None:
        await self._idle.wait()

    async def transfer(self, target: str) -> None:
        self.transferred_to = target
        self._hung_up = True

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        self.transferred_to = uri
        self._hung_up = True
        return TransferOutcome.CONNECTED

    async def bridge(
        self, uri: str, whisper: Whisper, request: TransferRequest, ring_timeout_s: float
    ) -> TransferOutcome:
        """A recording has no agent on the other end: the hand-over is noted and the replay ends
        there, as a transfer does (the SIP tests bridge to a real phone)."""
        self.transferred_to = uri
        self.whisper = whisper if isinstance(whisper, bytes) else await whisper
        self._hung_up = True
        return TransferOutcome.CONNECTED

    async def wait_answered(self, timeout_s: float) -> bool:
        return not self._hung_up  # a recording is answered from its first frame

    async def hangup(self) -> None:
        self._hung_up = True

    def output_samples(self) -> np.ndarray:
        """What the IVR said, on the call's clock, as float samples."""
        end = self.duration_ms * self.sample_rate // 1000 * 2
        out = bytes(self._out[:end]) if end else bytes(self._out)
        if len(out) < end:
            out += bytes(end - len(out))
        return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0

    def write_output(self, path: str | Path) -> None:
        write_wav(path, self.output_samples(), self.sample_rate)
