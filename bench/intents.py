"""Intent benchmark: top-1 accuracy on held-out paraphrases of the hotline's intents,
as text and through audio (piper speaks at 8 kHz -> whisper -> intent), out-of-scope
recall, and matching time per utterance."""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter

from common import ROOT, pct

from ivr.dialplan import load_dialplan
from ivr.intents import NONE, IntentMatcher
from speech.asr import transcribe_utterance
from speech.audio import resample
from speech.service.server import Models, ServiceSettings


def load_set() -> list[tuple[str, str]]:
    with open(ROOT / "bench" / "data" / "intent_paraphrases.tsv", encoding="utf-8") as f:
        return [(r["intent"], r["text"]) for r in csv.DictReader(f, delimiter="\t")]


def score(pairs: list[tuple[str, str]], predicted: list[str]) -> tuple[float, float, float, Counter]:
    in_scope = [(g, p) for (g, _), p in zip(pairs, predicted, strict=True) if g != NONE]
    oos = [(g, p) for (g, _), p in zip(pairs, predicted, strict=True) if g == NONE]
    overall = sum(g == p for (g, _), p in zip(pairs, predicted, strict=True)) / len(pairs)
    acc_in = sum(g == p for g, p in in_scope) / len(in_scope)
    recall_oos = sum(p == NONE for _, p in oos) / len(oos)
    confusions = Counter((g, p) for (g, _), p in zip(pairs, predicted, strict=True) if g != p)
    return overall, acc_in, recall_oos, confusions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-audio", action="store_true", help="text only")
    args = ap.parse_args()
    dialplan = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
    engines = Models(ServiceSettings())  # the models themselves (the service's)
    matcher = IntentMatcher(
        engines.embedder, dialplan.intents, float(dialplan.settings.get("intent_threshold", 0.5)), dialplan.keywords
    )
    pairs = load_set()
    matcher.match("warm up")
    times = []
    predicted = []
    for _, text in pairs:
        t0 = time.perf_counter()
        predicted.append(matcher.match(text).name)
        times.append((time.perf_counter() - t0) * 1000)
    overall, acc_in, recall, confusions = score(pairs, predicted)
    print(
        f"Intent benchmark ({len(pairs)} held-out paraphrases, {len(dialplan.intents) - 1} intents + out-of-scope; "
        f"threshold {matcher.threshold})"
    )
    print(f"  text:  top-1 accuracy {overall:.1%} (in-scope {acc_in:.1%}), out-of-scope recall {recall:.1%}")
    print(
        f"  matching time per utterance (uncached): p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms"
    )
    if confusions:
        print("  text confusions:", ", ".join(f"{g}->{p} x{n}" for (g, p), n in confusions.most_common(6)))
    if args.no_audio:
        return
    heard: list[str] = []
    for _, text in pairs:
        audio = engines.tts.synthesize(text, 8000)
        heard.append(transcribe_utterance(engines.asr, resample(audio, 8000, 16000)))
    predicted_audio = [matcher.match(h).name for h in heard]
    overall_a, acc_in_a, recall_a, confusions_a = score(pairs, predicted_audio)
    print(
        f"  audio: top-1 accuracy {overall_a:.1%} (in-scope {acc_in_a:.1%}), out-of-scope recall {recall_a:.1%}"
        " (piper at 8 kHz -> whisper tiny.en -> intent)"
    )
    if confusions_a:
        print("  audio confusions:", ", ".join(f"{g}->{p} x{n}" for (g, p), n in confusions_a.most_common(6)))


if __name__ == "__main__":
    main()
