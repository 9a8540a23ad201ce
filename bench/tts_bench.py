"""TTS benchmark: time to first audio (uncached and cached) and synthesis real-time factor."""

from __future__ import annotations

import time

from common import pct

from ivr.settings import Settings
from speech.tts import PiperTts

PROMPTS = [
    "Thank you for calling. How can I help you today?",
    "Your current balance is twenty three dollars and forty cents.",
    "You have used four point two gigabytes of your ten gigabyte plan this month.",
    "There is a known outage in your area. We expect service back by six p.m.",
    "I can help with roaming. Which country are you travelling to?",
    "I have blocked your SIM card. An agent will now help you order a new one.",
    "Please hold while I connect you to an agent. I have passed on what you told me.",
    "Sorry, I did not catch that. You can say check balance, pay bill, or agent.",
    "To pay your bill now, press one. To hear your balance again, press two.",
    "Is there anything else I can help you with today?",
]


def main() -> None:
    tts = PiperTts(Settings.from_env().tts)
    tts.synthesize("Warm up.", 8000)
    first_uncached: list[float] = []
    audio_s = compute_s = 0.0
    for text in PROMPTS:
        t0 = time.perf_counter()
        stream = tts.stream(text, 8000)
        first = next(stream)
        first_uncached.append((time.perf_counter() - t0) * 1000)
        rest = list(stream)
        compute_s += time.perf_counter() - t0
        audio_s += (len(first) + sum(len(x) for x in rest)) / 8000
    first_cached: list[float] = []
    for text in PROMPTS * 5:
        t0 = time.perf_counter()
        next(tts.stream(text, 8000))
        first_cached.append((time.perf_counter() - t0) * 1000)
    print(f"TTS benchmark (piper en_US-joe-medium, {tts.settings.threads} thread, to 8 kHz)")
    print(
        f"  time to first audio, uncached: p50 {pct(first_uncached, 50):.0f} ms, "
        f"p95 {pct(first_uncached, 95):.0f} ms over {len(PROMPTS)} prompts"
    )
    print(
        f"  time to first audio, cached:   p50 {pct(first_cached, 50):.3f} ms, "
        f"p95 {pct(first_cached, 95):.3f} ms"
    )
    print(f"  synthesis real-time factor: {compute_s / audio_s:.3f} ({audio_s:.1f} s of speech)")


if __name__ == "__main__":
    main()
