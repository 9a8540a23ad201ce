"""A supervisor on a bridged call: while the caller talks to an agent, the worker holding the
call reads the store for a monitoring request (the console writes it), dials the supervisor's
phone into the bridge in the asked mode, follows mode changes and the stop, and writes back how
it went (dialing, active, ended, failed with why) and a `monitor` event in the call's record."""

from __future__ import annotations

import asyncio
from typing import Any

from ivr.call.watch import Watch
from ivr.events import EventType

ANSWER_TIMEOUT_S = 30.0


class MonitorWatch(Watch):
    def __init__(self, session: Any, records: Any, uri_of: str) -> None:
        self.records, self.uri_of = records, uri_of
        self.t = session.transport
        self.current: dict[str, Any] | None = None  # the request being carried out
        self.mode = ""
        self.dialed_at = 0.0
        self.answered = False
        self._word: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.t.on_monitor = lambda state, reason: self._word.put_nowait((state, reason))
        super().__init__(session)

    async def _report(self, state: str, reason: str = "") -> None:
        m = self.current
        if m is None:
            return
        await asyncio.to_thread(self.records.monitor_report, m["id"], state, reason)
        self.s.emit(EventType.MONITOR, supervisor=m["supervisor"], mode=self.mode or m["mode"], state=state,
                    **({"reason": reason} if reason else {}))  # fmt: skip

    async def look(self) -> None:
        while not self._word.empty():  # what the supervisor's leg did
            state, reason = self._word.get_nowait()
            if self.current is not None:
                if state == "active":
                    self.answered = True
                    await self._report("active")
                else:  # a leg that never answered failed (busy, not registered, declined)
                    await self._report("ended" if self.answered else "failed", reason)
                    self.current, self.mode, self.answered = None, "", False
        row = await asyncio.to_thread(self.records.monitors_to_serve, self.s.call_id)
        if row is not None:
            await self._asked(row)

    async def _asked(self, row: dict[str, Any]) -> None:
        """What the console asks of this call now: a new request, a mode, the stop."""
        now = asyncio.get_running_loop().time()
        if self.current is None and row["state"] == "requested":
            self.current, self.mode, self.answered = row, row["mode"], False
            self.t.monitor_dial(self.uri_of.format(name=row["supervisor"]), row["mode"],
                               own_is_agent=self.s.main_speaker != "caller")  # fmt: skip
            self.dialed_at = now
            await self._report("dialing")
        elif self.current is not None and row["id"] == self.current["id"]:
            if row["state"] == "ending":
                self.t.monitor_hangup()
            elif row["mode"] != self.mode:
                self.mode = row["mode"]
                self.t.monitor_mode(self.mode)
                if self.answered:  # (while dialling, the leg is wired for the new mode on answer)
                    self.s.emit(
                        EventType.MONITOR, supervisor=row["supervisor"], mode=self.mode, state="active"
                    )
            elif not self.answered and now - self.dialed_at > ANSWER_TIMEOUT_S:
                self.t.monitor_hangup()
                await self._report(
                    "failed", f"the supervisor's phone did not answer in {ANSWER_TIMEOUT_S:.0f} s"
                )
                self.current = None

    async def finish(self) -> None:
        if self.current is not None:  # the call ended with the supervisor on it
            await self._report("ended", "the call ended")
            self.current = None
