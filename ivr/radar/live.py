"""The radar model live in a running worker: an admin's approval (or rollback) is what the next
call is judged with, with no restart. A worker asks the store for the live version's stamp (one
indexed query) at most every `refresh_s`, and reads the model only when it moved."""

from __future__ import annotations

import json
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

    def current(self) -> RadarModel:
        """The live version (the shipped model when none was approved); on a store error or an
        unreadable version, the last one (said in the log)."""
        with self._lock:
            now = time.monotonic()
            if self._stamp is not None and now - self._checked < self.refresh_s:
                return self._model
            self._checked = now
            try:
                stamp = self.records.stamp()
                if stamp != self._stamp:
                    self._model = self._load(stamp[0])
                    self._stamp = stamp
            except Exception as e:  # the store is away: judge with what was approved before
                log.error(
                    "radar: cannot read the live version (%s); using version %d", e, self._model.version
                )
            return self._model

    def _load(self, version: int) -> RadarModel:
        if version == 0:
            return self.shipped
        row = self.records.version(version)
        if row is None:
            return self.shipped
        body = row["body"] if isinstance(row["body"], dict) else json.loads(row["body"])
        model = RadarModel.from_json(body, base=self.shipped)
        log.info("radar: version %d is live", version)
        return replace(model, meta={**model.meta, "version": version})
