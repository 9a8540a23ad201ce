"""emotion_dev (../shared/data, not shipped: non-commercial or research-only licences) as radar
training data: 53 speakers of RAVDESS (en), URDU (ur), EMOVO (it) and CASIA (zh).

Per speaker, two neutral clips are the caller's baseline, chosen per corpus (each corpus's
quirk handled, not averaged over): RAVDESS statements 1 and 2, first repetition, normal
intensity (it repeats two sentences in every emotion); EMOVO sentences b1 and b2 (left
channel: the stereo pair comb-filters when averaged); CASIA sentences 201 and 202; URDU the
speaker's first two neutral clips when they have other clips too (most URDU speakers have
one emotion only and no neutral: they are scored against population norms, as a caller's
first words are). Every other clip is scored relative to the baseline.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import ROOT

from prosody.features import UtteranceStats, utterance_stats
from prosody.radar import relative
from speech.audio import decode_file

DATA = ROOT.parent / "shared" / "data" / "emotion_dev"
CACHE = ROOT / "bench" / "out" / "radar_stats.json"  # per clip, keyed by the feature code's hash


@dataclass
class Clip:
    path: Path
    speaker: str
    emotion: str
    intensity: str
    stats: UtteranceStats
    samples: np.ndarray
    dataset: str = "ravdess"


def _code_hash() -> str:
    h = hashlib.sha256()
    for f in ("prosody/features.py", "speech/audio.py"):
        h.update((ROOT / f).read_bytes())
    return h.hexdigest()[:16]


def load_clips(samples: bool = True) -> list[Clip]:
    """Every clip with its statistics (cached in bench/out until the feature code changes);
    `samples=False` skips decoding the audio when only the statistics are needed."""
    if not (DATA / "labels.csv").exists():
        raise SystemExit(f"{DATA}: not found (the calibration data lives in ../shared/data)")
    key = _code_hash()
    cache: dict = {}
    if CACHE.exists():
        cache = json.loads(CACHE.read_text())
        if cache.get("key") != key:
            cache = {}
    stats_of: dict[str, dict[str, float] | None] = cache.get("stats", {})
    clips = []
    with open(DATA / "labels.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            audio = np.zeros(0, dtype=np.float32)
            if samples or row["file"] not in stats_of:
                audio, rate = decode_file(DATA / row["file"])
                if row["file"] not in stats_of:
                    s = utterance_stats(audio, rate)
                    stats_of[row["file"]] = None if s is None else s.as_dict()
            d = stats_of[row["file"]]
            if d is None:
                continue
            clips.append(
                Clip(DATA / row["file"], row["speaker"], row["emotion"], row["intensity"], UtteranceStats(**d), audio,
                     row.get("dataset") or "ravdess")
            )  # fmt: skip
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps({"key": key, "stats": stats_of}))
    return clips


def is_baseline(clip: Clip) -> bool:
    """One of the speaker's two neutral reference clips (URDU: see `split`)."""
    if clip.emotion != "neutral":
        return False
    stem = clip.path.stem
    if clip.dataset == "ravdess":  # 03-01-01-01-SS-01-AA: normal intensity, statement 1 or 2, repetition 1
        parts = stem.split("-")
        return parts[3] == "01" and parts[5] == "01"
    if clip.dataset == "emovo":  # neu-f1-b1
        return stem.endswith(("-b1", "-b2"))
    if clip.dataset == "casia":
        return stem in ("201", "202")
    return False


def split(clips: list[Clip]) -> tuple[dict[str, list[Clip]], list[Clip]]:
    baselines: dict[str, list[Clip]] = {}
    rest = []
    for c in clips:
        if is_baseline(c):
            baselines.setdefault(c.speaker, []).append(c)
        else:
            rest.append(c)
    # URDU: a speaker's first two neutral clips, when they also have clips to score against them
    by_speaker: dict[str, list[Clip]] = {}
    for c in rest:
        if c.dataset == "urdu":
            by_speaker.setdefault(c.speaker, []).append(c)
    for speaker, own in by_speaker.items():
        neutral = sorted((c for c in own if c.emotion == "neutral"), key=lambda c: c.path.name)[:2]
        if len(neutral) == 2 and len(own) > 2:
            baselines[speaker] = neutral
            rest = [c for c in rest if c not in neutral]
    return baselines, rest


def reference(baseline: list[Clip]) -> dict[str, float]:
    keys = baseline[0].stats.as_dict().keys()
    return {k: float(np.median([c.stats.as_dict()[k] for c in baseline])) for k in keys}


def population(baselines: dict[str, list[Clip]]) -> dict[str, float]:
    refs = [reference(b) for b in baselines.values()]
    return {k: float(np.mean([r[k] for r in refs])) for k in refs[0]}


def design(
    clips: list[Clip], baselines: dict[str, list[Clip]], features: tuple[str, ...] | None = None
) -> np.ndarray:
    """Each clip relative to its speaker's baseline (population norms when it has none)."""
    refs = {s: reference(b) for s, b in baselines.items()}
    pop = population(baselines)
    return np.stack(
        [relative(c.stats, refs.get(c.speaker, pop), *(features,) if features else ()) for c in clips]
    )


def calm_sentence_stats(tts) -> list[UtteranceStats]:  # type: ignore[no-untyped-def]
    """piper reading bench/data/calm_sentences.txt at 8 kHz (cached in bench/out like the clips)."""
    text = (ROOT / "bench" / "data" / "calm_sentences.txt").read_text()
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    key = _code_hash() + hashlib.sha256(text.encode()).hexdigest()[:16]
    cache = CACHE.with_name("radar_calm_stats.json")
    if cache.exists():
        d = json.loads(cache.read_text())
        if d.get("key") == key:
            return [UtteranceStats(**s) for s in d["stats"]]
    stats = [utterance_stats(tts.synthesize(t, 8000), 8000) for t in lines]
    stats = [s for s in stats if s is not None]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "stats": [s.as_dict() for s in stats]}))
    return stats


def calm_sentence_rows(
    stats: list[UtteranceStats], n_baseline: int = 3, features: tuple[str, ...] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Calm speech that varies as real sentences do (`calm_sentence_stats`): each sentence is
    compared with a baseline of three other sentences. These are negatives: ordinary
    sentence-to-sentence variation is not emotion."""
    rows = []
    for i, s in enumerate(stats):
        others = [stats[(i + k) % len(stats)] for k in range(1, n_baseline + 1)]
        keys = others[0].as_dict().keys()
        ref = {k: float(np.median([o.as_dict()[k] for o in others])) for k in keys}
        rows.append(relative(s, ref, *(features,) if features else ()))
    return np.stack(rows), ["calm_tts"] * len(rows)
