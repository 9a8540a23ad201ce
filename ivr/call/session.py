"""One call: a transport, the speech pipeline, and the application that talks to the caller.

The session feeds the caller's audio to the pipeline, turns DTMF into events, speaks
prompts through TTS, and stops a prompt when the caller starts speaking (barge-in: the
VAD only confirms speech after `min_speech_ms`, so a cough does not stop it). The
application (a greeting, or the dialplan runner) is a coroutine that uses the
`Conversation` interface: `say()`, `wait_input()`, `transfer()`, `hangup()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ivr.call.control import CallControls
from ivr.call.hold import hold_loop
from ivr.call.legs import Legs
from ivr.call.pipeline import SpeechPipeline
from ivr.call.prompting import Prompting
from ivr.call.services import CallServices
from ivr.conversation import Input, InputKind, TransferOutcome, TransferRequest
from ivr.events import Event, EventType, make
from ivr.settings import Settings
from ivr.transport import DtmfDigit, Tick, Transport
from prosody.radar import Radar
from speech.audio import AudioError, AudioFrame

SETTLE_SPINS = 1000
"""A replay's wait for its application to park on the caller, in turns of the loop (the later
ones 1 ms apart): about a second; past it the call goes on without that wait."""
log = logging.getLogger("ivr.call")
App = Callable[["CallSession"], Awaitable[None]]


class CallSession(Prompting, CallControls):
    def __init__(
        self,
        transport: Transport,
        services: CallServices,
        settings: Settings,
        emit: Callable[[Event], None],
        app: App | None = None,
        deterministic: bool = False,
        source: str = "",
        http: Any = None,
    ) -> None:
        self.transport = transport
        self.call_id = transport.call_id
        self.caller = transport.caller
        self.settings = settings
        self.services = services
        self.speech = services.speech
        self._apologised_outage = -1
        self._sink = emit
        self._app = app if app is not None else greeting_app
        self._deterministic = deterministic
        self._source = source
        self._http = http
        self._inbox: asyncio.Queue[Input] = asyncio.Queue()
        self._work: set[asyncio.Future[Any]] = set()
        self._prompt_seq = 0  # bumped by each prompt and by barge-in
        self._prompt_text = ""
        self._interruptible = True
        self._held = False  # a prompt paused by voice that may be a barge-in
        self._backchannel = False  # the utterance was too short to barge in: not an answer
        self._deadline_ms: int | None = None
        self._waiting = False
        self._parked = 0
        self._park_wait = deterministic  # a replay's settle waits for the application to park
        self._app_task: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._ended = False
        self.transfer_request: TransferRequest | None = None
        self._on_hold = False
        self.legs = Legs(self, self._left)
        """The agent's and a supervisor's legs (bridge, REFER, console)."""
        self.joins_turns = True
        """Speech inputs carry `gap_ms`: a turn cut mid-thought can be joined (the runner)."""
        self.main_speaker = "caller"
        """Who this call's own leg is: "agent" for a callback (the agent is dialled first)."""
        self.agent: str | None = None
        """The agent the queue connected the caller to (their wrap-up starts at the call's end)."""
        self.events: list[Event] = []
        self.now_ms = 0
        self.on_response_ms: Callable[[int], None] | None = None
        """Told, at the first audio of each answer, the audio ms since the caller stopped speaking."""
        self._speech_ended_ms: int | None = None
        self._voice_end: dict[int, int] = {}  # utterance onset -> the end of its voice
        self._turn_end_ms: int | None = None  # the end of the caller's last turn (gap_ms)
        radar = None
        if settings.radar:
            radar = Radar(services.radar_model)
        self.radar = radar
        self.pipeline = SpeechPipeline(
            self.call_id,
            transport.sample_rate,
            services,
            self._on_event,
            vad=settings.vad,
            asr=settings.asr,
            hearing=settings.hearing,
            deterministic=deterministic,
            radar=radar,
            on_unavailable=self.apologise,
        )
        dialplan = getattr(self._app, "dp", None)  # a dialplan's callers' words help the ASR
        self.pipeline.expecting.hints = str(getattr(dialplan, "settings", {}).get("asr_hints") or "")

    # -- the Conversation interface -------------------------------------------------
    def emit(self, kind: EventType, **data: Any) -> Event:
        event = make(self.call_id, self.now_ms, kind, **data)
        self._on_event(event)
        return event

    @property
    def awaiting_input(self) -> bool:
        """The IVR is silent and waiting for the caller (a scripted caller speaks now)."""
        return self._waiting and not self.transport.is_playing

    async def start_hold(self, music: str | None = None) -> None:
        """Hold music once the current prompt has been heard: played by the transport (pjmedia
        on a SIP call, with no per-frame work here until the caller speaks)."""
        await self.on_call(self.transport.wait_playback())
        rate = self.transport.sample_rate
        try:
            path, loop_pcm, name = hold_loop(music, self.settings.data_dir, rate)
        except AudioError as e:  # not audio: the default loop instead, and say why
            self.emit(EventType.ERROR, message=str(e), stage="hold")
            path, loop_pcm, name = hold_loop(None, self.settings.data_dir, rate)
        self.emit(EventType.HOLD, state="start", music=name)
        self._on_hold = True
        self.transport.start_hold(str(path), loop_pcm)

    async def stop_hold(self) -> None:
        if not self._on_hold:
            return
        self._on_hold = False
        self.transport.stop_hold()
        self.emit(EventType.HOLD, state="end")

    async def wait_input(
        self, timeout_ms: int, complete: Callable[[str], bool] | None = None, answer_expected: bool = True
    ) -> Input:
        self._waiting = answer_expected
        self.pipeline.complete_hint = complete
        try:
            while True:
                if not self._inbox.empty():
                    return self._inbox.get_nowait()
                if self._ended:
                    return Input(InputKind.HANGUP)
                if self.transport.is_playing or self.pipeline.in_speech:
                    self._deadline_ms = None  # the clock starts once both are silent
                elif self._deadline_ms is None:
                    self._deadline_ms = self.now_ms + timeout_ms
                elif self.now_ms >= self._deadline_ms:
                    self._deadline_ms = None
                    return Input(InputKind.NO_INPUT)
                self._wake.clear()
                self._parked += 1
                try:
                    await self._wake.wait()
                finally:
                    self._parked -= 1
        finally:
            self._waiting = False
            self._deadline_ms = None
            self.pipeline.complete_hint = None

    def discard_speech(self) -> int:
        """Drop what the caller said that nothing has taken yet (said over the ringback while an
        agent's phone rang: not a question for the queue). Keys, mood and hang-up stay."""
        kept, dropped = [], 0
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item.kind is InputKind.SPEECH:
                dropped += 1
            else:
                kept.append(item)
        for item in kept:
            self._inbox.put_nowait(item)
        return dropped

    def inject(self, item: Input) -> None:
        """An input from elsewhere in the IVR (the emotion radar's escalation)."""
        self._inbox.put_nowait(item)
        self._wake.set()

    async def transfer(self, request: TransferRequest) -> TransferOutcome:
        """Hand the caller to a human: the queue's own phone (bridge or REFER), the queue's
        agents (ACD), or the console, through the process's hand-overs."""
        self.transfer_request = request
        handoff = self.services.handoff_for(request)
        return await handoff.hand_over(self, request)

    async def hangup(self, reason: str) -> None:
        await self.on_call(self.transport.wait_playback())  # let the goodbye be heard
        self.emit(EventType.HANGUP, reason=reason)
        await self.on_call(self.transport.hangup())
        self._ended = True

    # -- the call loop --------------------------------------------------------------
    async def run(self) -> list[Event]:
        self.emit(
            EventType.CALL_START,
            sample_rate=self.transport.sample_rate,
            **({"caller": self.caller} if self.caller else {}),
            **({"source": self._source} if self._source else {}),
        )
        app_task = self._app_task = asyncio.ensure_future(self._app(self))
        app_task.add_done_callback(self._app_done)
        await self._settle()
        async for item in self.transport.inputs():
            if isinstance(item, AudioFrame):
                self.now_ms = item.t_ms + item.duration_ms  # what the IVR has heard up to
                await self.pipeline.process(item)
                self._barge_in_check()
            elif isinstance(item, Tick):  # on hold: time passes without frames
                self.now_ms = max(self.now_ms, item.t_ms)
            elif isinstance(item, DtmfDigit):
                self.now_ms = max(self.now_ms, item.t_ms)
                if self.transport.is_playing and self._interruptible:  # a key stops a prompt
                    self._stop_prompt()
                self.emit(EventType.DTMF, digit=item.digit)
                self._inbox.put_nowait(Input(InputKind.DTMF, digit=item.digit))
            self._wake.set()
            if self._deterministic:
                await self._settle()
        await self.pipeline.finish()
        self._ended = True
        self._wake.set()
        await self._settle()
        await self.legs.close()
        if not app_task.done():
            app_task.cancel()
            await asyncio.gather(app_task, return_exceptions=True)
        reason = getattr(self.transport, "end_reason", "")
        self.emit(EventType.CALL_END, duration_ms=self.now_ms, **({"reason": reason} if reason else {}))
        return self.events

    def _barge_in_check(self) -> None:
        """Hold a prompt from the first voiced frame; interrupt it after `barge_in_ms` of voice;
        resume it when the sound stops sooner (a cough, an "mhm")."""
        voice_ms = self.pipeline.pending_voice_ms
        loud_ms = self.pipeline.barge_voice_ms  # chatter that is the line's noise never counts
        if self._held:
            if loud_ms >= self.settings.barge_in_ms:
                prompt = self._prompt_text
                self._stop_prompt()
                self._on_event(make(self.call_id, self.now_ms, EventType.BARGE_IN, prompt=prompt))
            elif voice_ms == 0:  # an onset that never became speech (a click, a cough)
                self._held = False
                self.transport.hold_playback(False)
        elif loud_ms > 0 and self.transport.is_playing and self._interruptible:
            self._held = True
            self.transport.hold_playback(True)

    def _app_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.emit(EventType.ERROR, message=str(task.exception()), stage="app")
        if not self._ended and not task.cancelled() and task.exception() is not None:
            asyncio.ensure_future(self.hangup("error"))

    async def _settle(self) -> None:
        """Let the application and model jobs run until all wait on the caller. A replay
        (deterministic) also waits until the application is parked on the caller (input or
        playback) or done: what it awaits untracked (a store read in a thread) then lands on
        the same frame whatever the box's load, and the same call gives the same events."""
        spins = 0
        while True:
            await self.pipeline.settle()
            for _ in range(5):  # let woken coroutines reach their next await
                await asyncio.sleep(0)
            pending = [f for f in self._work if not f.done()]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                continue
            app = self._app_task
            if not self._park_wait or self._parked or app is None or app.done():
                return
            spins += 1
            if spins > SETTLE_SPINS:  # it waits on something unmarked: frames go on as before
                log.warning("call %s: the application waits on something unmarked at %d ms; not waited for "
                            "again in this call", self.call_id, self.now_ms)  # fmt: skip
                self._park_wait = False
                return
            await asyncio.sleep(0 if spins < 20 else 0.001)

    def _on_event(self, event: Event) -> None:
        if (
            event.type is EventType.FINAL_TRANSCRIPT
            and self.main_speaker != "caller"
            and "speaker" not in event.data
        ):
            event = make(event.call, event.t_ms, event.type, **event.data, speaker=self.main_speaker)
        self.events.append(event)
        if event.type is EventType.AFFECT and not self._ended and not self.legs.bridged:
            d = event.data
            scores = {"anger": float(d["anger"]), "anxiety": float(d["anxiety"])}
            self._inbox.put_nowait(Input(InputKind.AFFECT, level=str(d["level"]), scores=scores))
            self._wake.set()
        if event.type is EventType.SPEECH_START:
            self._backchannel = False
            self._speech_ended_ms = None
        if event.type is EventType.SPEECH_END:
            onset = int(event.data["onset_ms"])
            self._voice_end[onset] = onset + int(event.data["duration_ms"])
        if event.type is EventType.SPEECH_END and not self._held:
            self._speech_ended_ms = int(event.data["onset_ms"]) + int(event.data["duration_ms"])
        if event.type is EventType.SPEECH_END and self._held:
            # too short to barge in ("mhm"): the prompt goes on, and this is not an answer
            self._held = False
            self.transport.hold_playback(False)
            self._backchannel = True
        if event.type is EventType.FINAL_TRANSCRIPT and not self.legs.bridged:
            if event.data.get("ignored"):  # noise or someone behind the caller: not a turn
                self._voice_end.pop(int(event.data.get("onset_ms", -1)), None)
                self._backchannel = False
            elif self._backchannel:  # said over a prompt that went on: not an answer
                self._backchannel = False
            else:
                onset = int(event.data.get("onset_ms", -1))
                gap = None if self._turn_end_ms is None or onset < 0 else max(0, onset - self._turn_end_ms)
                self._turn_end_ms = self._voice_end.pop(onset, self._turn_end_ms)
                for k in [k for k in self._voice_end if k < onset]:  # backchannels: never a turn
                    del self._voice_end[k]
                self._inbox.put_nowait(Input(InputKind.SPEECH, text=str(event.data["text"]), gap_ms=gap))
                self._wake.set()
        self._sink(event)


async def greeting_app(session: CallSession) -> None:
    """With no dialplan: greet the caller, then listen."""
    if session.settings.greeting:
        await session.say(session.settings.greeting, prompt="greeting")
