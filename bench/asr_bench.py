"""ASR benchmark: real-time factor, end-of-speech -> final transcript latency, WER.

The fixtures are replayed at 8 kHz through mu-law, paced in real time like a live call
(partials compete with the final for the CPU as they would), through the same
CallSession a SIP call uses. Latency is wall time from the speech_end event to the
final_transcript event. RTF is the compute time of a fast replay over the audio length.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace

from common import pct, phone_audio, references

from ivr.call.build import build_call
from ivr.call.services import open_services
from ivr.events import EventType
from ivr.replay import ReplayTransport
from ivr.settings import Settings
from speech.wer import word_errors


async def replay(engines, settings, name, audio, realtime):
    stamps: list[tuple[float, object]] = []
    transport = ReplayTransport(name, audio, 8000, realtime=realtime)
    session = build_call(
        transport,
        engines,
        settings,
        lambda e: stamps.append((time.perf_counter(), e)),
        deterministic=not realtime,
    )
    await session.run()
    return stamps


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="real-time passes over the fixtures")
    args = ap.parse_args()
    settings = Settings.from_env()
    settings = replace(settings, greeting="")
    async with open_services(settings) as services:  # the speech service, as a call reaches it
        await measure(services, settings, args)


async def measure(engines, settings, args) -> None:  # type: ignore[no-untyped-def]
    refs = references()
    clips = {name: phone_audio(name) for name in refs}
    audio_s = sum(len(x) for x in clips.values()) / 8000

    # warm-up, then RTF on a fast (deterministic) replay
    await replay(engines, settings, "warmup", clips["cmu_arctic_us_aew_a0003.wav"], False)
    errors = words = 0
    t0 = time.perf_counter()
    for name, audio in clips.items():
        stamps = await replay(engines, settings, name, audio, False)
        text = " ".join(e.data["text"] for _, e in stamps if e.type is EventType.FINAL_TRANSCRIPT)
        e, n = word_errors(refs[name], text)
        errors, words = errors + e, words + n
    rtf = (time.perf_counter() - t0) / audio_s

    latencies: list[float] = []
    partial_gaps: list[float] = []
    for _ in range(args.rounds):
        for name, audio in clips.items():
            stamps = await replay(engines, settings, name, audio, True)
            end_at = None
            last_partial = None
            for wall, ev in stamps:
                if ev.type is EventType.SPEECH_START:
                    last_partial = ev.t_ms
                elif ev.type is EventType.PARTIAL_TRANSCRIPT and last_partial is not None:
                    partial_gaps.append(ev.t_ms - last_partial)
                    last_partial = ev.t_ms
                elif ev.type is EventType.SPEECH_END:
                    end_at = wall
                    last_partial = None
                elif ev.type is EventType.FINAL_TRANSCRIPT and end_at is not None:
                    latencies.append((wall - end_at) * 1000)
                    end_at = None
    vad = settings.vad
    print(
        f"ASR benchmark (faster-whisper tiny.en int8 in the speech service, {settings.asr.cpu_threads} "
        "thread per decode, 8 kHz mu-law)"
    )
    print(f"  audio: {len(clips)} recordings, {audio_s:.1f} s, {words} reference words")
    print(f"  WER: {errors / words:.1%}")
    print(f"  real-time factor (fast replay, partials included): {rtf:.3f}")
    print(
        f"  end-of-speech -> final transcript: p50 {pct(latencies, 50):.0f} ms, "
        f"p95 {pct(latencies, 95):.0f} ms over {len(latencies)} utterances "
        f"(after the VAD's {vad.end_silence_ms} ms end-of-speech silence)"
    )
    print(
        f"  partial transcript cadence while speaking: p50 {pct(partial_gaps, 50):.0f} ms, "
        f"p95 {pct(partial_gaps, 95):.0f} ms of audio"
    )


if __name__ == "__main__":
    asyncio.run(main())
