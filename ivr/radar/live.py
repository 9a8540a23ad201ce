"""The radar model live in a running worker: an admin's approval (or rollback) is what the next
call is judged with, with no restart.

A worker `start`s the watch: a thread of its own reads the live version's stamp (one indexed
query) every `refresh_s` and the model only when it moved, so a call's start never waits on
the store (a store away or unreachable costs nothing but staying on the last version). Without
the watch (a command, a test) `current` asks the store itself, at most every `refresh_s`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from ivr.radar.records import RadarRecords
from prosody.radar import RadarModel

log = logging.getLogger("ivr.radar")


class LiveRadar:
    def __init__(self, records: RadarRecords, shipped: RadarModel, refresh_s: float = 1.0) -> None:
        self.records = records
        self.shipped = shipped
        self.refresh_s = refresh_s
        self._model = shipped
        self._stamp: tuple[int, float] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._failing = False

    def start(self) -> LiveRadar:
        """Read the live version now, then watch it from a thread (a worker's way)."""
        self._refresh()
        self._watch = threading.Thread(target=self._run, name="radar-live", daemon=True)
        self._watch.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self._refresh()

    def current(self) -> RadarModel:
        """The live version (the shipped model when none was approved)."""
        if self._watch is not None:
            return self._model  # the watch keeps it: no store query here
        with self._lock:
            now = time.monotonic()
            if self._stamp is None or now - self._checked >= self.refresh_s:
                self._checked = now
                self._refresh()
            return self._model

    def _refresh(self) -> None:
        """Read the stamp and, when it moved, the version; on a store error or an unreadable
        version keep the last one (said once in the log until it reads again)."""
        try:
            stamp = self.records.stamp()
            if stamp != self._stamp:
                self._model = self._load(stamp[0])
                self._stamp = stamp
                log.info("radar: version %d is live%s", stamp[0], " (as shipped)" if stamp[0] == 0 else "")
            self._failing = False
        except Exception as e:  # the store is away: judge with what was approved before
            if not self._failing:
                log.error(
                    "radar: cannot read the live version (%s); staying on version %d", e, self._model.version
                )
            self._failing = True

    def _load(self, version: int) -> RadarModel:
        if version == 0:
            return self.shipped
        row = self.records.version(version)
        if row is None:
            return self.shipped
        model = RadarModel.from_json(row["body"], base=self.shipped)
        return replace(model, meta={**model.meta, "version": version})
