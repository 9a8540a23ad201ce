"""`ivr call NUMBER`: a test call out through the numbers file's trunk (`ivr.telephony.testcall`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ivr.cli.common import UsageError, settings_from
from ivr.cli.numbers import numbers_file
from ivr.telephony.numbers import normalize
from ivr.telephony.testcall import place
from ivr.telephony.trunks import trunk_for


def cmd_call(args: argparse.Namespace) -> int:
    """A test call out through the trunk to `number` (an admin's smoke test)."""
    numbers = numbers_file(args, settings_from(args))
    path = numbers.file
    number = normalize(args.number, numbers.region)
    if not number.startswith("+"):
        raise UsageError(f"{args.number!r} is not a phone number (in region {numbers.region or 'none'})")
    if args.trunk:
        trunk = numbers.trunks.get(args.trunk)
        if trunk is None:
            raise UsageError(f"no trunk {args.trunk!r} in {path}: {', '.join(numbers.trunks) or 'none'}")
    else:
        trunk = trunk_for(numbers.trunks, number)
        if trunk is None:
            raise UsageError(f"no trunk in {path} has a prefix for {number}")
    if not trunk.proxy:
        raise UsageError(f"trunk {trunk.name} has no proxy to send calls to")
    record = Path(args.record or f"ivr-call-{number.lstrip('+')}.wav").resolve()
    print(f"calling {number} through trunk {trunk.name} ({trunk.proxy}) as {trunk.caller_id or 'anonymous'}",
          file=sys.stderr, flush=True)  # fmt: skip
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)  # pjlib's own lines go to standard error: standard output is the answer
    try:
        r = place(trunk, number, args.seconds, record, args.digits or "")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    if args.json:
        print(
            json.dumps({"number": number, "trunk": trunk.name, **vars(r), "answered": r.answered}, indent=2)
        )
    elif r.answered:
        ring = f"ringing after {r.ringing_ms} ms, " if r.ringing_ms is not None else ""
        level = f", peak {r.peak_dbfs} dBFS" if r.peak_dbfs is not None else ", silence"
        print(
            f"answered: {ring}answered after {r.answered_ms} ms; heard {r.heard_s:.1f} s{level} -> {r.recording}"
        )
    else:
        print(f"not answered: {r.status} {r.reason}".rstrip())
    return 0 if r.answered and r.peak_dbfs is not None else 1
