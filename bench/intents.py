"""Intent benchmark: top-1 accuracy on held-out paraphrases of the hotline's intents, as text
and through audio (piper speaks each at 8 kHz; the call's real pipeline hears it: VAD, adaptive
and patient endpointing, whisper, the grace join), out-of-scope recall, how often the VAD split
a request, matching time per utterance, and the classifier's training time at load.

Sets (`bench/data/`): `intent_paraphrases.tsv` (session 9) and `intent_paraphrases_more.tsv`
(session 12, with near-domain out-of-scope requests: "do you sell televisions"), both written
apart from the dialplan's examples. `--similarity` scores the nearest-examples matcher alone
(no classifier), as before the classifier."""

from __future__ import annotations

import argparse
import asyncio
import csv
import time
from collections import Counter

from common import ROOT, pct
from spoken import joined, spoken, turn

from ivr.call.services import open_services
from ivr.dialplan import load_dialplan
from ivr.dialplan.turns import JOIN_GRACE_MS
from ivr.dialplan.understanding import Understanding
from ivr.nlu.intents import NONE, IntentMatcher
from ivr.settings import Settings
from speech.vad import VadSettings

SETS = ("intent_paraphrases.tsv", "intent_paraphrases_more.tsv")


def load_set(name: str) -> list[tuple[str, str]]:
    with open(ROOT / "bench" / "data" / name, encoding="utf-8") as f:
        return [(r["intent"], r["text"]) for r in csv.DictReader(f, delimiter="\t")]


def score(pairs: list[tuple[str, str]], predicted: list[str]) -> tuple[float, float, float, Counter]:
    in_scope = [(g, p) for (g, _), p in zip(pairs, predicted, strict=True) if g != NONE]
    oos = [(g, p) for (g, _), p in zip(pairs, predicted, strict=True) if g == NONE]
    overall = sum(g == p for (g, _), p in zip(pairs, predicted, strict=True)) / len(pairs)
    acc_in = sum(g == p for g, p in in_scope) / len(in_scope)
    recall_oos = sum(p == NONE for _, p in oos) / len(oos)
    confusions = Counter((g, p) for (g, _), p in zip(pairs, predicted, strict=True) if g != p)
    return overall, acc_in, recall_oos, confusions


def report(label: str, pairs: list[tuple[str, str]], predicted: list[str]) -> None:
    overall, acc_in, recall, confusions = score(pairs, predicted)
    print(f"    {label:6s} top-1 {overall:6.1%} (in-scope {acc_in:6.1%}), out-of-scope recall {recall:6.1%}")
    if confusions:
        print("           misses:", ", ".join(f"{g}->{p} x{n}" for (g, p), n in confusions.most_common(6)))


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-audio", action="store_true", help="text only")
    ap.add_argument("--similarity", action="store_true", help="nearest examples only, no classifier")
    ap.add_argument("--limit", type=int, default=0, help="at most this many utterances per set")
    ap.add_argument("--no-hints", action="store_true", help="without the dialplan's asr_hints")
    ap.add_argument("--misses", action="store_true", help="print what was heard for each audio miss")
    ap.add_argument(
        "--no-expect",
        action="store_true",
        help="finals not rescored towards the intents' words (as before #29)",
    )
    args = ap.parse_args()
    dialplan = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
    threshold = float(dialplan.settings.get("intent_threshold", 0.5))
    hints = "" if args.no_hints else str(dialplan.settings.get("asr_hints") or "")
    sets = {name: load_set(name) for name in SETS}
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    t_start = time.perf_counter()
    async with open_services(Settings.from_env()) as services:
        matcher = IntentMatcher(services.embedder, dialplan.intents, threshold, dialplan.keywords)  # embeds
        t0 = time.perf_counter()
        matcher = IntentMatcher(services.embedder, dialplan.intents, threshold, dialplan.keywords)
        load_ms = (time.perf_counter() - t0) * 1000  # examples cached: this is the classifier's fit
        if args.similarity:
            matcher.classifier = None
        words = () if args.no_expect else Understanding.build(dialplan, services.embedder).words_for(None)
        examples = sum(len(v) for v in dialplan.intents.values())
        print(
            f"Intent benchmark (hotline: {len(dialplan.intents) - 1} intents + out-of-scope, {examples} examples;"
            f" {'nearest examples only' if args.similarity else 'classifier trained at load'}; threshold {threshold};"
            f" ASR hints {'on' if hints else 'off'}; finals rescored towards {len(words)} expected words)"
        )
        if not args.similarity:
            print(f"  classifier fit at load: {load_ms:.0f} ms")
        times: list[float] = []
        for name, pairs in sets.items():
            print(f"  {name} ({len(pairs)} utterances, {sum(g == NONE for g, _ in pairs)} out of scope):")
            predicted = []
            for _, text in pairs:
                matcher.embed("warm " + text)  # the embedding is cached by text: time it uncached
                t0 = time.perf_counter()
                predicted.append(matcher.match(text).name)
                times.append((time.perf_counter() - t0) * 1000)
            report("text", pairs, predicted)
            if args.no_audio:
                continue
            heard, split = [], 0
            for _, text in pairs:
                audio, _ = await spoken(services.speech, [text], 0)
                finals = await turn(services, audio, VadSettings(), hints, words=words)
                split += len(finals) > 1
                heard.append(joined(finals, JOIN_GRACE_MS))
            predicted = [(await asyncio.to_thread(matcher.match, h)).name for h in heard]
            report("audio", pairs, predicted)
            if args.misses:
                for (want, text), h, got in zip(pairs, heard, predicted, strict=True):
                    if want != got:
                        print(f"           {want}->{got}: said {text!r}, heard {h!r}")
            print(
                f"           the VAD split {split / len(pairs):.1%} of the requests (joined back within {JOIN_GRACE_MS} ms)"
            )
        print(
            f"  matching time per utterance (embedding uncached): p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms"
        )
    print(f"  ({time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
