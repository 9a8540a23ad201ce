"""One call: a transport, the speech pipeline, and the application that talks to the caller.

The session feeds the caller's audio to the pipeline, turns DTMF into events, speaks
prompts through TTS, and stops a prompt when the caller starts speaking (barge-in: the
VAD only confirms speech after `min_speech_ms`, so a cough does not stop it).
The application (a greeting now, the dialplan runner later) is a coroutine that reads
caller inputs with `next_input()` and answers with `say()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ivr.engines import Engines
from ivr.events import Event, EventType, make
from ivr.pipeline import SpeechPipeline
from ivr.settings import Settings
from ivr.transport import DtmfDigit, Transport
from speech.audio import AudioFrame, to_pcm16
from speech.pool import Priority

App = Callable[["CallSession"], Awaitable[None]]


class CallSession:
    def __init__(
        self,
        transport: Transport,
        engines: Engines,
        settings: Settings,
        emit: Callable[[Event], None],
        app: App | None = None,
        deterministic: bool = False,
        source: str = "",
    ) -> None:
        self.transport = transport
        self.call_id = transport.call_id
        self.settings = settings
        self.engines = engines
        self._sink = emit
        self._app = app if app is not None else greeting_app
        self._deterministic = deterministic
        self._source = source
        self._inbox: asyncio.Queue[Event] = asyncio.Queue()
        self._work: set[asyncio.Future[Any]] = set()
        self._prompt_seq = 0  # bumped by each prompt and by barge-in
        self._prompt_text = ""
        self.events: list[Event] = []
        self.now_ms = 0
        self.pipeline = SpeechPipeline(
            self.call_id,
            transport.sample_rate,
            engines,
            self._on_event,
            vad=settings.vad,
            partial_interval_ms=settings.asr.partial_interval_ms,
            speculate_after_ms=settings.asr.speculate_after_ms,
            deterministic=deterministic,
        )

    # -- what an application uses -------------------------------------------------
    def emit(self, kind: EventType, **data: Any) -> Event:
        event = make(self.call_id, self.now_ms, kind, **data)
        self._on_event(event)
        return event

    async def say(self, text: str, prompt: str = "") -> None:
        """Synthesise `text` (cached) and queue it to the caller; returns once queued."""
        self.emit(EventType.SAY, text=text, **({"prompt": prompt} if prompt else {}))
        rate = self.transport.sample_rate
        tts = self.engines.tts
        cached = tts.cached(" ".join(text.split()), rate)
        self._prompt_seq += 1
        seq = self._prompt_seq
        self._prompt_text = text
        if cached is not None:
            self.transport.play(to_pcm16(cached))
            return
        # sentence by sentence: the first sentence plays while the next is synthesised
        chunks = tts.stream(text, rate)
        while True:
            audio = await self.track(self.engines.pool.run(lambda: next(chunks, None), Priority.PROMPT))
            if audio is None or self._prompt_seq != seq:  # ended, or interrupted
                break
            self.transport.play(to_pcm16(audio))

    async def next_input(self) -> Event:
        """The next final transcript or DTMF digit from the caller."""
        return await self._inbox.get()

    async def track(self, awaitable: Awaitable[Any]) -> Any:
        """Await model or network work so that a deterministic replay waits for it too."""
        fut = asyncio.ensure_future(awaitable)
        self._work.add(fut)
        try:
            return await fut
        finally:
            self._work.discard(fut)

    # -- the call loop --------------------------------------------------------------
    async def run(self) -> list[Event]:
        self.emit(
            EventType.CALL_START,
            sample_rate=self.transport.sample_rate,
            **({"caller": self.transport.caller} if self.transport.caller else {}),
            **({"source": self._source} if self._source else {}),
        )
        app_task = asyncio.ensure_future(self._app(self))
        app_task.add_done_callback(self._app_done)
        await self._settle()
        async for item in self.transport.inputs():
            if isinstance(item, AudioFrame):
                self.now_ms = item.t_ms
                await self.pipeline.process(item)
                self.now_ms = item.t_ms + item.duration_ms
            elif isinstance(item, DtmfDigit):
                self.now_ms = max(self.now_ms, item.t_ms)
                if self.transport.is_playing:  # a key press interrupts a prompt too
                    self.transport.stop_playback()
                    self._prompt_seq += 1
                self._inbox.put_nowait(self.emit(EventType.DTMF, digit=item.digit))
            if self._deterministic:
                await self._settle()
        await self.pipeline.finish()
        await self._settle()
        if not app_task.done():
            app_task.cancel()
            await asyncio.gather(app_task, return_exceptions=True)
        self.emit(EventType.CALL_END, duration_ms=self.now_ms)
        return self.events

    def _app_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.emit(EventType.ERROR, message=str(task.exception()), stage="app")

    async def _settle(self) -> None:
        """Let the application and model jobs run until all wait on caller input."""
        while True:
            await self.pipeline.settle()
            for _ in range(5):  # let woken coroutines reach their next await
                await asyncio.sleep(0)
            pending = [f for f in self._work if not f.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        if event.type is EventType.SPEECH_START and self.transport.is_playing:
            self.transport.stop_playback()
            self._prompt_seq += 1
            self._on_event(make(self.call_id, event.t_ms, EventType.BARGE_IN, prompt=self._prompt_text))
        if event.type is EventType.FINAL_TRANSCRIPT:
            self._inbox.put_nowait(event)
        self._sink(event)


async def greeting_app(session: CallSession) -> None:
    """With no dialplan: greet the caller, then listen."""
    if session.settings.greeting:
        await session.say(session.settings.greeting, prompt="greeting")
