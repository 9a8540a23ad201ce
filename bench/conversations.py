"""Conversations with callers: the multi-turn scripted callers of tests/conversations/ (goodbyes,
fragments, spoken numbers, two requests in one turn, self-corrections, confirming before a
transfer), each spoken by piper and heard through the call's real pipeline and the hotline's
dialplan at a fixed open hour. Prints the share right per case type, what went wrong, and
the end of speech -> answer wait over all the calls (audio time).

    .venv/bin/python bench/conversations.py [--only NAME] [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from dataclasses import replace

from common import ROOT, pct  # noqa: F401  (puts the repository on sys.path)

from ivr.call.services import open_services
from ivr.events import EventType
from ivr.settings import Settings
from tests.tools.conversations import CASES, Hotline, all_conversations, problems


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="only conversations whose name contains this")
    ap.add_argument("--show", action="store_true", help="print what each wrong call did")
    args = ap.parse_args()
    settings = replace(Settings.from_env(), greeting="")
    todo = [c for c in all_conversations() if args.only in c.name]
    right: dict[str, list[bool]] = defaultdict(list)
    waits: list[float] = []
    t0 = time.perf_counter()
    async with open_services(settings) as services:
        with Hotline(services) as hotline:
            for c in todo:
                events = await hotline.call(c)
                wrong = problems(c, events)
                right[c.case].append(not wrong)
                says = [e.t_ms for e in events if e.type is EventType.SAY]
                for e in events:
                    if e.type is EventType.SPEECH_END:
                        end = e.data["onset_ms"] + e.data["duration_ms"]
                        answer = next((t for t in says if t >= e.t_ms), None)
                        if answer is not None:
                            waits.append(answer - end)
                if wrong:
                    print(f"  WRONG {c.name}: {'; '.join(wrong)}")
                    if args.show:
                        for e in events:
                            if e.type in (EventType.FINAL_TRANSCRIPT, EventType.SAY, EventType.INTENT):
                                print(
                                    f"      {e.t_ms:6d} {e.type}: {e.data.get('text', '')!r}"
                                    f" {e.data.get('name', '')} {e.data.get('ignored', '')} {e.data.get('by', '')}"
                                )
    total = sum(len(v) for v in right.values())
    ok = sum(sum(v) for v in right.values())
    print(f"Conversations through audio ({total}):")
    for case in CASES:
        if right[case]:
            print(
                f"  {case:13s} {sum(right[case]):2d} / {len(right[case]):2d}  {sum(right[case]) / len(right[case]):6.1%}"
            )
    print(f"  {'all':13s} {ok:2d} / {total:2d}  {ok / max(1, total):6.1%}")
    print(
        f"  end of speech -> the IVR's next words: p50 {pct(waits, 50):.0f} ms, p95 {pct(waits, 95):.0f} ms over {len(waits)} turns (audio time)"
    )
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
