"""`ivr numbers list`: each number the hotline is called on, the dialplan it runs (its version
and when the running workers loaded it), and its calls today."""

from __future__ import annotations

import argparse
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.cli.common import UsageError, settings_from
from ivr.cli.context import open_store
from ivr.telephony.kamailio import kamcmd
from ivr.telephony.numbers import Numbers, check_numbers


def _running(run_dir: Path) -> tuple[dict[str, dict[str, Any]], float]:
    """What live workers run: dialplan name -> its status (the latest load), and when the
    numbers file was last loaded (0: no worker runs)."""
    plans: dict[str, dict[str, Any]] = {}
    numbers_at = 0.0
    for f in run_dir.glob("dialplans-*.json"):
        try:
            state = json.loads(f.read_text(encoding="utf-8"))
            os.kill(int(state["pid"]), 0)  # a worker that is gone runs nothing
        except (OSError, ValueError, KeyError, TypeError):
            continue
        numbers_at = max(numbers_at, float(state.get("numbers_loaded_at") or 0))
        for name, status in (state.get("dialplans") or {}).items():
            if (status.get("loaded_at") or 0) >= (plans.get(name, {}).get("loaded_at") or 0):
                plans[name] = status
    return plans, numbers_at


def _registration(run_dir: Path, trunk: str) -> str:
    """A registering trunk's state in Kamailio: registered, registering, failed, or unknown."""
    info = kamcmd(run_dir, "uac.reg_info", "l_uuid", trunk)
    m = re.search(r"flags: (\d+)", info or "")
    if m is None:
        return "unknown (is ivr serve running?)"
    flags = int(m.group(1))
    return "registered" if flags & 4 else ("registering" if flags & 10 else "not registered")


def _clock(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).isoformat(sep=" ", timespec="seconds") if ts else "-"


def numbers_file(args: argparse.Namespace, settings: Any) -> Numbers:
    """The numbers file of --numbers (or IVR_NUMBERS), checked: its problems are a usage error."""
    path = args.numbers or settings.numbers
    if not path:
        raise UsageError("no numbers file: give --numbers FILE (or set IVR_NUMBERS)")
    numbers, issues = check_numbers(path)
    if numbers is None:
        raise UsageError(f"{path}: the numbers file has errors:\n" + "\n".join(map(str, issues)))
    return numbers


def cmd_numbers(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    numbers = numbers_file(args, settings)
    path = numbers.file
    plans, numbers_at = _running(Path(settings.data_dir).resolve() / "run")
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).timestamp()
        except ValueError:
            raise UsageError(f"--since {args.since!r}: an ISO date or time") from None
    else:
        since = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    store = open_store(settings)
    try:
        counts = store.calls.count_by_called(since)
    finally:
        store.close()
    rows = []
    for key, line in numbers.lines.items():
        status = plans.get(line.dialplan, {})
        rows.append({
            "number": key, "written": line.written, "line": line.name, "dialplan": line.dialplan,
            "file": str(numbers.dialplans.get(line.dialplan, "")), "version": status.get("version") or status.get("digest"),
            "loaded_at": status.get("loaded_at"), "calls": counts.get(key, 0),
        })  # fmt: skip
    run_dir = Path(settings.data_dir).resolve() / "run"
    trunks = [{"name": t.name, "proxy": t.proxy, "prefixes": list(t.prefixes),
               "registration": _registration(run_dir, t.name) if t.register else ""}
              for t in numbers.trunks.values()]  # fmt: skip
    if args.json:
        print(json.dumps({"file": str(path), "numbers_loaded_at": numbers_at or None, "since": since,
                          "numbers": rows, "trunks": trunks}, indent=2))  # fmt: skip
        return 0
    running = (
        f"loaded by the running workers at {_clock(numbers_at)}" if numbers_at else "no worker runs it now"
    )
    print(f"{path}: {len(rows)} numbers, {running}; calls since {_clock(since)}")
    head = ("NUMBER", "LINE", "DIALPLAN", "VERSION", "LOADED", "CALLS")
    table = [head] + [
        (r["number"], r["line"] or "-", r["dialplan"], str(r["version"] or "-"), _clock(r["loaded_at"]), str(r["calls"]))
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for t in trunks:
        out = f" out {' '.join(t['prefixes'])} via {t['proxy']}" if t["proxy"] else ""
        print(f"trunk {t['name']}:{out}" + (f"; {t['registration']}" if t["registration"] else ""))
    return 0
