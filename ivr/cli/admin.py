"""`ivr validate`, `ivr directory`, `ivr reload`, `ivr radar`: the admin's commands."""

from __future__ import annotations

import argparse
import json
import sys

from ivr.cli.common import UsageError, fail, settings_from
from ivr.cli.context import open_store
from ivr.cli.records import api_token
from ivr.dialplan import check_dialplan
from ivr.dialplan.schema import json_schema
from ivr.nlu.intents import plain
from ivr.records import DirectoryError, read_directory
from ivr.telephony.numbers import check_numbers, is_numbers_file, line_problems, numbers_schema
from prosody.radar import Radar, RadarModel
from prosody.words import WORDS_PATH, WordsModel
from speech.audio import AudioError, decode_file
from speech.embed import Embedder


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


def _valence(text: str):
    """What `text` says (models/words.json on the intent embedder), as a call's radar hears it."""

    if not WORDS_PATH.exists():
        raise UsageError(f"--words: {WORDS_PATH} is missing (bench/radar_words.py --write makes it)")
    try:
        model = WordsModel.load()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(
            f"--words: {WORDS_PATH} is unreadable ({e}); bench/radar_words.py --write remakes it"
        ) from None
    return model.valence(Embedder().embed([plain(text)])[0])


def cmd_radar(args: argparse.Namespace) -> int:
    """Each FILE is scored on its own radar, after the --baseline recordings."""
    try:
        model = RadarModel.load()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(
            f"models/radar.json is unreadable ({e}); bench/radar_calibrate.py remakes it"
        ) from None
    words = _valence(args.words) if args.words else None
    baselines = []
    for b in args.baseline:
        try:
            baselines.append(decode_file(b))
        except AudioError as e:
            raise UsageError(f"--baseline {e}") from None
    failures = 0
    for f in args.files:
        try:
            samples, rate = decode_file(f)
        except AudioError as e:
            fail(str(e))
            failures += 1
            continue
        radar = Radar(model)
        for b_samples, b_rate in baselines:
            if not radar.learn_baseline(b_samples, b_rate):
                fail("a --baseline recording has too little voice to learn from")
        update = radar.update(samples, rate, words=words)
        if update is None:
            fail(f"{f}: too little voice to judge")
            failures += 1
            continue
        row = {
            "file": f,
            "anger": update.anger,
            "anxiety": update.anxiety,
            "level": update.level,
            "escalate": update.level == "escalate",
        }
        if update.valence is not None:
            row["valence"] = update.valence
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{f}: anger {update.anger:.2f}, anxiety {update.anxiety:.2f}, level {update.level}"
                + ("" if update.valence is None else f", words {update.valence:+.2f}")
                + (" -> ESCALATE" if row["escalate"] else "")
            )
    return 2 if failures else 0


def cmd_schema(args: argparse.Namespace) -> int:
    """The dialplan's (or the numbers file's) JSON Schema, for editors."""
    print(json.dumps(numbers_schema() if getattr(args, "numbers", False) else json_schema(), indent=2))
    return 0
