"""The transport protocol: the only code that knows where a call's audio comes from.

A SIP call and a WAV replay implement the same small protocol, so every replayed call
exercises the code that answers a real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ivr.conversation import TransferOutcome, TransferRequest, Whisper
from speech.audio import AudioFrame

DTMF_DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """A key the caller pressed, at audio time `t_ms`."""

    digit: str
    t_ms: int

    def __post_init__(self) -> None:
        if self.digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {self.digit!r} (use 0-9, *, #, A-D)")


@dataclass(frozen=True, slots=True)
class Tick:
    """Audio time passed with no frame for the session (the caller is on hold: the hold
    music is played by the telephony layer and their audio is not taken frame by frame)."""

    t_ms: int


CallInput = AudioFrame | DtmfDigit | Tick


class Transport(Protocol):
    call_id: str
    caller: str
    sample_rate: int
    needs_line: bool
    """A caller waits for an agent: the worker keeps a line free for the agent's leg."""
    lines_free: Callable[[], int] | None
    """Lines the call's worker could still use (None: no limit, a replay)."""
    bridge_reason: str
    """Why the last bridge or REFER ended as it did."""
    agent_answered_ms: int | None
    """When the agent's phone answered the last bridge (the call's audio ms)."""
    end_reason: str
    """Why the call ended ("caller hung up (200)"), once it has."""
    agent_leg: bool
    """The agent's leg is carried here (SIP) and its audio given to `on_agent_audio`; a
    replay notes a bridge and ends."""
    on_agent_audio: Callable[[bytes], None] | None
    """Given the agent's audio once bridged (their side is transcribed too)."""
    agent_hold_music: str
    """The WAV the caller hears while the agent's phone holds them (set once bridged)."""
    on_agent_hold: Callable[[bool], None] | None
    """Told (on the event loop) when the agent's phone holds the caller (True) and takes them back."""
    on_agent_dtmf: Callable[[str], None] | None
    """Told (on the event loop) of each digit the agent keys (it is sent on to the caller)."""

    def inputs(self) -> AsyncIterator[CallInput]:
        """The caller's audio frames and DTMF digits, in audio-time order, until hang-up."""
        ...

    def play(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM at `sample_rate` for the caller to hear."""
        ...

    def stop_playback(self) -> None:
        """Drop whatever is still queued to play (barge-in)."""
        ...

    def start_hold(self, path: str, loop_pcm: bytes) -> None:
        """Play hold music (the WAV at `path`, or `loop_pcm` at `sample_rate`) in a loop until
        `stop_hold()`; a SIP call plays it in pjmedia, with no per-frame work in Python."""
        ...

    def stop_hold(self) -> None: ...

    def hold_playback(self, held: bool) -> None:
        """Pause (True) or resume (False) what is playing, keeping it queued."""
        ...

    @property
    def is_playing(self) -> bool: ...

    async def wait_playback(self) -> None:
        """Return when everything queued has been played (or stopped)."""
        ...

    async def transfer(self, target: str) -> None:
        """Hand the call over and leave it (blind REFER to a sip: target, or to a queue)."""
        ...

    async def refer(self, uri: str, timeout_s: float) -> TransferOutcome:
        """Blind transfer (SIP REFER): the caller's phone calls `uri`; CONNECTED once it has."""
        ...

    async def bridge(
        self, uri: str, whisper: Whisper, request: TransferRequest, ring_timeout_s: float
    ) -> TransferOutcome:
        """Dial `uri` (an agent's phone) with `headers`; once it answers, play `whisper` (PCM,
        or a future of it: the phone rings while it is made) to the agent only, then connect
        the caller and the agent. The call stays up (and
        recorded) until either side hangs up; hanging up one side hangs up the other."""
        ...

    async def wait_answered(self, timeout_s: float) -> bool:
        """An outbound call: True once the far end answered within `timeout_s`."""
        ...

    async def hangup(self) -> None: ...


@runtime_checkable
class ReleasingTransport(Protocol):
    """A transport whose bridged agent can let the caller go on (SIP: their leg ends alone)."""

    def release_agent(self) -> None: ...


@runtime_checkable
class MonitorTransport(Protocol):
    """A transport a supervisor's phone can join once bridged (SIP: a third leg in pjmedia's
    conference bridge)."""

    on_monitor: Callable[[str, str], None] | None

    def monitor_dial(self, uri: str, mode: str, own_is_agent: bool = False) -> int: ...

    def monitor_mode(self, mode: str) -> None: ...

    def monitor_hangup(self) -> None: ...
