"""What the event loop asks of a SIP call, handed to the pjsua2 thread: one small frozen
dataclass per operation (the thread runs `SipEndpoint._do` on it), never a string."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call (BYE, or a final response while it rings)."""


@dataclass(frozen=True, slots=True)
class Refer:
    """A blind transfer: the caller's phone is told (REFER) to call `uri`."""

    uri: str


@dataclass(frozen=True, slots=True)
class DialAgent:
    """Dial an agent's phone with the call's context in `headers`; `seq` tells this attempt's
    answer apart from an earlier one's."""

    uri: str
    headers: dict[str, str] = field(default_factory=dict)
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ConnectAgent:
    """The briefing was heard: connect the caller and the agent both ways."""


@dataclass(frozen=True, slots=True)
class HangupAgent:
    """End the agent's leg (the caller stays)."""


@dataclass(frozen=True, slots=True)
class ReleaseAgent:
    """The agent hands the caller on: their connected leg ends, the caller stays with the IVR."""


@dataclass(frozen=True, slots=True)
class StartHold:
    """Play the WAV at `path` in a loop to the caller (pjmedia; no Python per frame)."""

    path: str


@dataclass(frozen=True, slots=True)
class StopHold:
    """End the hold music."""


@dataclass(frozen=True, slots=True)
class SpeakOnHold:
    """The IVR speaks during a hold: its frames are taken again (mixed over the music)."""


@dataclass(frozen=True, slots=True)
class DialMonitor:
    """Dial a supervisor's phone onto the bridged call, in `mode` (listen, whisper, barge)."""

    uri: str
    mode: str
    seq: int
    own_is_agent: bool = False


@dataclass(frozen=True, slots=True)
class SetMonitorMode:
    mode: str


@dataclass(frozen=True, slots=True)
class HangupMonitor:
    """End the supervisor's leg."""


Command = (
    Hangup
    | Refer
    | DialAgent
    | ConnectAgent
    | ReleaseAgent
    | HangupAgent
    | StartHold
    | StopHold
    | SpeakOnHold
    | DialMonitor
    | SetMonitorMode
    | HangupMonitor
)
Send = Callable[[Command], None]
"""How a call's transport hands a command to its endpoint (thread-safe)."""
