"""What a bridged call looks for in the store while it lasts: the console writes a request (a
supervisor's listen-in, an agent's transfer), the worker holding the call reads it every
POLL_S and carries it out. One loop for each kind; close() lets a report being written finish
(a cancel landing between the store's write and the record's event would lose the event)."""

from __future__ import annotations

import asyncio
from typing import Any

POLL_S = 0.5
"""How often a bridged call reads the store for a request (one indexed read)."""
CLOSE_S = 10.0


class Watch:
    def __init__(self, session: Any) -> None:
        self.s = session
        self._closing = asyncio.Event()
        self._task = asyncio.ensure_future(self._loop())

    async def look(self) -> None:
        """One look at the store (and whatever the look finds to do)."""
        raise NotImplementedError

    async def finish(self) -> None:
        """The call ended or the watch was closed: say how what was under way ended."""

    async def _loop(self) -> None:
        while not self.s.caller_gone and not self._closing.is_set():
            await self.look()
            try:
                await asyncio.wait_for(self._closing.wait(), POLL_S)
            except TimeoutError:
                pass
        await self.finish()

    async def close(self) -> None:
        self._closing.set()
        if not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), CLOSE_S)
            except (TimeoutError, Exception):
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        await self.finish()
