"""What a dialplan needs from a call, whatever carries it (a voice call or a text chat).

`CallSession` implements it over a transport (SIP or replay); `ChatConversation` over a
terminal. The dialplan runner only ever talks to this interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ivr.events import Event, EventType
from ivr.queues import QueueRules

CLOSED_ANSWERED = "caller said goodbye"
"""A hang-up reason: the caller said goodbye after the IVR answered them (resolved)."""
CLOSED_UNANSWERED = "caller said goodbye before an answer"
"""A hang-up reason: the caller said goodbye before they were given any answer (not resolved)."""


class InputKind(StrEnum):
    SPEECH = "speech"
    DTMF = "dtmf"
    NO_INPUT = "no_input"
    AFFECT = "affect"
    HANGUP = "hangup"
    KEYS_END = "keys_end"  # a typed key entry ended (chat); a call uses the inter-digit time


@dataclass(frozen=True, slots=True)
class Input:
    """One thing the caller did: said something, pressed a key, stayed silent, sounded upset,
    or hung up."""

    kind: InputKind
    text: str = ""
    digit: str = ""
    level: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    gap_ms: int | None = None
    """Speech: the caller's silence between the end of their previous turn and this one
    (None: unknown, or no turn before). A short gap while the IVR has only begun to answer
    means the caller was not done: the runner joins the two (`join_grace_ms`)."""


@dataclass
class TransferRequest:
    """A hand-over to a human queue with everything the agent should see."""

    queue: str
    tier: str
    reason: str
    priority: int
    skill: str
    context: dict[str, Any]
    rules: QueueRules
    """The queue's rules, of the dialplan version the call runs: its phone (`uri`, `mode`)
    or its agents' rings (`ring_timeout_s`, `max_wait_s`)."""
    whisper: str = ""
    """Said to the agent only, before the caller is connected."""
    assistant: Any = None
    """While the caller waits for an agent, what the AI can still answer: `(text) -> answer
    or None` (blocking; the knowledge base). None: the wait only holds."""

    @property
    def uri(self) -> str:
        """The queue's agent phone (sip:...); empty: the queue's agents (ACD) or the console."""
        return self.rules.uri

    @property
    def mode(self) -> str:
        """bridge: dial the agent, whisper the summary to them, connect the caller; refer: blind."""
        return self.rules.mode

    @property
    def ring_timeout_s(self) -> float:
        return self.rules.ring_timeout_s


Whisper = bytes | asyncio.Future[bytes]
"""The agent's briefing: PCM, or PCM still being synthesised while their phone rings."""


class TransferOutcome(StrEnum):
    CONNECTED = "connected"  # bridged to the agent, or handed over (console, REFER)
    BUSY = "busy"
    NO_ANSWER = "no answer"
    FAILED = "failed"
    CALLBACK = "callback"  # the caller hung up to be called back, keeping their place


class Conversation(Protocol):
    call_id: str
    caller: str
    events: list[Event]

    @property
    def line_noisy(self) -> bool:
        """The caller's line is too noisy to hear them well (a loud floor, words judged noise)."""
        ...

    def emit(self, kind: EventType, **data: Any) -> Event: ...

    async def say(self, text: str, prompt: str = "", interruptible: bool = True, lead: str = "") -> None:
        """Speak (or print) `text`; returns once it is queued. `lead`: the fixed words `text`
        opens with, synthesised ahead, to play while the rest is synthesised."""
        ...

    async def play_file(self, path: str, interruptible: bool = True) -> None: ...

    async def start_hold(self, music: str | None = None) -> None:
        """Hold music (a WAV; None: the default loop) until `stop_hold()`; inputs still arrive."""
        ...

    async def stop_hold(self) -> None: ...

    async def wait_input(
        self, timeout_ms: int, complete: Callable[[str], bool] | None = None, answer_expected: bool = True
    ) -> Input:
        """The caller's next input; NO_INPUT after `timeout_ms` of silence once the IVR has
        finished speaking (counted in audio time). `complete(text)` says when a spoken
        answer is whole (e.g. six digits heard), so the turn may end after a short pause.
        `answer_expected` False: the IVR asked nothing, it only listens whether the caller
        goes on with their turn (a scripted caller then waits for the IVR's answer)."""
        ...

    async def transfer(self, request: TransferRequest) -> TransferOutcome:
        """Hand the call over; anything but CONNECTED leaves the caller with the IVR."""
        ...

    async def hangup(self, reason: str) -> None: ...

    def set_secure(self, on: bool) -> None:
        """A `secure: true` gather listens (on) or has its answer (off): what the caller keys
        or says meanwhile is masked in everything the call keeps."""

    def expect(self, kind: str, words: Sequence[str] = ()) -> None:
        """What the step listening now expects ("digits", or "" for anything) and the words its
        routes' callers say: the recogniser is told (a caller's digits are decoded as the words
        they said; a word that sounds like an expected one is checked against the audio)."""

    async def compute(self, fn: Callable[[], Any]) -> Any:
        """Run blocking CPU work (the intent model) off the event loop, so other calls' audio
        keeps flowing; a replay waits for it deterministically."""
        ...

    async def http(self, method: str, url: str, timeout_ms: int, **kwargs: Any) -> Any:
        """An HTTP call to a backend (a replay waits for it deterministically)."""
        ...


class CallControl(Conversation, Protocol):
    """What a hand-over may do with a call: the narrow interface the session gives the queue
    (`ivr.acd`), the phone bridge and REFER (`ivr.telephony.handoff`) and the console. Nothing
    outside the session reaches into its state."""

    now_ms: int
    """Audio time: what the IVR has heard of the call so far."""
    agent: str | None
    """The agent the call was put through to (their wrap-up starts at the call's end)."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def caller_gone(self) -> bool: ...

    @property
    def bridge_reason(self) -> str:
        """Why the last bridge or REFER ended as it did ("no answer in 20 s", a SIP reason)."""
        ...

    def lines_free(self) -> int | None:
        """Lines this call's worker could still use for an agent's leg (None: no limit)."""
        ...

    def needs_agent_line(self, on: bool) -> None:
        """The caller waits for an agent: the worker keeps a line free for the agent's leg."""
        ...

    def discard_speech(self) -> int:
        """Drop what the caller said that nothing has taken yet; returns how many turns."""
        ...

    def masked(self, value: Any) -> Any:
        """`value` with the call's card numbers masked."""
        ...

    async def synthesize(self, text: str) -> bytes:
        """`text` spoken at the call's rate (PCM), not played."""
        ...

    async def wait_playback(self) -> None:
        """Return when what the IVR queued to say has been heard."""
        ...

    async def wait_answered(self, timeout_s: float) -> bool:
        """An outbound call (a callback's first leg): True once answered within `timeout_s`."""
        ...

    async def bridge_to(
        self, uri: str, request: TransferRequest, ring_timeout_s: float, whisper_pcm: Whisper | None = None
    ) -> TransferOutcome:
        """Dial `uri`, whisper the hand-over to the agent only, then connect the caller.
        `whisper_pcm` may still be in the making (a future): the phone rings meanwhile."""
        ...

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        """A blind transfer: the caller's phone calls `uri`; the IVR leaves once it has."""
        ...

    async def hand_to_console(self, queue: str) -> None:
        """Hand the call to the agent console's `queue` and leave it."""
        ...


class Handoff(Protocol):
    """One way to hand a caller to a human: the queue, an agent's phone, the console."""

    async def hand_over(self, call: CallControl, request: TransferRequest) -> TransferOutcome: ...
