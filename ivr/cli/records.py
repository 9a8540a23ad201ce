"""`ivr calls` (list, show, export, purge) and `ivr users` (add, list, remove): the store's
records and the API's users, read and changed from the shell."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.cli.common import UsageError, settings_from
from ivr.cli.context import open_store
from ivr.records import OUTCOMES, UserError


def _since(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since {value!r}: use ISO time, e.g. 2026-12-01 or 2026-12-01T09:30") from None
    return (when if when.tzinfo else when.astimezone()).timestamp()


def _line(c: dict[str, Any]) -> str:
    dur = f"{c['duration_ms'] / 1000:6.1f}s" if c.get("duration_ms") is not None else "   live"
    intents = ",".join(i["name"] for i in c["intents"]) or "-"
    who = c["caller"] or "-"
    if c.get("caller_name"):
        who += f" ({c['caller_name']})"
    queue = f" -> {c['queue']}" if c.get("queue") else ""
    return (
        f"{c['started']}  {c['id']:<32} {who:<28} {dur}  {c['outcome'] or c['status']:<15} {intents}{queue}"
    )


def cmd_calls(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = open_store(settings)
    try:
        if args.action == "list":
            if not 1 <= args.limit <= 100000:
                raise UsageError(f"--limit {args.limit}: from 1 to 100000")
            if args.outcome and args.outcome not in OUTCOMES:
                raise UsageError(f"--outcome {args.outcome!r} is not one of {', '.join(OUTCOMES)}")
            page = store.calls.list(since=_since(args.since), outcome=args.outcome, limit=args.limit)
            for c in page.calls:
                print(json.dumps(c, ensure_ascii=False) if args.json else _line(c))
            if not args.json and not page.calls:
                print("no calls", file=sys.stderr)
            return 0
        if args.action == "show":
            call = store.calls.get(args.id)
            if call is None:
                print(f"no call {args.id!r} in {store!r}", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(call, ensure_ascii=False, indent=2))
                return 0
            print(_line(call))
            print(
                f"  outcome {call['outcome']} ({call['end_reason']}); path {' > '.join(call['path']) or '-'}"
            )
            if call["recording_path"]:
                print(f"  recording {call['recording_path']} ({(call['recording_ms'] or 0) / 1000:.1f} s)")
            for t in call["transcript"]:
                print(f"  {t['t_ms'] / 1000:7.2f}s  {t['speaker']:<6} {t['text']}")
            return 0
        if args.action == "export":
            target = Path(args.csv)
            try:
                with open(target, "w", newline="", encoding="utf-8") as f:
                    n = store.calls.export_csv(f)
            except OSError as e:
                raise UsageError(f"{target}: cannot write ({e.strerror})") from None
            print(f"exported {n} call(s) to {target}", file=sys.stderr)
            return 0
        if args.action == "purge":
            counts = store.calls.purge(settings.recordings_days, settings.transcripts_days, settings.data_dir)
            print(
                f"purged {counts['recordings']} recording(s) older than {settings.recordings_days:g} days and "
                f"{counts['transcripts']} transcript(s) older than {settings.transcripts_days:g} days",
                file=sys.stderr,
            )
            return 0
    finally:
        store.close()
    return 2


def read_password(args: argparse.Namespace, confirm: bool) -> str:
    if getattr(args, "password_file", None):
        try:
            return Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise UsageError(f"--password-file {args.password_file}: {e.strerror}") from None
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask the password on: use --password-file FILE")
    first = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != first:
        raise UsageError("the passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    try:
        if args.action == "add":
            password = read_password(args, confirm=True)
            try:
                store.users.add(args.name, args.role, password, replace=args.replace)
            except UserError as e:
                raise UsageError(str(e)) from None
            print(f"user {args.name} ({args.role}) saved in {store!r}", file=sys.stderr)
            return 0
        if args.action == "list":
            for u in store.users.list():
                print(f"{u['user']:<24} {u['role']}")
            return 0
        if args.action == "remove":
            if not store.users.remove(args.name):
                print(f"no user {args.name!r}", file=sys.stderr)
                return 1
            return 0
    finally:
        store.close()
    return 2


def api_token(args: argparse.Namespace, url: str) -> str:
    """A bearer token for a command that calls the API: --token, IVR_TOKEN, or a login
    as --user (password from --password-file or a prompt)."""
    import httpx

    if getattr(args, "token", None):
        return str(args.token)
    if os.environ.get("IVR_TOKEN"):
        return os.environ["IVR_TOKEN"]
    if not getattr(args, "user", None):
        raise UsageError("this needs an admin's token: --user NAME (asks for the password) or IVR_TOKEN")
    password = read_password(args, confirm=False)
    try:
        r = httpx.post(
            f"{url.rstrip('/')}/api/login", json={"user": args.user, "password": password}, timeout=30
        )
    except httpx.HTTPError as e:
        raise UsageError(f"cannot reach the service at {url}: {e}") from None
    if r.status_code != 200:
        raise UsageError(f"login as {args.user} refused: wrong user or password")
    return str(r.json()["token"])


def cmd_agents(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = open_store(settings)
    try:
        if args.action == "add":
            password = read_password(args, confirm=True)
            skills = [s.strip() for s in args.skills.split(",") if s.strip()]
            try:
                store.agents.add(
                    args.name, password, skills, args.level, realm=settings.sip_host, replace=args.replace
                )
            except UserError as e:
                raise UsageError(str(e)) from None
            print(
                f"agent {args.name} ({', '.join(skills)}, level {args.level}) saved in {store!r}",
                file=sys.stderr,
            )
            return 0
        if args.action == "list":
            for a in store.agents.list():
                state = f"{a.state}" + (f" ({a.reason})" if a.reason else "")
                print(f"{a.name:<20} {state:<20} level {a.level}  {','.join(sorted(a.skills))}")
            return 0
    finally:
        store.close()
    return 2
