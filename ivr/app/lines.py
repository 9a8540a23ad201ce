"""A worker's numbers file (`ivr.telephony.numbers`): loaded at start, hot-reloaded while the
worker runs (an edit that validates, with every dialplan it names loading, replaces the
running one; a broken one is logged and the running one kept), and what the worker runs
published in DATA_DIR/run/dialplans-PORT.json for `ivr numbers list`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ivr.dialplan import DialplanError
from ivr.dialplan.dialplans import Dialplans
from ivr.telephony.numbers import Numbers, check_numbers, load_numbers

log = logging.getLogger("ivr.worker")


class Lines:
    def __init__(self, path: str) -> None:
        self.path = path
        self.numbers: Numbers | None = None
        self.loaded_at = 0.0
        self._mtime = 0.0

    def load(self) -> Numbers:
        """At start (raises NumbersError or OSError)."""
        self._mtime = Path(self.path).stat().st_mtime
        self.numbers = load_numbers(self.path)
        self.loaded_at = time.time()
        return self.numbers

    async def watch(self, dialplans: Dialplans, interval_s: float = 1.0) -> None:
        if not self.path:
            return
        path = Path(self.path)
        while True:
            await asyncio.sleep(interval_s)
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime == self._mtime:
                continue
            self._mtime = mtime
            numbers, issues = await asyncio.to_thread(check_numbers, path)
            if numbers is None:
                for issue in issues:
                    log.error("numbers file refused, keeping the running one: %s", issue)
                continue
            try:
                await asyncio.to_thread(dialplans.replace, dict(numbers.dialplans))
            except DialplanError as e:
                log.error("numbers file refused, a dialplan it names has errors: %s", e)
                continue
            self.numbers = numbers
            self.loaded_at = time.time()
            log.info("numbers file %s loaded (%d numbers)", path, len(numbers.lines))

    async def publish(self, dialplans: Dialplans, path: Path, interval_s: float = 1.0) -> None:
        """Each dialplan's version and when it was loaded, and the numbers file's, in `path`:
        rewritten when it changes."""
        last = ""
        while True:
            state: dict[str, Any] = {"numbers": self.path, "numbers_loaded_at": self.loaded_at,
                                     "dialplans": dialplans.status(), "pid": os.getpid()}  # fmt: skip
            text = json.dumps(state, default=str)
            if text != last:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp")
                    tmp.write_text(text, encoding="utf-8")
                    tmp.replace(path)
                    last = text
                except OSError as e:
                    log.warning("cannot write %s: %s", path, e)
            await asyncio.sleep(interval_s)
