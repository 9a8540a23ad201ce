"""A supervisor's leg on a bridged SIP call (a part of `SipCallTransport`; `ivr.call.monitor`
drives it): dialled into pjmedia's conference bridge, its mode changed, hung up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum

from ivr.telephony.commands import DialMonitor, HangupMonitor, Send, SetMonitorMode


class MonitorState(StrEnum):
    IDLE = ""
    DIALING = "dialing"
    ACTIVE = "active"
    ENDED = "ended"


class SupervisorLeg:
    _loop: asyncio.AbstractEventLoop
    _command: Send

    def _init_monitor(self) -> None:
        self._monitor_seq = 0
        self.monitor_state = MonitorState.IDLE
        self.monitor_reason = ""
        self.on_monitor: Callable[[str, str], None] | None = None
        """Told (on the event loop) when the supervisor's leg answers or ends."""

    def monitor_dial(self, uri: str, mode: str, own_is_agent: bool = False) -> int:
        """Dial a supervisor's phone into the bridge; returns the leg's number. `own_is_agent`:
        this call's own leg is the agent (a callback dials the agent first)."""
        self._monitor_seq += 1
        self.monitor_state = MonitorState.DIALING
        self._command(DialMonitor(uri, mode, self._monitor_seq, own_is_agent))
        return self._monitor_seq

    def monitor_mode(self, mode: str) -> None:
        self._command(SetMonitorMode(mode))

    def monitor_hangup(self) -> None:
        self._command(HangupMonitor())

    def monitor_answered(self, seq: int) -> None:  # SIP thread
        self._loop.call_soon_threadsafe(self._monitor_word, seq, MonitorState.ACTIVE, "")

    def monitor_ended(self, status: int, reason: str, seq: int) -> None:  # SIP thread
        self._loop.call_soon_threadsafe(
            self._monitor_word, seq, MonitorState.ENDED, f"{status} {reason}".strip()
        )

    def _monitor_word(self, seq: int, state: MonitorState, reason: str) -> None:
        if seq == self._monitor_seq:
            self.monitor_state, self.monitor_reason = state, reason
            if self.on_monitor is not None:
                self.on_monitor(state, reason)
