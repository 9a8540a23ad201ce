"""What a process's writer takes: a call started, its events, a change to its row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CallStarted:
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallEvents:
    rows: list[dict[str, Any]]  # call_id, seq, t_ms, type, data


@dataclass(frozen=True, slots=True)
class CallUpdated:
    call_id: str
    values: dict[str, Any]


Op = CallStarted | CallEvents | CallUpdated
