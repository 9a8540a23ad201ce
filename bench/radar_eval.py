"""Emotion radar benchmark: leave-one-speaker-out on emotion_dev (RAVDESS actors 01-04).

For each held-out speaker, the radar is fitted on the other three, given the speaker's two
neutral clips as the baseline, and run on each other clip exactly as in a call (the same
Radar class: baseline, scores, smoothing, level). Prints UAR for angry vs neutral+calm,
fearful vs neutral+calm, escalate (angry+fearful) vs not (neutral, calm, happy, sad), the
false-escalation rate on neutral/calm, and the real-time factor of the features.
"""

from __future__ import annotations

import time

import numpy as np
from radar_calibrate import fit
from radar_data import load_clips, population, split

from prosody.features import utterance_stats
from prosody.radar import DEFAULT_THRESHOLDS, Radar, RadarModel
from speech.audio import decode_file


def uar(pos_hits: list[bool], neg_hits: list[bool]) -> float:
    """Unweighted average recall: positives escalated, negatives not."""
    return 0.5 * (np.mean(pos_hits) + np.mean([not h for h in neg_hits]))


def main() -> None:
    clips = load_clips()
    baselines, rest = split(clips)
    escalated: dict[str, list[bool]] = {}
    for speaker in sorted(baselines):
        train = [c for c in rest if c.speaker != speaker]
        anger, anxiety = fit(train, {s: b for s, b in baselines.items() if s != speaker})
        model = RadarModel(
            anger,
            anxiety,
            population({s: b for s, b in baselines.items() if s != speaker}),
            dict(DEFAULT_THRESHOLDS),
        )
        for c in (c for c in rest if c.speaker == speaker):
            radar = Radar(model)
            for b in baselines[speaker]:
                radar.learn_baseline(b.samples, 8000)
            update = radar.update(c.samples, 8000)
            escalated.setdefault(c.emotion, []).append(bool(update and update.level == "escalate"))

    def hits(*emotions: str) -> list[bool]:
        return [h for e in emotions for h in escalated.get(e, [])]

    calm = hits("neutral", "calm")
    print(
        "Emotion radar, leave-one-speaker-out on emotion_dev (4 speakers, 8 kHz, 2 neutral baseline clips each)"
    )
    print(f"  UAR angry vs neutral+calm:                   {uar(hits('angry'), calm):.3f}  (target >= 0.95)")
    print(
        f"  UAR fearful vs neutral+calm:                 {uar(hits('fearful'), calm):.3f}  (target >= 0.85)"
    )
    print(
        f"  UAR escalate (angry+fearful) vs not (neutral, calm, happy, sad): "
        f"{uar(hits('angry', 'fearful'), hits('neutral', 'calm', 'happy', 'sad')):.3f}  (target >= 0.85)"
    )
    print(f"  false escalation on neutral/calm:            {np.mean(calm):.1%}  (target <= 5%)")
    print(
        "  escalation rate by emotion: "
        + ", ".join(f"{e} {np.mean(v):.0%}" for e, v in sorted(escalated.items()))
    )

    # speed: features over a minute of real speech, as a live stream would compute them
    audio = np.concatenate([decode_file(c.path)[0] for c in rest[:20]])
    seconds = len(audio) / 8000
    t0 = time.perf_counter()
    step = 3 * 8000
    for i in range(0, len(audio), step):  # 3 s utterances
        utterance_stats(audio[i : i + step])
    rtf = (time.perf_counter() - t0) / seconds
    print(f"  real-time factor per stream: {rtf:.4f} over {seconds:.0f} s of audio (target <= 0.002)")


if __name__ == "__main__":
    main()
