"""Batching benchmark: whisper decodes a second by batch size and lane count, and what the
speech service's scheduler makes of a burst of turn ends.

1. The model alone: `decode_batch` of B utterances at once on L lanes side by side (one
   intra-op thread each), B = 1..8: decodes a second and time per batch.
2. Through the service and its client (a real socket): N calls' finals arriving at the
   same moment, with batching off (max_batch 1) and on (the shipped 4): time until the
   last is back, p50/p95 of each caller's wait, decodes a second.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

from common import pct, phone_audio

from speech.asr import ASR_RATE, AsrSettings, WhisperRunner
from speech.audio import resample, to_pcm16
from speech.service.client import SpeechClient
from speech.service.local import LocalService
from speech.service.models import Models, ServiceSettings

CLIPS = ["cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0002.wav", "cmu_arctic_us_aew_a0003.wav"]


def model_alone(lanes: int, rounds: int, final_model: str = "") -> None:
    runner = WhisperRunner(
        AsrSettings(cpu_threads=1, workers=lanes, final_model=final_model).finals_settings()
    )
    clips = [resample(phone_audio(c), 8000, ASR_RATE) for c in CLIPS]
    runner.decode_batch([(clips[0], ())])  # warm-up
    for b in (1, 2, 3, 4, 6, 8):
        items = [(clips[i % len(clips)], ()) for i in range(b)]

        def work(items: list = items) -> None:
            for _ in range(rounds):
                runner.decode_batch(items)

        threads = [threading.Thread(target=work) for _ in range(lanes)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        dt = time.perf_counter() - t0
        print(
            f"  lanes {lanes}, batch {b}: {lanes * rounds * b / dt:5.1f} decodes/s, "
            f"{dt / rounds * 1000:4.0f} ms a batch",
            flush=True,
        )


async def burst(models: Models, max_batch: int, n: int, rounds: int) -> None:
    settings = ServiceSettings(max_batch=max_batch)
    pcms = [to_pcm16(phone_audio(CLIPS[i % len(CLIPS)])) for i in range(n)]
    waits: list[float] = []
    spans: list[float] = []
    with LocalService(settings, models) as local:
        client = SpeechClient(local.address)
        await client.connect(30)
        try:
            await client.transcribe(pcms[0], 8000)  # warm-up
            for _ in range(rounds):
                t0 = time.perf_counter()

                async def one(pcm: bytes, t0: float = t0) -> None:
                    await client.transcribe(pcm, 8000)
                    waits.append((time.perf_counter() - t0) * 1000)

                await asyncio.gather(*(one(p) for p in pcms))
                spans.append(time.perf_counter() - t0)
            batches = local.service.queue.scheduler.batches if local.service else {}
        finally:
            await client.close()
    print(
        f"  {n} finals at once, max batch {max_batch}: last back after p50 {pct([s * 1000 for s in spans], 50):.0f} ms; "
        f"each caller's wait p50 {pct(waits, 50):.0f} ms, p95 {pct(waits, 95):.0f} ms; "
        f"{n * rounds / sum(spans):.1f} decodes/s; batches {dict(sorted(batches.items()))}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--final-model", default="", help='the finals\' model: "" = tiny.en, "base" = whisper base'
    )
    ap.add_argument("--calls", default="4,8,16", help="finals at once through the service")
    args = ap.parse_args()
    asr = AsrSettings(cpu_threads=1, workers=2, final_model=args.final_model)
    name = Path(asr.finals_settings().resolved_model_path()).name
    print(f"Batching benchmark ({name} int8, one thread per lane; 3 ARCTIC sentences at 8 kHz)")
    print("1. the model alone")
    for lanes in (1, 2):
        model_alone(lanes, args.rounds, args.final_model)
    print("2. through the speech service (socket, scheduler, 2 lanes)")
    models = Models(replace(ServiceSettings(), asr=asr))
    for n in (int(c) for c in args.calls.split(",")):
        for max_batch in (1, 4):
            asyncio.run(burst(models, max_batch, n, args.rounds))


if __name__ == "__main__":
    main()
