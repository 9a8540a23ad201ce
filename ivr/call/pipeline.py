"""The speech pipeline of one call: frames in, speech and transcript events out.

VAD cuts utterances; while one grows, it is re-decoded every `partial_interval_ms` of
audio for a partial transcript (LocalAgreement commits the stable words); at its end
only the tail is left to decode for the final transcript.

The decodes are the speech service's (`speech/service/`): the pipeline sends the
utterance's audio with a priority and a key (a newer partial supersedes a queued older one;
a speculative final the caller talked over is dropped). When the service is away, a final
waits for it to come back (the session apologises to the caller meanwhile) and is then
decoded: the caller's words are not lost.

`deterministic=True` (replay's default) waits for each model job before the next frame,
so a recorded call gives the same events on every run and machine; live calls never wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ivr.call.affect import AffectJudge
from ivr.call.expecting import Expecting
from ivr.call.services import CallServices
from ivr.events import Event, EventType, make
from ivr.nlu.intents import plain
from speech.asr import AsrSettings
from speech.audio import AudioFrame
from speech.heard import Heard, HearingSettings, noise_reason
from speech.service.replies import SpeechUnavailable, Superseded
from speech.service.scheduler import Priority
from speech.text import looks_complete, looks_unfinished
from speech.utterance import UtteranceTranscriber
from speech.vad import Segmenter, SegmentEvent, SegmentKind, VadSettings

SPECULATION_PAD_MS = 200
"""Silence added after the audio of a speculative final (taken 80 ms into the pause)."""
NOISY_SNR_DB = 15.0
"""A caller this close to the line's noise floor is on a noisy line."""
UNAVAILABLE_WAIT_S = 120.0
"""How long a final transcript waits for a restarting speech service before it is given up."""


