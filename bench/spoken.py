"""A request said as a caller says it (piper at 8 kHz), run through the call's real speech
pipeline (VAD, speculative finals, adaptive endpointing, whisper), and the turn the runner would
route from the finals (those that start within the grace join of the last are one turn)."""

from __future__ import annotations

import csv

import numpy as np
from common import ROOT

from ivr.call.pipeline import SpeechPipeline
from ivr.events import EventType
from speech.asr import AsrSettings
from speech.audio import AudioFrame
from speech.heard import HearingSettings
from speech.vad import VadSettings

RATE = 8000
FRAME = RATE * 20 // 1000


def load(name: str) -> list[tuple[str, list[str]]]:
    with open(ROOT / "bench" / "data" / name, encoding="utf-8") as f:
        return [
            (r["intent"], [p.strip() for p in r["text"].split("|")])
            for r in csv.DictReader(f, delimiter="\t")
        ]


async def spoken(speech, parts: list[str], pause_ms: int) -> tuple[np.ndarray, int]:
    """The request as the caller says it, and where their voice ends (ms)."""
    pieces = [np.zeros(RATE // 2, np.int16)]
    for i, part in enumerate(parts):
        if i:
            pieces.append(np.zeros(pause_ms * RATE // 1000, np.int16))
        pieces.append(np.frombuffer(await speech.synthesize(part, RATE), dtype="<i2"))
    voice = np.concatenate(pieces)
    loud = np.flatnonzero(np.abs(voice.astype(np.int32)) > 300)
    end_ms = int((loud[-1] + 1) * 1000 / RATE) if len(loud) else 0
    return np.concatenate([voice, np.zeros(RATE * 2, np.int16)]), end_ms


async def turn(
    services,
    audio: np.ndarray,
    vad: VadSettings,
    hints: str = "",
    hearing: HearingSettings | None = None,
    expect: str = "",
    words: tuple[str, ...] = (),
) -> list[dict]:
    """The accepted finals of 16-bit `audio` through the call's pipeline (no partials);
    `expect`: what the gather listening expects ("digits"); `words`: the words its requests
    are said with (finals are rescored towards them)."""
    events: list = []
    pipe = SpeechPipeline(
        "bench",
        RATE,
        services,
        events.append,
        vad=vad,
        asr=AsrSettings(partial_interval_ms=10**9),
        deterministic=True,
        hearing=hearing,
    )
    pipe.expecting.hints = hints
    pipe.expecting.kind = expect
    pipe.expecting.words = words
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        await pipe.process(AudioFrame(audio[i : i + FRAME].tobytes(), RATE, i * 1000 // RATE))
    await pipe.finish()
    ends = {e.data["onset_ms"]: e for e in events if e.type is EventType.SPEECH_END}
    return [
        {"text": e.data["text"], "onset": e.data["onset_ms"], "end": ends[e.data["onset_ms"]]}
        for e in events
        if e.type is EventType.FINAL_TRANSCRIPT and e.data["text"].strip()
    ]


def joined(finals: list[dict], grace_ms: int) -> str:
    """What the runner routes: finals that start within the grace of the last one are one turn."""
    text, last_end = "", None
    for f in finals:
        end = f["end"].data["onset_ms"] + f["end"].data["duration_ms"]
        if last_end is not None and f["onset"] - last_end > grace_ms:
            break  # a new turn: the first one is what was routed
        text, last_end = f"{text} {f['text']}".strip(), end
    return text
