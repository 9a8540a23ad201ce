"""The records of the hotline: every feature's queries over one store (`ivr.store`). The one
place that puts them together, for the processes, the API and the command line."""

from __future__ import annotations

from pathlib import Path

from ivr.acd.agents import Agents
from ivr.acd.desk import ConsoleRecords
from ivr.acd.transfers import Transfers
from ivr.call.cdr import OUTCOMES, CallRecords
from ivr.directory import Directory, DirectoryError, normalize_number, read_directory
from ivr.kb.entries import KnowledgeRecords
from ivr.qa.records import QaRecords
from ivr.radar.records import RadarRecords
from ivr.store import Database, StoreError, UserError, default_url
from ivr.users import ROLES, Principal, Users

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


class Store(Database):
    """One store with every feature's records: `directory`, `calls`, `users`, `agents`,
    `console` (wrap-ups, monitoring), `kb`, `qa`, `radar` (labels, versions)."""

    def __init__(self, url: str, migrate_schema: bool = True, spill_dir: Path | None = None) -> None:
        super().__init__(url, migrate_schema, spill_dir)
        self.directory = Directory(self.engine)
        self.calls = CallRecords(self.engine)
        self.users = Users(self.engine)
        self.agents = Agents(self.engine, self.users)
        self.console = ConsoleRecords(self.engine)
        self.transfers = Transfers(self.engine)
        self.kb = KnowledgeRecords(self.engine)
        self.qa = QaRecords(self.engine)
        self.radar = RadarRecords(self.engine)
