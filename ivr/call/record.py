"""A call's record, kept as the call happens: every event (masked by the call's Redactor)
goes to the store's writer, to the call's JSON-lines file, and to whoever prints them; the
call's row (the CDR) follows its path, intents, hand-over, radar and, at the end, outcome.

`outcome_of` says how a call ended, from what its events showed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ivr.conversation import CLOSED_UNANSWERED
from ivr.events import Event, EventType
from ivr.privacy.redact import Redactor
from ivr.settings import HOST_NAME
from ivr.store.writer import CallEvents, CallStarted, CallUpdated, StoreWriter

LEVELS = ("calm", "rising", "escalate")
HOST = HOST_NAME


@dataclass(slots=True)
class Summary:
    """What a call's events showed, for its row and its outcome."""

    path: list[str] = field(default_factory=list)
    intents: list[dict[str, Any]] = field(default_factory=list)
    tier: str = ""
    queue: str = ""
    transfer_reason: str = ""
    transfer_asked: bool = False
    connected: bool = False
    transfer_failed: str = ""
    on_hold: bool = False
    callback: bool = False  # the caller hung up to be called back
    hangup: str | None = None  # the IVR's reason when the IVR ended the call
    app_error: str = ""
    end_reason: str = ""
    anger_max: float | None = None
    anxiety_max: float | None = None
    affect_level: str = ""
    turns: int = 0
    duration_ms: int = 0

    def update(self, e: Event) -> set[str]:
        """Takes one event; returns the row's columns it changed."""
        d, t = e.data, e.type
        if t is EventType.NODE:
            self.path.append(str(d["name"]))
            return {"path"}
        if t is EventType.INTENT:
            self.intents.append(
                {
                    "name": d["name"],
                    "confidence": round(float(d["confidence"]), 3),
                    "node": d.get("node", ""),
                    "t_ms": e.t_ms,
                }
            )
            return {"intents"}
        if t is EventType.TRANSFER:
            if d.get("outcome") == "callback":
                self.callback = True
            elif d.get("outcome") in ("no_answer", "rejected"):
                self.transfer_failed = str(d["outcome"])
            self.tier, self.queue, self.transfer_reason = str(d["tier"]), str(d["queue"]), str(d["reason"])
            self.transfer_asked = True
            return {"tier", "queue", "transfer_reason"}
        if t is EventType.BRIDGE:
            state = str(d["state"])
            if state == "connected":
                self.connected = True
            elif state != "dialing":
                self.transfer_failed = state
        elif t is EventType.HOLD:
            self.on_hold = d["state"] == "start" and d.get("by") != "agent"  # an agent's hold: bridged
        elif t is EventType.HANGUP:
            self.hangup = str(d["reason"])
        elif t is EventType.ERROR and d.get("stage") == "app":
            self.app_error = str(d["message"])
        elif t is EventType.QUEUE_LEAVE and d["reason"] == "callback":
            self.callback = True
        elif (
            t is EventType.FINAL_TRANSCRIPT
            and d.get("speaker", "caller") == "caller"
            and not d.get("ignored")
        ):
            self.turns += 1
            return {"turns"}
        elif t is EventType.AFFECT:
            self.anger_max = max(self.anger_max or 0.0, float(d["anger"]))
            self.anxiety_max = max(self.anxiety_max or 0.0, float(d["anxiety"]))
            level = str(d["level"])
            if level in LEVELS and (
                not self.affect_level or LEVELS.index(level) > LEVELS.index(self.affect_level)
            ):
                self.affect_level = level
            return {"anger_max", "anxiety_max", "affect_level"}
        elif t is EventType.CALL_END:
            self.end_reason = str(d.get("reason", ""))
            self.duration_ms = int(d["duration_ms"])
        return set()


def outcome_of(s: Summary) -> tuple[str, str]:
    """(outcome, why) of an ended call; the outcomes are ivr.store.OUTCOMES."""
    if s.connected:
        return "transferred", f"to {s.queue}" if s.queue else "to a human"
    if s.callback:
        return "callback", f"the caller will be called back by {s.queue or 'a human'}"
    if s.app_error:
        return "failed", f"the dialplan stopped: {s.app_error}"
    if s.hangup is not None:
        if s.hangup == "silence":
            return "abandoned", "the caller said nothing"
        if s.hangup == CLOSED_UNANSWERED:
            return "caller_hung_up", s.hangup
        if s.transfer_failed or s.hangup == "dialplan loop":
            return "failed", s.hangup
        return "ai_resolved", s.hangup
    why = s.end_reason or "the caller hung up"
    if s.transfer_asked or s.on_hold:
        return "abandoned", f"{why} while waiting for {s.queue or 'a human'}"
    return "caller_hung_up", why


COLUMNS: dict[str, Callable[[Summary], Any]] = {
    "path": lambda s: json.dumps(s.path),
    "intents": lambda s: json.dumps(s.intents),
    "tier": lambda s: s.tier,
    "queue": lambda s: s.queue,
    "transfer_reason": lambda s: s.transfer_reason,
    "turns": lambda s: s.turns,
    "anger_max": lambda s: s.anger_max,
    "anxiety_max": lambda s: s.anxiety_max,
    "affect_level": lambda s: s.affect_level,
}


