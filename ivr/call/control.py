"""The call-control interface a session gives the hand-overs (`ivr.conversation.CallControl`)
and the dialplan's blocking and backend work (`compute`, `http`): thin steps over the call's
transport, speech client and record, apart from the session's media loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ivr.conversation import TransferOutcome, TransferRequest, Whisper
from ivr.privacy.redact import Redactor
from ivr.transport import Transport
from speech.service.pool import Speech

T = TypeVar("T")

if TYPE_CHECKING:
    from ivr.call.legs import Legs
    from ivr.call.pipeline import SpeechPipeline
    from ivr.events import Event


class CallControls:
    transport: Transport
    speech: Speech
    legs: Legs
    pipeline: SpeechPipeline
    _ended: bool
    _sink: Callable[[Event], None]
    _http: Any
    _work: set[asyncio.Future[Any]]
    _parked: int  # the application waits on the caller (input, playback): a replay's frame may come

    @property
    def sample_rate(self) -> int:
        return self.transport.sample_rate

    @property
    def caller_gone(self) -> bool:
        return self._ended

    @property
    def line_noisy(self) -> bool:
        return self.pipeline.line_noisy

    def expect(self, kind: str, words: Sequence[str] = ()) -> None:
        self.pipeline.expecting.kind = kind
        self.pipeline.expecting.words = tuple(words)

    @property
    def bridge_reason(self) -> str:
        return self.transport.bridge_reason

    def lines_free(self) -> int | None:
        room = self.transport.lines_free
        return room() if room is not None else None

    def needs_agent_line(self, on: bool) -> None:
        self.transport.needs_line = on

    async def synthesize(self, text: str) -> bytes:
        return await self.speech.synthesize(text, self.transport.sample_rate)

    async def on_call(self, awaitable: Awaitable[T]) -> T:
        """Await what the call itself brings (a prompt played out, a phone answering): a
        replay's next frame may come meanwhile (its settle does not wait for this)."""
        self._parked += 1
        try:
            return await awaitable
        finally:
            self._parked -= 1

    async def wait_playback(self) -> None:
        await self.on_call(self.transport.wait_playback())

    async def wait_answered(self, timeout_s: float) -> bool:
        return await self.on_call(self.transport.wait_answered(timeout_s))

    async def bridge_to(
        self, uri: str, request: TransferRequest, ring_timeout_s: float, whisper_pcm: Whisper | None = None
    ) -> TransferOutcome:
        """Dial `uri`, whisper the hand-over to the agent only, then connect the caller."""
        return await self.legs.bridge_to(uri, request, ring_timeout_s, whisper_pcm)

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        return await self.legs.refer(uri, timeout_s)

    async def hand_to_console(self, queue: str) -> None:
        await self.legs.hand_to_console(queue)

    def _left(self) -> None:
        """The caller was handed over for good: the IVR is out of the call."""
        self._ended = True

    def masked(self, value: Any) -> Any:
        """`value` with the call's card numbers masked (by the call's record when it has one)."""
        mask = getattr(self._sink, "mask", None)
        if mask is not None:
            return mask(value)

        return Redactor().mask(value)

    def set_secure(self, on: bool) -> None:
        secure = getattr(self._sink, "set_secure", None)  # a CallRecord masks what it keeps
        if secure is not None:
            secure(on)

    async def compute(self, fn: Callable[[], Any]) -> Any:
        return await self.track(asyncio.to_thread(fn))

    async def http(self, method: str, url: str, timeout_ms: int, **kwargs: Any) -> Any:
        if self._http is None:
            raise RuntimeError("no HTTP client configured for this call")
        return await self.track(self._http.request(method, url, timeout=timeout_ms / 1000, **kwargs))

    async def track(self, awaitable: Awaitable[Any]) -> Any:
        """Await model or network work so that a deterministic replay waits for it too."""
        fut = asyncio.ensure_future(awaitable)
        self._work.add(fut)
        try:
            return await fut
        finally:
            self._work.discard(fut)
