"""What the caller hears of the IVR's own voice: prompts synthesised (cached, or sentence by
sentence while the first plays), a prompt file, the apology when the speech service is away,
and the prompt's sequence number that barge-in bumps. Part of the call session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.call.pipeline import UNAVAILABLE_WAIT_S
from ivr.call.services import APOLOGY
from ivr.events import Event, EventType
from ivr.transport import Transport
from speech.audio import AudioError, decode_file, resample, to_pcm16
from speech.service.pool import Speech
from speech.service.replies import SpeechUnavailable
from speech.tts import trim_tail_pcm

MAX_RESPONSE_MS = 10000  # an answer later than this was no answer to the caller's words (a re-prompt)


class Prompting:
    transport: Transport
    speech: Speech
    legs: Any
    now_ms: int
    on_response_ms: Callable[[int], None] | None
    _speech_ended_ms: int | None
    _apologised_outage: int
    _ended: bool
    _prompt_seq: int
    _prompt_text: str
    _interruptible: bool
    _held: bool

    if TYPE_CHECKING:  # the session's own (a stub here would shadow them)

        def emit(self, kind: EventType, **data: Any) -> Event: ...

        async def track(self, awaitable: Any) -> Any: ...

    async def say(self, text: str, prompt: str = "", interruptible: bool = True, lead: str = "") -> None:
        """Synthesise `text` (cached) and queue it to the caller; returns once queued. An
        uncached text opening with a cached `lead` starts with the lead at once."""
        text = " ".join(text.split())
        if not text:
            return
        self.emit(EventType.SAY, text=text, **({"prompt": prompt} if prompt else {}))
        rate = self.transport.sample_rate
        speech = self.speech
        seq = self._start_prompt(text, interruptible)
        cached = speech.cached(text, rate)
        if cached is not None:
            self._play(cached)
            return
        head = speech.cached(lead, rate) if lead and text.startswith(lead + " ") else None
        if head is not None:
            self._play(trim_tail_pcm(head, rate))
            text = text[len(lead) :].strip()
            rest = speech.cached(text, rate)  # the same answer again (another caller, a repeat)
            if rest is not None:
                self._play(rest)
                return
        # sentence by sentence: the first sentence plays while the next is synthesised
        while True:
            try:
                await self.track(self._stream_prompt(text, rate, seq))
                return
            except SpeechUnavailable:
                self.apologise()
                if not await self.track(speech.wait_available(UNAVAILABLE_WAIT_S)) or self._ended:
                    self.emit(EventType.ERROR, message="the speech service did not come back", stage="tts")
                    return
                if self._prompt_seq != seq:
                    return  # interrupted meanwhile
                seq = self._start_prompt(text, interruptible)

    async def _stream_prompt(self, text: str, rate: int, seq: int) -> None:
        chunks = self.speech.synthesize_stream(text, rate)
        try:
            async for pcm in chunks:
                if self._prompt_seq != seq:  # interrupted: stop synthesising the rest
                    break
                self._play(pcm)
        finally:
            await chunks.aclose()

    def _play(self, pcm: bytes) -> None:
        if self._speech_ended_ms is not None and pcm:
            waited = self.now_ms - self._speech_ended_ms
            self._speech_ended_ms = None
            if self.on_response_ms is not None and 0 <= waited < MAX_RESPONSE_MS:
                self.on_response_ms(waited)
        self.transport.play(pcm)

    def apologise(self) -> None:
        """The speech service is away: tell the caller once per outage (a pinned prompt,
        played without the service); the call goes on when it is back."""
        outage = self.speech.outages
        if self._apologised_outage == outage or self._ended:
            return
        self._apologised_outage = outage
        pcm = self.speech.cached(APOLOGY, self.transport.sample_rate)
        self.emit(EventType.SAY, text=APOLOGY, prompt="service_apology")
        if pcm is not None and not self.legs.bridged:
            self._start_prompt(APOLOGY, True)
            self.transport.play(pcm)

    async def play_file(self, path: str, interruptible: bool = True) -> None:
        self.emit(EventType.SAY, text=f"[{Path(path).name}]", prompt="play")
        try:
            samples, rate = decode_file(path)
        except AudioError as e:  # a broken prompt file loses the prompt, not the call
            self.emit(EventType.ERROR, message=str(e), stage="play")
            return
        self._start_prompt(f"[{Path(path).name}]", interruptible)
        self.transport.play(to_pcm16(resample(samples, rate, self.transport.sample_rate)))

    def _start_prompt(self, text: str, interruptible: bool) -> int:
        self._prompt_seq += 1
        self._prompt_text = text
        self._interruptible = interruptible
        return self._prompt_seq

    def _stop_prompt(self) -> None:
        self.transport.stop_playback()
        self._held = False
        self._prompt_seq += 1