class CallRecord:
    """The session's event sink for one call (see the module)."""

    def __init__(
        self,
        call_id: str,
        writer: StoreWriter | None = None,
        *,
        caller: dict[str, Any] | None = None,
        source: str = "",
        called: tuple[str, str, str] = ("", "", ""),
        dialplan: str = "",
        dialplan_version: str = "",
        recording: str | Path | None = None,
        patterns: Sequence[str] = (),
        events_file: IO[str] | None = None,
        out: Callable[[Event], None] | None = None,
        on_end: Callable[[str, Summary], None] | None = None,
    ) -> None:
        self.call_id = call_id
        self.redactor = Redactor(patterns)
        self.summary = Summary()
        self.outcome = ""
        self.why = ""
        self._writer = writer
        self.caller = caller or {}
        self._source = source
        self._called = called
        """(the number called, its line's name, the callers' language there)."""
        self._dialplan = (dialplan, dialplan_version)
        self._recording = str(Path(recording).resolve()) if recording else ""
        self._file = events_file
        self._out = out
        self._on_end = on_end
        self._seq = 0
        self._started_at = 0.0
        self._started = False
        self._last_ms = 0

    def mask(self, value: Any) -> Any:
        """A value built from the call (a summary, the screen pop) as it may be shown or kept."""
        return self.redactor.mask(value)

    def set_secure(self, on: bool) -> None:
        """A secure gather listens (digits and words kept by no one)."""
        self.redactor.secure = on

    def __call__(self, event: Event) -> None:
        ready = self.redactor.feed(event)
        if event.type is EventType.CALL_END:
            ready += self.redactor.flush()
        for e in ready:
            self._take(e)

    def interrupted(self, reason: str) -> None:
        """The call was cut short before its end (the worker stops): what was held back goes
        out, and the row says `interrupted`, ended at the last event."""
        if self.outcome:
            return
        for e in self.redactor.flush():
            self._take(e)
        self.outcome, self.why = "interrupted", reason
        if self._on_end is not None:
            self._on_end(self.outcome, self.summary)
        if self._writer is None or not self._started:
            return
        values = {c: f(self.summary) for c, f in COLUMNS.items()}
        values.update(
            status="ended",
            outcome="interrupted",
            end_reason=reason,
            ended_at=self._started_at + self._last_ms / 1000,
            duration_ms=self._last_ms,
        )
        self._writer.submit(CallUpdated(self.call_id, values))

    def _take(self, e: Event) -> None:
        self._last_ms = max(self._last_ms, e.t_ms)
        if e.type is EventType.CALL_START and not self._started:
            self._start(e)
        changed = self.summary.update(e)
        if self._file is not None:
            self._file.write(e.to_json() + "\n")
            self._file.flush()
        if self._out is not None:
            self._out(e)
        if e.type is EventType.CALL_END:
            self.outcome, self.why = outcome_of(self.summary)
            if self._on_end is not None:
                self._on_end(self.outcome, self.summary)
        if self._writer is None or not self._started:
            return
        row = {"call_id": self.call_id, "seq": self._seq, "t_ms": e.t_ms, "type": str(e.type)}
        row["data"] = json.dumps(dict(e.data), ensure_ascii=False, default=str)
        self._seq += 1
        self._writer.submit(CallEvents([row]))
        if e.type is EventType.CALL_END:
            self._end()
        elif changed:
            self._writer.submit(CallUpdated(self.call_id, {c: COLUMNS[c](self.summary) for c in changed}))

    def _start(self, e: Event) -> None:
        self._started = True
        self._started_at = time.time()
        if self._writer is None:
            return
        c = self.caller
        self._writer.submit(
            CallStarted(
                {
                    "id": self.call_id,
                    "caller": str(c.get("number") or e.data.get("caller") or ""),
                    "caller_name": str(c.get("name", "")),
                    "caller_account": str(c.get("account", "")),
                    "caller_tier": str(c.get("tier", "")),
                    "caller_known": bool(c.get("known", False)),
                    "source": self._source or str(e.data.get("source", "")),
                    "called": self._called[0][:64],
                    "line": self._called[1][:64],
                    "language": self._called[2][:35],
                    "host": HOST,
                    "pid": os.getpid(),
                    "status": "live",
                    "started_at": self._started_at,
                    "answered_at": self._started_at,
                    "dialplan": self._dialplan[0],
                    "dialplan_version": self._dialplan[1],
                    "recording_path": self._recording,
                }
            )
        )

    def _end(self) -> None:
        outcome, why = self.outcome, self.why
        assert self._writer is not None
        values = {c: f(self.summary) for c, f in COLUMNS.items()}
        values.update(
            status="ended",
            outcome=outcome,
            end_reason=why,
            ended_at=self._started_at + self.summary.duration_ms / 1000,
            duration_ms=self.summary.duration_ms,
        )
        if self._recording:
            values["recording_ms"] = self.summary.duration_ms
        self._writer.submit(CallUpdated(self.call_id, values))