class SpeechPipeline:
    def __init__(
        self,
        call_id: str,
        sample_rate: int,
        services: CallServices,
        emit: Callable[[Event], None],
        vad: VadSettings | None = None,
        asr: AsrSettings | None = None,
        deterministic: bool = False,
        radar: object | None = None,
        on_unavailable: Callable[[], None] | None = None,
        hearing: HearingSettings | None = None,
    ) -> None:
        self._hearing = hearing or HearingSettings()
        self.call_id = call_id
        self.affect = AffectJudge(radar, services, call_id, sample_rate, emit, self._error)
        self.sample_rate = sample_rate
        self._services = services
        self._speech = services.speech
        self._emit = emit
        self._segmenter = Segmenter(sample_rate, vad)
        self._asr = asr or AsrSettings()
        self._partial_interval_ms = self._asr.partial_interval_ms
        self._speculate_after_ms = self._asr.speculate_after_ms
        self._on_unavailable = on_unavailable
        self.expecting = Expecting()
        """What the caller is about to say (hints, the step's words, digits), for the recogniser."""
        # (utterance, voiced_ms when taken, the decode): the final, decoded during the
        # end-of-speech silence; still valid at speech_end if no voice came after it
        self._speculation: tuple[int, int, asyncio.Future[Heard]] | None = None
        self._deterministic = deterministic
        self._utterance = 0
        self._transcriber: UtteranceTranscriber | None = None
        self._since_partial_ms = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._segmenter_voiced_at_end = 0
        self.now_ms = 0
        self.ignored = 0
        """Utterances whose words were judged noise or someone else's."""
        self.complete_hint: Callable[[str], bool] | None = None
        """Set while the IVR waits for an answer it can recognise as whole (six digits)."""

    @property
    def in_speech(self) -> bool:
        return self._segmenter.in_speech

    @property
    def pending_voice_ms(self) -> int:
        return self._segmenter.pending_voice_ms

    @property
    def barge_voice_ms(self) -> int:
        return self._segmenter.barge_voice_ms

    @property
    def line_noisy(self) -> bool:
        """Utterances judged noise twice or more, or the line's floor within 15 dB of the
        caller's level (of nominal telephone speech, -23 dBFS, until they are heard)."""
        seg = self._segmenter
        return (
            self.ignored >= 2
            or seg.snr_db < NOISY_SNR_DB
            or seg.line_db > self._hearing.nominal_db - NOISY_SNR_DB
        )

    async def process(self, frame: AudioFrame) -> None:
        self.now_ms = frame.t_ms + frame.duration_ms
        self._segmenter_voiced_at_end = self._segmenter.voiced_ms
        for event in self._segmenter.process(frame):
            await self._on_segment(event)
        seg = self._segmenter
        spec = self._speculation
        if spec is not None and seg.in_speech and seg.trailing_silence_ms == 0 and spec[1] != seg.voiced_ms:
            # the caller spoke on: a speculation still queued is of no use, and under load it
            # would take a core from another caller's final
            self._speech.drop(self._spec_key(spec[0]))
            self._speculation = None
        if seg.in_speech and 0 < self._speculate_after_ms <= seg.trailing_silence_ms:
            spec = self._speculation
            if spec is None or spec[0] != self._utterance or spec[1] != seg.voiced_ms:
                # padded with silence as the final's audio ends: whisper drops a last word it
                # hears no pause after ("I'd like to check what I [owe]")
                pad = b"\x00\x00" * (self.sample_rate * SPECULATION_PAD_MS // 1000)
                await self._speculate(seg.utterance_audio() + pad, seg.voiced_ms)
            elif self._complete(spec[2]):  # the pause follows a finished sentence: end sooner
                self._segmenter_voiced_at_end = seg.voiced_ms
                end = seg.end_complete()
                if end is not None:
                    await self._on_segment(end)
            elif not seg.held_open and self._unfinished(spec[2]):
                seg.hold_open()  # "I want to complain about my bill, ...": wait for the rest
        if seg.in_speech:
            self._since_partial_ms += frame.duration_ms
            # a partial only while the caller is voicing (in a pause the speculative final
            # is due, and must not queue behind it) and only on an idle model worker: under
            # load partials thin out, finals keep their pace
            if self._since_partial_ms >= self._partial_interval_ms and seg.trailing_silence_ms == 0:
                if self._deterministic or self._speech.idle:
                    self._since_partial_ms = 0
                    await self._schedule(self._partial(self._utterance, self._segmenter.utterance_audio()))
                else:  # the service is busy: a partial would only be dropped; look again in 100 ms
                    self._since_partial_ms = self._partial_interval_ms - 100

    async def finish(self) -> None:
        """The audio ended: close an open utterance and wait for every transcript."""
        self._segmenter_voiced_at_end = self._segmenter.voiced_ms
        for seg in self._segmenter.flush():
            await self._on_segment(seg)
        await self.settle()

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _on_segment(self, seg: SegmentEvent) -> None:
        if seg.kind is SegmentKind.START:
            # digits go on after the gather has its answer ("... two, sorry, I mean ... three")
            self.expecting.utterance_starts(seg.onset_ms)
            self._utterance += 1
            self._transcriber = UtteranceTranscriber(self._asr)
            self._since_partial_ms = 0
            self._emit(make(self.call_id, seg.t_ms, EventType.SPEECH_START, onset_ms=seg.onset_ms))
            return
        self._emit(
            make(
                self.call_id,
                seg.t_ms,
                EventType.SPEECH_END,
                onset_ms=seg.onset_ms,
                duration_ms=seg.duration_ms,
                reason=seg.reason,
            )
        )
        transcriber, utterance = self._transcriber, self._utterance
        self.expecting.utterance_ends(seg.t_ms)
        if transcriber is None:
            await self.affect.judge(seg.audio, seg.t_ms, None)  # no words to come: the voice alone
        voiced_ms = self._segmenter_voiced_at_end
        self._transcriber = None
        self._speech.drop(f"{self.call_id}#{utterance}")
        spec, self._speculation = self._speculation, None
        ready = None
        if spec is not None and spec[0] == utterance and spec[1] == voiced_ms:
            ready = spec[2]  # nothing was said after it was taken: it is the final
        elif spec is not None:
            self._speech.drop(self._spec_key(spec[0]))  # voice came after it: not wanted
        if transcriber is not None:
            await self._schedule(self._final(utterance, transcriber, seg, ready))

    async def _schedule(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._deterministic:
            await task

    def _error(self, error: Exception, stage: str) -> None:
        """A stage failed: say so in the event stream; the call goes on."""
        self._emit(make(self.call_id, self.now_ms, EventType.ERROR, message=str(error), stage=stage))

    async def _speculate(self, pcm: bytes, voiced_ms: int) -> None:
        transcriber = self._transcriber
        if transcriber is None:
            return
        future = asyncio.ensure_future(
            self._decode_final(transcriber, pcm, key=self._spec_key(self._utterance), wait=False)
        )
        future.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        future.add_done_callback(self._understand_ahead)
        self._speculation = (self._utterance, voiced_ms, future)
        if self._deterministic:  # a replay decides the early end on the same frame every run
            await asyncio.gather(future, return_exceptions=True)

    async def _decode_final(
        self, transcriber: UtteranceTranscriber, pcm: bytes, key: str | None = None, wait: bool = True
    ) -> Heard:
        """The utterance's final text. With `wait`, a service that is away is waited for (the
        session apologises to the caller once) and the decode is sent again."""
        pool = self.affect.wants_pooled  # finals bring the radar's encoder cues
        while True:
            try:
                prefix = transcriber.final_prefix
                decoded = await self._speech.transcribe(
                    pcm, self.sample_rate, prefix, Priority.FINAL, key, pool=pool, **self._hints(final=True)
                )
                text = transcriber.take_final(decoded, prefix)
                if text is None:  # the committed words led a loop: decode afresh
                    decoded = await self._speech.transcribe(
                        pcm, self.sample_rate, (), Priority.FINAL, key, pool=pool, **self._hints(final=True)
                    )
                    text = transcriber.take_final(decoded, ()) or ""
                return Heard(
                    text, decoded.avg_logprob, decoded.no_speech_prob, decoded.heard_as, decoded.pooled
                )
            except SpeechUnavailable:
                if not wait:
                    raise
                if self._on_unavailable is not None:
                    self._on_unavailable()
                if not await self._speech.wait_available(UNAVAILABLE_WAIT_S):
                    raise

    def _hints(self, final: bool = False) -> dict[str, Any]:
        return self.expecting.decode_options(final)

    def _spec_key(self, utterance: int) -> str:
        return f"{self.call_id}#{utterance}#speculation"

    def _understand_ahead(self, future: asyncio.Future[Heard]) -> None:
        """Embed the speculative final while the caller's pause runs on: the intent match
        at the end of the turn then finds it in the embedder's cache (~40 ms saved)."""
        embedder = self._services.embedder
        if self.complete_hint is not None:  # a digits or yes/no answer: no intent to match
            return
        if future.cancelled() or future.exception() is not None or not future.result().text:
            return
        text = plain(future.result().text)  # as the intent matcher embeds it: the cache key must match
        job = asyncio.ensure_future(asyncio.to_thread(embedder.embed, [text]))  # not behind decodes
        job.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        if self._deterministic:  # the replay's settle waits for it like any model job
            self._tasks.add(job)
            job.add_done_callback(self._tasks.discard)

    def _complete(self, future: asyncio.Future[Heard]) -> bool:
        """The speculative final is in and reads as a finished sentence or a whole answer."""
        if not future.done() or future.cancelled() or future.exception() is not None:
            return False
        text = future.result().text
        if looks_complete(text):
            return True
        try:
            return self.complete_hint is not None and bool(self.complete_hint(text))
        except Exception:  # a hint is advice: it never costs the call
            return False

    def _unfinished(self, future: asyncio.Future[Heard]) -> bool:
        if not future.done() or future.cancelled() or future.exception() is not None:
            return False
        return looks_unfinished(future.result().text)

    async def _partial(self, utterance: int, pcm: bytes) -> None:
        transcriber = self._transcriber
        if transcriber is None:
            return
        try:
            decoded = await self._speech.transcribe(
                pcm,
                self.sample_rate,
                transcriber.partial_prefix,
                Priority.PARTIAL,
                f"{self.call_id}#{utterance}",
                keep=self._deterministic,
                **self._hints(),
            )
        except (Superseded, SpeechUnavailable):  # the final still comes
            return
        except Exception as e:  # a failed partial loses nothing: the final still comes
            self._error(e, "asr")
            return
        text = transcriber.take_partial(decoded, len(pcm) * 500 // self.sample_rate)
        if utterance != self._utterance or self._transcriber is not transcriber or not text:
            return  # the utterance ended meanwhile: its final transcript supersedes this
        self._emit(
            make(
                self.call_id,
                self.now_ms,
                EventType.PARTIAL_TRANSCRIPT,
                text=text,
                stable=transcriber.committed_text,
            )
        )

    async def _final(
        self,
        utterance: int,
        transcriber: UtteranceTranscriber,
        seg: SegmentEvent,
        ready: asyncio.Future[Heard] | None,
    ) -> None:
        heard = None
        if ready is not None:
            try:
                heard = await ready
            except Exception:  # the speculation was lost (the service went away): decode again
                heard = None
        if heard is None:
            try:
                heard = await self._decode_final(transcriber, seg.audio)
            except Exception as e:
                self._error(e, "asr")
                await self.affect.judge(seg.audio, seg.t_ms, None)  # no words: the voice still counts
                return
        t_ms = seg.t_ms if self._deterministic else self.now_ms
        hints = self.expecting.echo_hints()
        why = noise_reason(heard, seg.voice_prob, seg.level_db, seg.caller_db, self._hearing, hints)
        if why == "loop" and self.expecting.digits_now:
            why = ""  # whisper going round a number said: the gather reads it once (and reads it back)
        if why:  # not the caller's words: in the log, never a turn
            self.ignored += 1
            self._emit(
                make(
                    self.call_id,
                    t_ms,
                    EventType.FINAL_TRANSCRIPT,
                    text="",
                    onset_ms=seg.onset_ms,
                    ignored=why,
                )
            )
            return
        self._segmenter.learn_level(seg)  # the caller's own level: the reference from now on
        await self.affect.judge(
            seg.audio, seg.t_ms, heard.text, heard.pooled
        )  # before the final, as the runner reads them
        self._emit(
            make(
                self.call_id,
                t_ms,
                EventType.FINAL_TRANSCRIPT,
                text=heard.text,
                onset_ms=seg.onset_ms,
                **({"heard_as": heard.heard_as} if heard.heard_as else {}),
            )  # fmt: skip
        )
