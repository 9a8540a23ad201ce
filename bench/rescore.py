"""What rescoring a final towards the step's words costs (speech/rescore.py): the intent
paraphrases (bench/data) said by piper at 8 kHz, decoded as a final is (greedy, the hotline's
hints), then rescored towards the hotline's expected words on the same encoder output. Prints
the decode and the rescoring time per final (p50/p95, one core), the share of finals that had
a sound-alike to score, and the finals the rescoring changed (heard -> now).

    .venv/bin/python bench/rescore.py [--limit N]
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
from common import ROOT, pct
from intents import SETS, load_set

from ivr.dialplan import load_dialplan
from speech.asr import ASR_RATE, AsrSettings, WhisperRunner
from speech.audio import resample
from speech.rescore import candidates, rescore, vocabulary
from speech.tts import PiperTts


def _score(
    asr: WhisperRunner, audio: np.ndarray, encoded: np.ndarray, texts: list[str], context: str
) -> list[float]:
    return asr.log_probs(audio, texts, context, encoded)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="at most this many utterances per set")
    args = ap.parse_args()
    dialplan = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
    hints = str(dialplan.settings.get("asr_hints") or "")
    phrases = [p for name, examples in dialplan.intents.items() if name != "none" for p in examples]
    expected = vocabulary([*phrases, *dialplan.ask_as.values()])
    margin = AsrSettings().rescore_margin
    asr, tts = WhisperRunner(), PiperTts()
    decode_ms: list[float] = []
    rescore_ms: list[float] = []
    changed: list[tuple[str, str, str]] = []
    finals = 0
    for name in SETS:
        pairs = load_set(name)[: args.limit or None]
        for _, said in pairs:
            audio = resample(tts.synthesize(said, 8000).astype(np.float32), 8000, ASR_RATE)
            encoded: list = [None]
            t0 = time.perf_counter()
            heard = asr.decode_batch([(audio, (), hints, False)], encoded)[0].text
            decode_ms.append((time.perf_counter() - t0) * 1000)
            finals += 1
            if not candidates(heard, expected):
                continue
            t0 = time.perf_counter()
            score = functools.partial(asr.log_probs, audio, hints="", encoded=encoded[0])
            better = rescore(heard, expected, score, margin)
            rescore_ms.append((time.perf_counter() - t0) * 1000)
            if better is not None:
                changed.append((said, heard, better))
    print(
        f"Rescoring finals towards the hotline's {len(expected)} expected words (margin {margin} nats; one core)"
    )
    print(
        f"  finals: {finals}; with a sound-alike to score: {len(rescore_ms)} ({len(rescore_ms) / finals:.0%})"
    )
    print(f"  decode of a final: p50 {pct(decode_ms, 50):.0f} ms, p95 {pct(decode_ms, 95):.0f} ms")
    if rescore_ms:
        print(
            f"  rescoring (when scored): p50 {pct(rescore_ms, 50):.0f} ms, p95 {pct(rescore_ms, 95):.0f} ms"
        )
    print(f"  changed: {len(changed)}")
    for said, heard, better in changed:
        print(f"    said {said!r}: heard {heard!r} -> {better!r}")


if __name__ == "__main__":
    main()
