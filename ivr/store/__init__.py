"""The store: the engine (SQLite in the data dir by default, PostgreSQL by IVR_STORE_URL), the
tables and their Alembic migrations, and the writer thread that keeps calls as they happen.
No feature logic: each feature owns its queries (`ivr.acd.agents`, `ivr.kb.entries`, ...), and
`ivr.records.Store` puts them together over one store.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ivr.store.engine import StoreError, UserError, default_url, migrate, open_engine, safe_url
from ivr.store.writer import StoreWriter

__all__ = ["Database", "StoreError", "UserError", "default_url"]


class Database:
    """One store, opened (and migrated to the newest schema) from a URL, with the process's
    writer thread."""

    def __init__(self, url: str, migrate_schema: bool = True, spill_dir: Path | None = None) -> None:
        """`spill_dir`: where the writer keeps its oldest records while the store is away (a
        worker's run folder); None: in memory only."""
        self.url = url
        self.spill_dir = spill_dir
        self.engine = open_engine(url)
        if migrate_schema:
            migrate(self.engine)
        self._writer: StoreWriter | None = None
        self._lock = threading.Lock()

    @property
    def writer(self) -> StoreWriter:
        """The process's writer thread (started on first use)."""
        with self._lock:
            if self._writer is None:
                self._writer = StoreWriter(self.engine, spill_dir=self.spill_dir)
            return self._writer

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)})"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()
