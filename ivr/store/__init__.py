"""The store: callers, call records, users and tokens (SQLAlchemy Core, Alembic migrations).

SQLite in the data dir by default, PostgreSQL by IVR_STORE_URL. Workers keep no state another
process needs: what must be shared lives here.
"""

from __future__ import annotations

import threading

from ivr.store.agents import Agents
from ivr.store.calls import OUTCOMES, CallRecords
from ivr.store.console import ConsoleRecords
from ivr.store.directory import Directory, DirectoryError, normalize_number, read_directory
from ivr.store.engine import StoreError, default_url, migrate, open_engine, safe_url
from ivr.store.users import ROLES, Principal, UserError, Users
from ivr.store.writer import StoreWriter

__all__ = [
    "OUTCOMES",
    "ROLES",
    "DirectoryError",
    "Principal",
    "Store",
    "StoreError",
    "UserError",
    "default_url",
    "normalize_number",
    "read_directory",
]


class Store:
    """One store, opened (and migrated to the newest schema) from a URL."""

    def __init__(self, url: str, migrate_schema: bool = True) -> None:
        self.url = url
        self.engine = open_engine(url)
        if migrate_schema:
            migrate(self.engine)
        self.directory = Directory(self.engine)
        self.calls = CallRecords(self.engine)
        self.users = Users(self.engine)
        self.agents = Agents(self.engine, self.users)
        self.console = ConsoleRecords(self.engine)
        from ivr.kb.entries import KnowledgeRecords
        from ivr.qa.records import QaRecords

        self.kb = KnowledgeRecords(self.engine)
        self.qa = QaRecords(self.engine)
        self._writer: StoreWriter | None = None
        self._lock = threading.Lock()

    @property
    def writer(self) -> StoreWriter:
        """The process's writer thread (started on first use)."""
        with self._lock:
            if self._writer is None:
                self._writer = StoreWriter(self.engine)
            return self._writer

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)})"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()
