"""`ivr validate`, `ivr directory`, `ivr reload`, `ivr schema`: the admin's commands."""

from __future__ import annotations

import argparse
import json
import sys

from ivr.cli.common import UsageError, settings_from
from ivr.cli.context import open_store
from ivr.cli.records import api_token
from ivr.dialplan import check_dialplan
from ivr.dialplan.schema import json_schema
from ivr.records import DirectoryError, read_directory
from ivr.telephony.numbers import check_numbers, is_numbers_file, line_problems, numbers_schema


def cmd_validate(args: argparse.Namespace) -> int:
    """Dialplans, and numbers files (a file with `numbers:`) with every dialplan they name."""
    errors = 0
    files = list(args.files)
    while files:
        f = files.pop(0)
        if is_numbers_file(f):
            numbers, issues = check_numbers(f)
            for issue in issues:
                print(issue)
            errors += sum(1 for i in issues if i.severity == "error")
            if numbers is not None:
                print(
                    f"{f}: ok ({len(numbers.lines)} numbers, {len(numbers.dialplans)} dialplans)",
                    file=sys.stderr,
                )
                files[:0] = [str(p) for p in numbers.dialplans.values()]
                for name, file in numbers.dialplans.items():
                    plan, _ = check_dialplan(file)
                    problems = line_problems(numbers, name, plan) if plan is not None else []
                    for problem in problems:
                        print(problem)
                    errors += len(problems)
            continue
        dialplan, issues = check_dialplan(f)
        for issue in issues:
            print(issue)
        errors += sum(1 for i in issues if i.severity == "error")
        if dialplan is not None:
            warn = len(dialplan.warnings)
            print(
                f"{f}: ok ({len(dialplan.nodes)} nodes, {len(dialplan.intents)} intents"
                + (f", {warn} warning(s)" if warn else "")
                + ")",
                file=sys.stderr,
            )
    return 1 if errors else 0


def cmd_directory(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    try:
        if args.action == "import":
            try:
                rows = read_directory(args.file)
            except DirectoryError as e:
                raise UsageError(str(e)) from None
            n = store.directory.upsert(rows)
            print(f"imported {n} caller(s) into {store!r} ({store.directory.count()} in the directory)")
            return 0
        entry = store.directory.caller(args.number)
        if entry is None:
            print(f"{args.number}: not in the directory", file=sys.stderr)
            return 1
        print(json.dumps(entry))
        return 0
    finally:
        store.close()


def cmd_reload(args: argparse.Namespace) -> int:
    import httpx

    token = api_token(args, args.url)
    try:
        r = httpx.post(
            f"{args.url.rstrip('/')}/api/dialplan/reload",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as e:
        raise UsageError(f"cannot reach the service at {args.url}: {e}") from None
    try:
        body = r.json()
    except ValueError:
        raise UsageError(f"{args.url} answered HTTP {r.status_code}, not as an ivr service") from None
    if r.status_code in (401, 403):
        raise UsageError(f"{args.url}: {body.get('detail', 'refused')}")
    if r.status_code == 200:
        state = "reloaded" if body.get("changed") else "unchanged"
        print(f"{body.get('file')}: {state} (version {body.get('version')!r}, {body.get('digest')})")
        return 0
    for line in body.get("errors") or [body.get("detail", "refused")]:
        print(line, file=sys.stderr)
    print("refused: the running dialplan stays", file=sys.stderr)
    return 1


def cmd_schema(args: argparse.Namespace) -> int:
    """The dialplan's (or the numbers file's) JSON Schema, for editors."""
    print(json.dumps(numbers_schema() if getattr(args, "numbers", False) else json_schema(), indent=2))
    return 0
