"""Turn-taking benchmark: spoken requests (piper at 8 kHz) through the call's real pipeline
(VAD, speculative finals, adaptive endpointing, whisper) with and without patient endpointing
(`clause_silence_ms`), and the runner's grace join (`join_grace_ms`) applied to what came out.

For each utterance it reports how often the turn is split into more than one final, the
intent of what the IVR would route (the first final alone, or the joined turn), and the
end-of-speech -> turn-end latency in audio time (what the caller waits before the IVR can
answer; model time is excluded: the pipeline is deterministic here).

Sets: the held-out intent paraphrases (`bench/data/intent_paraphrases.tsv`, said in one go)
and requests said with a pause mid-thought (`bench/data/turn_pauses.tsv`, "part | part")."""

from __future__ import annotations

import argparse
import asyncio
import time

from common import ROOT, pct
from spoken import joined, load, spoken, turn

from ivr.call.services import open_services
from ivr.dialplan import load_dialplan
from ivr.dialplan.turns import JOIN_GRACE_MS
from ivr.nlu.intents import IntentMatcher
from ivr.settings import Settings
from speech.vad import VadSettings


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=0, help="at most this many utterances per set")
    ap.add_argument("--pause-ms", type=int, default=600, help="the pause mid-thought in the paused set")
    args = ap.parse_args()
    dp = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
    sets = {"in one go": load("intent_paraphrases.tsv"), "paused mid-thought": load("turn_pauses.tsv")}
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    modes = {"before (450 ms, no clause wait)": VadSettings(clause_silence_ms=0), "after": VadSettings()}
    t0 = time.perf_counter()
    async with open_services(Settings.from_env()) as services:
        matcher = IntentMatcher(
            services.embedder, dp.intents, float(dp.settings.get("intent_threshold", 0.5)), dp.keywords
        )
        said = {
            name: [await spoken(services.speech, parts, args.pause_ms) for _, parts in rows]
            for name, rows in sets.items()
        }
        print(
            f"Turn-taking benchmark (hotline intents; piper at 8 kHz -> VAD -> whisper; grace join {JOIN_GRACE_MS} ms;"
            f" pause mid-thought {args.pause_ms} ms)"
        )
        for name, rows in sets.items():
            print(f"  {name} ({len(rows)} requests):")
            for mode, vad in modes.items():
                split = first_ok = join_ok = 0
                waits: list[int] = []
                for (intent, _), (audio, voice_end) in zip(rows, said[name], strict=True):
                    finals = await turn(services, audio, vad)
                    if not finals:
                        continue
                    split += len(finals) > 1
                    whole = joined(finals, JOIN_GRACE_MS)
                    first_ok += (await asyncio.to_thread(matcher.match, finals[0]["text"])).name == intent
                    join_ok += (await asyncio.to_thread(matcher.match, whole)).name == intent
                    waits.append(finals[-1]["end"].t_ms - voice_end)
                n = len(rows)
                print(
                    f"    {mode:32s} split {split / n:5.1%}; intent first part {first_ok / n:5.1%},"
                    f" joined {join_ok / n:5.1%}; end of speech -> turn end p50 {pct(waits, 50):.0f} ms,"
                    f" p95 {pct(waits, 95):.0f} ms"
                )
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
