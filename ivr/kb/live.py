"""The approved entries of the store, live in a running dialplan: an approval in the console is
what the next caller hears, with no reload and no edit of the YAML.

A worker asks the store for its stamp (one indexed query) at most every `refresh_s` when it
is about to answer, and re-embeds the entries only when the stamp moved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from ivr.kb.entries import KnowledgeRecords
from ivr.nlu.intents import Embedder, KnowledgeBase

log = logging.getLogger("ivr.kb")


class LiveKnowledge:
    def __init__(self, records: KnowledgeRecords, embedder: Embedder, refresh_s: float = 0.25) -> None:
        self.records = records
        self._embedder = embedder
        self.refresh_s = refresh_s
        self._kb = KnowledgeBase(embedder, [])
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def current(self) -> KnowledgeBase:
        """The live entries (refreshed when the store's changed); on a store error, the last ones."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < self.refresh_s and self._stamp is not None:
                return self._kb
            self._checked = now
            try:
                stamp = self.records.stamp()
                if stamp != self._stamp:
                    self._kb = KnowledgeBase(self._embedder, self.records.live())
                    self._stamp = stamp
            except Exception as e:  # the store is away: answer from what was approved before
                log.error("knowledge base: cannot read the store's entries (%s); using the last ones", e)
            return self._kb

    def best(self, question: str) -> tuple[Mapping[str, Any] | None, float]:
        return self.current().best(question)
