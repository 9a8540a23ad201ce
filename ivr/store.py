"""The store: a SQLite file by default. Callers' directory now; calls and queues later.

Workers keep no state another process needs: what must be shared lives here.
"""

from __future__ import annotations

import csv
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

TIERS = ("standard", "gold", "vip")
SCHEMA = """
CREATE TABLE IF NOT EXISTS callers (
    number TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    tier TEXT NOT NULL DEFAULT 'standard'
);
"""


class DirectoryError(Exception):
    """A directory file that cannot be imported; the message names the file and row."""


def normalize_number(number: str) -> str:
    """'+44 7700 900001' and 'sip:+447700900001@host' -> '+447700900001'."""
    n = number.strip()
    if n.startswith(("sip:", "sips:", "tel:")):
        n = n.split(":", 1)[1].split("@", 1)[0]
    keep = "".join(ch for ch in n if ch.isdigit() or ch == "+")
    return keep or n


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def caller(self, number: str) -> dict[str, Any] | None:
        """The directory entry of a caller's number, with known=True; None if unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT number, name, account, tier FROM callers WHERE number = ?",
                (normalize_number(number),),
            ).fetchone()
        if row is None:
            return None
        return {"number": row[0], "name": row[1], "account": row[2], "tier": row[3], "known": True}

    def upsert_callers(self, rows: Iterable[Mapping[str, str]]) -> int:
        items = [
            (
                normalize_number(r["number"]),
                r.get("name", ""),
                r.get("account", ""),
                r.get("tier") or "standard",
            )
            for r in rows
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO callers(number, name, account, tier) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(number) DO UPDATE SET name=excluded.name, account=excluded.account, "
                "tier=excluded.tier",
                items,
            )
        return len(items)

    def count_callers(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM callers").fetchone()[0])


def read_directory(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV (number,name,account,tier) or YAML (list of mappings) directory file.
    Every row is checked before anything is imported: a bad file imports nothing."""
    p = Path(path)
    if not p.is_file():
        raise DirectoryError(f"{p}: no such file")
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise DirectoryError(f"{p}: expected a list of callers")
            rows = [(i + 1, r) for i, r in enumerate(data)]
        else:
            with open(p, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if not reader.fieldnames or "number" not in reader.fieldnames:
                    raise DirectoryError(f"{p}:1: the header must name a 'number' column")
                rows = [(i + 2, r) for i, r in enumerate(reader)]
    except (yaml.YAMLError, UnicodeDecodeError, csv.Error) as e:
        raise DirectoryError(f"{p}: cannot read ({e})") from None
    out: list[dict[str, str]] = []
    for line, r in rows:
        if not isinstance(r, dict):
            raise DirectoryError(f"{p}:{line}: expected number, name, account, tier")
        number = str(r.get("number") or "").strip()
        if not any(ch.isdigit() for ch in number):
            raise DirectoryError(f"{p}:{line}: missing or invalid number {number!r}")
        tier = str(r.get("tier") or "standard").strip().lower()
        if tier not in TIERS:
            raise DirectoryError(f"{p}:{line}: tier {tier!r} is not one of {', '.join(TIERS)}")
        out.append(
            {
                "number": number,
                "name": str(r.get("name") or "").strip(),
                "account": str(r.get("account") or "").strip(),
                "tier": tier,
            }
        )
    return out
