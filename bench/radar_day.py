"""A generated day of labelled calls for the radar's retraining, from the development clips.

Each call is one emotion_dev speaker: two utterances in their normal voice (the radar learns its
baseline from them), then three more: calm ones (neutral, calm, happy, sad, surprised, disgust),
angry ones or fearful ones. Every call goes through the shipped radar as a worker runs it (the
clip's audio at 8 kHz and whisper tiny.en's pooled encoder states), and is kept as its
utterances' cues: numbers, never audio. The truth (angry, anxious, neither) and where the upset
started go with each call; the tests label a share of the calls from it, as agents and reviewers
would (`tests/tools/radar_day.py`), and refit.

    .venv/bin/python bench/radar_day.py            # writes tests/data/radar_day.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time

from common import ROOT
from radar_data import calm_sentence_stats, load_clips
from radar_encoder import pooled_all
from radar_select import Data

from prosody.radar import Radar, RadarModel
from speech.asr import AsrSettings, WhisperRunner

OUT = ROOT / "tests" / "data" / "radar_day.json.gz"
CALM = ("neutral", "calm", "happy", "sad", "surprised", "disgust")
KINDS = {"neither": 0.6, "angry": 0.25, "anxious": 0.15}
GAP_MS = 1500


def build(calls_per_speaker: int = 7, seed: int = 11) -> dict:  # type: ignore[type-arg]
    from speech.tts import PiperTts

    clips = load_clips(samples=True)
    d = Data(clips, calm_sentence_stats(PiperTts()))
    base_clips = [c for b in d.baselines.values() for c in b]  # in d.base_speaker order
    pooled, _ = pooled_all("tiny.en", [*d.rest, *base_clips], lambda: WhisperRunner(AsrSettings()))
    vec = {id(c): pooled[i] for i, c in enumerate([*d.rest, *base_clips])}
    model = RadarModel.load()
    rng = random.Random(seed)
    calls = []
    for speaker in sorted(d.baselines):
        mine = [c for c in d.rest if c.speaker == speaker]
        normal = list(d.baselines[speaker]) + [c for c in mine if c.emotion == "neutral"]
        by = {k: [c for c in mine if (c.emotion in CALM if k == "neither" else c.emotion == {"angry": "angry", "anxious": "fearful"}[k])]
              for k in KINDS}  # fmt: skip
        kinds = [k for k in KINDS for _ in range(round(KINDS[k] * calls_per_speaker)) if by[k]]
        for n, kind in enumerate(kinds):
            said = rng.sample(normal, 2) + rng.sample(by[kind], min(3, len(by[kind])))
            radar, t, utterances, upset_from = Radar(model), 0, [], None
            for j, c in enumerate(said):
                dur_ms = int(len(c.samples) / 8)
                if j == 2 and kind != "neither":
                    upset_from = t
                t += dur_ms
                update = radar.update(c.samples, 8000, None, vec[id(c)])
                if update is not None and update.cues is not None:
                    cues = update.cues.to_json()  # the encoder's numbers at two decimals: a smaller file
                    cues.update({k: [round(x, 2) for x in cues[k]] for k in ("ep", "eo") if k in cues})
                    utterances.append({"t_ms": t, "cues": cues})
                t += GAP_MS
            calls.append({"id": f"{speaker}-{n:02d}", "speaker": speaker, "corpus": said[-1].dataset, "truth": kind,
                          "upset_from_ms": upset_from, "utterances": utterances})  # fmt: skip
    rng.shuffle(calls)
    return {"meta": {"made_by": "bench/radar_day.py", "model": model.meta.get("script", ""),
                     "encoder": (model.encoder.meta.get("encoder") if model.encoder else None),
                     "speakers": len(d.baselines), "calls": len(calls),
                     "note": "cues of emotion_dev clips (numbers, no audio): research corpora, tests only"},
            "calls": calls}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls-per-speaker", type=int, default=7)
    args = ap.parse_args()
    t0 = time.perf_counter()
    day = build(args.calls_per_speaker)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as f:
        json.dump(day, f, separators=(",", ":"))
    truth = [c["truth"] for c in day["calls"]]
    print(f"wrote {OUT.relative_to(ROOT)}: {len(truth)} calls "
          f"({', '.join(f'{k} {truth.count(k)}' for k in KINDS)}), {OUT.stat().st_size // 1024} KB "
          f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
