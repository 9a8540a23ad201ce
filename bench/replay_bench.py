"""Whole-replay benchmark: seconds to replay a 60 s call through `ivr replay`'s pipeline, and the
end-of-speech -> answer wait over the golden scripted calls (bench/answer_latency.py)."""

from __future__ import annotations

import asyncio
import time

from answer_latency import report
from common import sixty_second_call

from ivr.call.build import build_call
from ivr.call.services import open_services
from ivr.events import EventType
from ivr.replay import ReplayTransport
from ivr.settings import Settings


async def main() -> None:
    settings = Settings.from_env()
    t0 = time.perf_counter()
    audio = sixty_second_call()
    runs = []
    counts = {}
    async with open_services(settings) as services:  # the in-process speech service, as ivr replay
        load_s = time.perf_counter() - t0
        for _ in range(3):
            events = []
            t0 = time.perf_counter()
            transport = ReplayTransport("call60", audio, 8000)
            await build_call(transport, services, settings, events.append, deterministic=True).run()
            runs.append(time.perf_counter() - t0)
            counts = {k: sum(1 for e in events if e.type is k) for k in EventType}
    print("Replay benchmark (a 60 s call at 8 kHz: greeting, 11 utterances, partials every 0.5 s)")
    print(f"  speech service start (models loaded): {load_s:.2f} s (once per run of `ivr replay`)")
    print(
        f"  replay: best {min(runs):.1f} s, median {sorted(runs)[1]:.1f} s for 60 s of audio "
        f"({60 / min(runs):.1f}x real time)"
    )
    print(
        f"  events: {counts[EventType.FINAL_TRANSCRIPT]} final, "
        f"{counts[EventType.PARTIAL_TRANSCRIPT]} partial transcripts"
    )
    async with open_services(settings) as services:
        await report(services)


if __name__ == "__main__":
    asyncio.run(main())
