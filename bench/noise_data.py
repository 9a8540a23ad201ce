"""The noisy sets: real read speech from ../shared/data (not shipped) and piper-spoken requests,
each put on a caller's line (background noise at an SNR, G.711 mu-law, lost packets concealed;
`speech/line.py`).

Two sets that share no talker and no noise, so a change tuned on one is checked on the other:

| set   | talkers                                                        | noise                                                |
|-------|----------------------------------------------------------------|------------------------------------------------------|
| dev   | RAVDESS actors 1-8, CMU ARCTIC a0001-2, intent_paraphrases.tsv | babble of EMOVO (Italian) talkers, pink noise, dishes + exercise bike |
| check | RAVDESS actors 9-16, ARCTIC a0003, JFK, intent_paraphrases_more.tsv | babble of CASIA + URDU talkers, brown noise, guitar + singing |

Each item is the clip at a telephone level (-23 +/- 4 dBFS active) with 2 s of line before (a prompt heard) and
1.5 s after; the noise runs under all of it.
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import FIXTURES, ROOT, references

from speech.audio import decode_file, resample
from speech.line import active_level_db, babble, brown_noise, level_db, pink_noise, scale_to

RATE = 8000
SHARED = ROOT.parent / "shared" / "data"
EMOTION = SHARED / "emotion_dev"
LEAD_S, TAIL_S = 2.0, 1.5
EMOTIONS = ("neutral", "calm", "angry", "sad")


@dataclass
class Item:
    name: str
    audio: np.ndarray  # float32 at 8 kHz, lead and tail included
    text: str
    intent: str = ""


@dataclass
class NoiseSet:
    babble: np.ndarray
    coloured: np.ndarray  # pink (dev) or brown (check)
    recorded: np.ndarray
    names: dict[str, str]


def _load(path: Path) -> np.ndarray:
    x, rate = decode_file(path)
    return resample(x, rate, RATE)


def _pad(x: np.ndarray, name: str) -> np.ndarray:
    """The clip at a telephone level (the network's level control keeps callers near -23 dBFS:
    here -23 +/- 4 dB, fixed per clip) with line before and after."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = scale_to(x, -23.0 + float(rng.uniform(-4, 4)) + level_db(x) - active_level_db(x, RATE))
    lead, tail = np.zeros(int(LEAD_S * RATE), np.float32), np.zeros(int(TAIL_S * RATE), np.float32)
    return np.concatenate([lead, x, tail])


def _labels() -> list[dict[str, str]]:
    with open(EMOTION / "labels.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_speech(which: str) -> list[Item]:
    """RAVDESS statements (one of each of EMOTIONS per actor, normal intensity) and the
    fixtures' read sentences of the set."""
    actors = range(1, 9) if which == "dev" else range(9, 17)
    items: list[Item] = []
    rows = _labels()
    for actor in actors:
        speaker = f"ravdess_{actor:02d}"
        for k, emotion in enumerate(EMOTIONS):
            pick = [r for r in rows if r["speaker"] == speaker and r["emotion"] == emotion]
            pick = [r for r in pick if r["intensity"] in ("", "normal")] or pick
            row = pick[(actor + k) % len(pick)]
            name = f"{speaker}-{emotion}"
            items.append(Item(name, _pad(_load(EMOTION / row["file"]), name), row["text"]))
    fixtures = ("cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_aew_a0002.wav")
    if which != "dev":
        fixtures = ("cmu_arctic_us_aew_a0003.wav", "jfk.flac")
    refs = references()
    for name in fixtures:
        items.append(Item(name, _pad(_load(FIXTURES / name), name), refs[name]))
    return items


def paraphrases(which: str, limit: int) -> list[tuple[str, str]]:
    """(intent, text) of the requests piper says for the set, spread over the intents."""
    name = "intent_paraphrases.tsv" if which == "dev" else "intent_paraphrases_more.tsv"
    with open(ROOT / "bench" / "data" / name, encoding="utf-8") as f:
        rows = [(r["intent"], r["text"].replace("|", " ").strip()) for r in csv.DictReader(f, delimiter="\t")]
    by_intent: dict[str, list[str]] = {}
    for intent, text in rows:
        by_intent.setdefault(intent, []).append(text)
    out: list[tuple[str, str]] = []
    while len(out) < min(limit, len(rows)):
        for intent, texts in by_intent.items():
            if texts and len(out) < limit:
                out.append((intent, texts.pop(0)))
    return out


async def spoken_requests(speech: object, which: str, limit: int) -> list[Item]:
    items = []
    for i, (intent, text) in enumerate(paraphrases(which, limit)):
        pcm = await speech.synthesize(text, RATE)  # type: ignore[attr-defined]
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        items.append(Item(f"request-{i:02d}", _pad(x, text), text, intent))
    return items


def noises(which: str, seconds: float = 90.0) -> NoiseSet:
    rng = np.random.default_rng(11 if which == "dev" else 23)
    n = int(seconds * RATE)
    rows = _labels()
    if which == "dev":
        talkers = [r for r in rows if r["dataset"] == "emovo"]
        coloured, colour = pink_noise(n, rng), "pink"
        recorded_files = ("doing_the_dishes.wav", "exercise_bike.wav")
    else:
        talkers = [r for r in rows if r["dataset"] in ("casia", "urdu")]
        coloured, colour = brown_noise(n, rng), "brown"
        recorded_files = ("guitar.wav", "singing.wav")
    picked = [talkers[int(i)] for i in rng.choice(len(talkers), size=min(60, len(talkers)), replace=False)]
    clips = [_load(EMOTION / r["file"]) for r in picked]
    recorded = np.concatenate([_load(SHARED / "noise" / f) for f in recorded_files])
    names = {
        "babble": "babble of " + ("EMOVO" if which == "dev" else "CASIA + URDU") + " talkers (6 at once)",
        "coloured": colour + " noise",
        "recorded": " + ".join(f.removesuffix(".wav") for f in recorded_files),
    }
    return NoiseSet(babble(clips, n, rng), coloured, recorded, names)


def available() -> bool:
    return (EMOTION / "labels.csv").is_file() and (SHARED / "noise").is_dir()
