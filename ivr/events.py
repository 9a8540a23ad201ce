"""The event contract: every observable step of a call, one JSON object per line.

Each event has `call` (the call's id; the file name when replaying files), `t_ms` (audio
time since the call started, an int) and `type`, plus the fields its type requires. The
set is closed: a type or a field not declared here is refused when the event is made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class EventType(StrEnum):
    CALL_START = "call_start"
    NODE = "node"
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"
    PARTIAL_TRANSCRIPT = "partial_transcript"
    FINAL_TRANSCRIPT = "final_transcript"
    DTMF = "dtmf"
    SAY = "say"
    BARGE_IN = "barge_in"
    INTENT = "intent"
    TURN_JOIN = "turn_join"
    CORRECTED = "corrected"
    READBACK = "readback"
    AFFECT = "affect"
    TRANSFER = "transfer"
    BRIDGE = "bridge"
    HOLD = "hold"
    QUEUE_JOIN = "queue_join"
    QUEUE_UPDATE = "queue_update"
    QUEUE_LEAVE = "queue_leave"
    AGENT_OFFER = "agent_offer"
    MONITOR = "monitor"
    HANGUP = "hangup"
    ERROR = "error"
    CALL_END = "call_end"


# required fields, then optional fields, per type
EVENT_FIELDS: Mapping[EventType, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType(
    {
        EventType.CALL_START: (("sample_rate",), ("caller", "source")),
        EventType.NODE: (("name",), ()),
        EventType.SPEECH_START: (("onset_ms",), ()),
        EventType.SPEECH_END: (("onset_ms", "duration_ms", "reason"), ()),
        EventType.PARTIAL_TRANSCRIPT: (("text",), ("stable",)),
        EventType.FINAL_TRANSCRIPT: (("text",), ("speaker", "onset_ms", "ignored", "heard_as")),
        EventType.DTMF: (("digit",), ("by",)),
        EventType.SAY: (("text",), ("prompt",)),
        EventType.BARGE_IN: (("prompt",), ()),
        EventType.INTENT: (("name", "confidence"), ("text", "node", "candidates", "by")),
        EventType.TURN_JOIN: (("text", "node"), ("gap_ms",)),
        EventType.CORRECTED: (("var", "node"), ()),
        EventType.READBACK: (("confirmed", "node"), ()),
        EventType.AFFECT: (("anger", "anxiety", "level"), ("valence", "cues", "model")),
        EventType.TRANSFER: (("queue", "reason", "tier"), ("priority", "skill", "summary", "outcome")),
        EventType.BRIDGE: (("uri", "state"), ("mode", "reason", "answered_ms")),
        EventType.HOLD: (("state",), ("music", "by")),
        EventType.QUEUE_JOIN: (("queue", "position", "priority"), ("reasons",)),
        EventType.QUEUE_UPDATE: (("position",), ("wait_s", "priority", "reason")),
        EventType.QUEUE_LEAVE: (("reason",), ("wait_ms", "agent", "number")),
        EventType.AGENT_OFFER: (("agent",), ("outcome", "briefing_ms")),
        EventType.MONITOR: (("supervisor", "mode", "state"), ("reason",)),
        EventType.HANGUP: (("reason",), ()),
        EventType.ERROR: (("message",), ("stage",)),
        EventType.CALL_END: (("duration_ms",), ("reason",)),
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """One observable step of a call."""

    call: str
    t_ms: int
    type: EventType
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind = EventType(self.type)
        required, optional = EVENT_FIELDS[kind]
        missing = [f for f in required if f not in self.data]
        unknown = [f for f in self.data if f not in required and f not in optional]
        if missing or unknown:
            raise ValueError(f"{kind} event: missing {missing}, unknown {unknown}")
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "t_ms", int(self.t_ms))
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.call, "t_ms": self.t_ms, "type": str(self.type), **self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def make(call: str, t_ms: int, kind: EventType, **data: Any) -> Event:
    return Event(call, t_ms, kind, data)


def format_event(event: Event) -> str:
    """A readable timeline line: `  12.340s  final       "text"`."""
    d = event.data
    t = f"{event.t_ms / 1000:8.3f}s"
    k = str(event.type)
    if event.type in (EventType.PARTIAL_TRANSCRIPT, EventType.FINAL_TRANSCRIPT, EventType.SAY):
        detail = json.dumps(d["text"], ensure_ascii=False)
    elif event.type is EventType.DTMF:
        detail = f"digit {d['digit']}"
    elif event.type is EventType.SPEECH_END:
        detail = f"{d['duration_ms']} ms of speech ({d['reason']})"
    else:
        detail = " ".join(f"{key}={val}" for key, val in d.items())
    return f"{t}  {k:<19} {detail}".rstrip()
