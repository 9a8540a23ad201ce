"""`ivr hosts` and `ivr drain`: the machines of a hotline on several hosts, from the store's
heartbeats (`ivr.app.hosts`)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ivr.app.hosts import LOST_AFTER_S, Hosts
from ivr.cli.common import UsageError, settings_from
from ivr.cli.context import open_store
from ivr.store.engine import UserError

NO_HOSTS = (
    "no hosts have announced themselves: media and speech hosts of a hotline on several machines "
    "do (ivr serve --role media|speech); one box (--role all) has none"
)


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("HOST", "ROLE", "ADDRESS", "PORTS", "STATE", "LOAD", "BEAT", "NOTE")
    lines = [head]
    for r in rows:
        state = r["state"]
        if state in ("up", "draining") and r["heartbeat_age_s"] > LOST_AFTER_S:
            state += " (silent)"  # lost, until a survivor cleans up
        lines.append((
            r["name"], r["role"], r["address"], ",".join(map(str, r["ports"])) or "-", state,
            f"{r['load']}/{r['capacity']}", f"{r['heartbeat_age_s']:.0f} s ago", r["note"],
        ))  # fmt: skip
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head) - 1)]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line[:-1], widths, strict=True)) + "  " + str(line[-1])
        for line in lines
    ).rstrip()


def cmd_hosts(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    try:
        hosts = Hosts(store.engine)
        if args.action == "remove":
            if not args.name:
                raise UsageError("ivr hosts remove NAME: which host to forget")
            try:
                hosts.remove(args.name)
            except UserError as e:
                raise UsageError(str(e)) from None
            print(f"{args.name}: forgotten")
            return 0
        now = time.time()
        rows = [h.shown(now) for h in hosts.list()]
    finally:
        store.close()
    print(json.dumps({"hosts": rows}, indent=2) if args.json else (_table(rows) if rows else NO_HOSTS))
    return 0


def cmd_drain(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    try:
        hosts = Hosts(store.engine)
        try:
            host = hosts.drain(args.name, draining=not args.undo)
        except UserError as e:
            raise UsageError(str(e)) from None
        calls = hosts.live_calls(args.name)
    finally:
        store.close()
    if args.json:
        print(json.dumps({**host.shown(time.time()), "live_calls": calls}))
    elif args.undo:
        print(f"{host.name}: up; new calls go to it again")
    else:
        print(f"{host.name}: draining; no new calls go to it, its {calls} call(s) finish there")
    return 0
