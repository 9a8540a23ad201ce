"""Spoken numbers: six-digit account numbers and eleven-digit phone numbers said as callers say
them ("oh seven seven double oh...", "three hundred, oh four five", groups with pauses), by
piper at 8 kHz, through the call's speech pipeline (VAD, endpointing, whisper through the
speech service) at a digits gather, and read as the gather reads them; the turns the runner
would join are joined.

Per set: right first time (sure), right after a read-back, caught by the read-back (wrong, but
read back: the caller says no and is asked again), wrong length (asked again), and wrong but
accepted without a read-back (the error that matters). Two sets from different seeds; the
check set adds styles the dev set does not have ("nought", "X hundred", long pauses).

    .venv/bin/python bench/digits.py [--set dev|check] [--n 40]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import replace

import numpy as np
from common import ROOT
from spoken import RATE, joined, turn

from ivr.call.services import open_services
from ivr.dialplan import load_dialplan
from ivr.dialplan.turns import JOIN_GRACE_MS
from ivr.settings import Settings

try:  # today's reading; before #29 a gather read `spoken_digits` and trusted any right length
    from ivr.dialplan.digits import read_digits
except ImportError:  # the code before (run from a worktree of an older commit)
    from ivr.dialplan.spoken import spoken_digits as _old

    class _Old:
        def __init__(self, digits: str, n: int) -> None:
            self.digits, self.sure = digits, len(digits) == n

    def read_digits(text: str, lo: int = 1, hi: int = 32):  # type: ignore[no-redef]
        return _Old(_old(text), hi)


WORD = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
STYLES = {
    "dev": ["plain", "oh", "double", "groups"],
    "check": ["plain", "nought", "double", "hundred", "pause"],
}


def number(rng: random.Random, n: int, style: str) -> str:
    if n == 11:
        digits = "07" + "".join(rng.choice("0123456789") for _ in range(9))
    else:
        digits = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(5))
    if style == "double":  # make a run to say as "double"/"triple"
        i = rng.randrange(2, n - 3)
        run = rng.choice((2, 3))
        digits = digits[:i] + digits[i] * run + digits[i + run :]
    if style == "hundred":  # a group of X00
        i = 3 if n == 6 else 5
        digits = digits[:i] + rng.choice("123456789") + "00" + digits[i + 3 :]
    return digits


def groups_of(digits: str) -> list[str]:
    return [digits[:3], digits[3:]] if len(digits) == 6 else [digits[:5], digits[5:8], digits[8:]]


def say_group(group: str, style: str, rng: random.Random) -> str:
    zero = {"oh": "oh", "nought": "nought"}.get(
        style, rng.choice(("oh", "zero")) if style != "plain" else "zero"
    )
    if style == "hundred" and len(group) == 3 and group.endswith("00") and group[0] != "0":
        return f"{WORD[int(group[0])]} hundred"
    out, i = [], 0
    while i < len(group):
        d = group[i]
        run = 1
        while style in ("double", "hundred") and i + run < len(group) and group[i + run] == d and run < 3:
            run += 1
        word = zero if d == "0" else WORD[int(d)]
        out.append({1: word, 2: f"double {word}", 3: f"triple {word}"}[run])
        i += run
    return " ".join(out)


async def spoken(speech, parts: list[str], pause_ms: int) -> np.ndarray:
    pieces = [np.zeros(RATE // 2, np.int16)]
    for i, part in enumerate(parts):
        if i:
            pieces.append(np.zeros(pause_ms * RATE // 1000, np.int16))
        pieces.append(np.frombuffer(await speech.synthesize(part, RATE), dtype="<i2"))
    return np.concatenate([*pieces, np.zeros(RATE * 2, np.int16)])


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("dev", "check"), default="dev")
    ap.add_argument("--n", type=int, default=40, help="numbers (half six digits, half eleven)")
    ap.add_argument("--show", action="store_true", help="print every number heard wrong")
    args = ap.parse_args()
    rng = random.Random({"dev": 1, "check": 2}[args.set])
    settings = replace(Settings.from_env(), greeting="")
    hints = str(load_dialplan(ROOT / "dialplans" / "hotline.yaml").settings.get("asr_hints") or "")
    styles = STYLES[args.set]
    counts = {
        "right": 0,
        "right after read-back": 0,
        "caught by read-back": 0,
        "wrong length": 0,
        "wrong, accepted": 0,
    }
    t0 = time.perf_counter()
    async with open_services(settings) as services:
        for k in range(args.n):
            n = 6 if k % 2 == 0 else 11
            style = styles[k % len(styles)]
            digits = number(rng, n, style)
            said = [say_group(g, style, rng) for g in groups_of(digits)]
            if style == "pause":
                audio = await spoken(services.speech, said, 700)
            else:
                audio = await spoken(services.speech, [", ".join(said)], 0)
            finals = await turn(services, audio, settings.vad, hints, settings.hearing, expect="digits")
            text = joined(finals, JOIN_GRACE_MS) if finals else ""
            r = read_digits(text, n, n)
            if len(r.digits) != n:
                kind = "wrong length"
            elif r.digits == digits:
                kind = "right" if r.sure else "right after read-back"
            else:
                kind = "caught by read-back" if not r.sure else "wrong, accepted"
            counts[kind] += 1
            if args.show and kind != "right":
                heard = " | ".join(f["text"] for f in finals)
                print(f"  {kind:22s} {digits} said {' / '.join(said)!r} heard {heard!r} -> {r.digits}")
    total = sum(counts.values())
    print(
        f"Spoken numbers, set {args.set} ({total}: {args.n // 2 + args.n % 2} six-digit, {args.n // 2} eleven-digit; styles {', '.join(styles)})"
    )
    for kind, c in counts.items():
        print(f"  {kind:22s} {c:3d}  {c / total:6.1%}")
    right = counts["right"] + counts["right after read-back"]
    print(
        f"  right in the end (first answer): {right / total:.1%}; read back {counts['right after read-back'] + counts['caught by read-back']}"
    )
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
