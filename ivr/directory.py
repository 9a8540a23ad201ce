"""The callers' directory: who a number is (name, account, tier), imported from CSV or YAML."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, delete, func, insert, select

from ivr.store.engine import write_tx
from ivr.store.tables import callers

TIERS = ("standard", "gold", "vip")


class DirectoryError(Exception):
    """A directory file that cannot be imported; the message names the file and row."""


def normalize_number(number: str) -> str:
    """'+44 7700 900001' and 'sip:+447700900001@host' -> '+447700900001'."""
    n = number.strip()
    if n.startswith(("sip:", "sips:", "tel:")):
        n = n.split(":", 1)[1].split("@", 1)[0]
    keep = "".join(ch for ch in n if ch.isdigit() or ch == "+")
    return keep or n


class Directory:
    """Callers by number (imported with `ivr directory import`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def caller(self, number: str, *forms: str) -> dict[str, Any] | None:
        """The directory entry of a caller's number (or of one of its other `forms`: E.164, as
        dialled nationally), with known=True; None if unknown."""
        wanted = [normalize_number(n) for n in (number, *forms)]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(callers.c.number, callers.c.name, callers.c.account, callers.c.tier).where(
                    callers.c.number.in_(wanted)
                )
            ).all()
        row = min(rows, key=lambda r: wanted.index(r[0]), default=None)
        if row is None:
            return None
        return {"number": row[0], "name": row[1], "account": row[2], "tier": row[3], "known": True}

    def upsert(self, rows: Iterable[Mapping[str, str]]) -> int:
        items = {
            normalize_number(r["number"]): {
                "number": normalize_number(r["number"]),
                "name": r.get("name", ""),
                "account": r.get("account", ""),
                "tier": r.get("tier") or "standard",
            }
            for r in rows
        }
        if not items:
            return 0
        numbers = list(items)
        with write_tx(self.engine) as conn:
            for i in range(0, len(numbers), 500):
                chunk = numbers[i : i + 500]
                conn.execute(delete(callers).where(callers.c.number.in_(chunk)))
                conn.execute(insert(callers), [items[n] for n in chunk])
        return len(items)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(callers)).scalar_one())


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
