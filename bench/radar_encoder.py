"""The radar's encoder cues: what whisper's encoder adds to the prosody head, chosen and measured
as the prosody recipe is (leave-one-corpus-out on emotion_dev), before and after in one sitting.

Each clip's encoder states are pooled over its own frames (`speech.asr.pool_states`: mean and
standard deviation, no padding), relative to the speaker's baseline clips (or to the training
speakers' mean, as a caller's first words are), projected on the training folds' principal
components, and read by two logistic heads (anger, anxiety) fitted like the prosody head
(`radar_select.fit_pair`: each corpus alike, each baseline clip at rest as a negative, a voice no
different from its baseline at most `rest_p`). The radar's score is (1 - weight) x prosody +
weight x encoder; weight, components and ridge are chosen on the pooled LOCO escalate UAR.

    .venv/bin/python bench/radar_encoder.py            # tiny.en (the finals' own encoder pass)
    .venv/bin/python bench/radar_encoder.py --base     # also whisper base as a second encoder
    .venv/bin/python bench/radar_encoder.py --write    # put the chosen head in models/
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass

import numpy as np
from common import ROOT
from radar_calibrate import shipped_recipe
from radar_data import calm_sentence_stats, load_clips
from radar_select import ALL, CORPORA, Data, Recipe, figures, fit, own_weight, row_weights

from prosody.encoder import EncoderHead, Projection, fit_heads
from prosody.radar import DEFAULT_THRESHOLDS, RadarModel
from speech.asr import ASR_RATE, AsrSettings, WhisperRunner, pool_states
from speech.audio import resample

OUT = ROOT / "bench" / "out"
EMOTIONS = ("neutral", "calm", "happy", "sad", "surprised", "disgust", "angry", "fearful")


def encoder_states(runner: WhisperRunner, samples_8k: np.ndarray) -> tuple[np.ndarray, float]:
    """The pooled states of one clip, and the encoder's CPU seconds for it."""
    import ctranslate2

    x = resample(samples_8k, 8000, ASR_RATE)
    t0 = time.process_time()
    view = ctranslate2.StorageView.from_array(np.ascontiguousarray(runner.features(x)[None]))
    states = np.asarray(runner._model.model.encode(view, to_cpu=True))[0]
    return pool_states(states, len(x)), time.process_time() - t0


def pooled_all(name: str, clips, runner_of) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    """Every clip's pooled states (cached in bench/out), and CPU seconds per audio second."""
    h = hashlib.sha256((ROOT / "speech" / "asr.py").read_bytes())
    for c in clips:
        h.update(str(c.path).encode())
    cache = OUT / f"radar_encoder_{name}.npz"
    if cache.exists():
        d = np.load(cache)
        if str(d["key"]) == h.hexdigest()[:16]:
            return d["x"], float(d["cost"])
    runner = runner_of()
    rows, cpu, audio = [], 0.0, 0.0
    for c in clips:
        v, s = encoder_states(runner, c.samples)
        rows.append(v)
        cpu += s
        audio += len(c.samples) / 8000
    x, cost = np.stack(rows).astype(np.float32), cpu / audio
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, x=x, cost=cost, key=h.hexdigest()[:16])
    return x, cost


@dataclass(frozen=True)
class Choice:
    weight: float = 0.5
    components: int = 16
    l2: float = 10.0


class Encoded:
    """The clips' pooled states beside `radar_select.Data`: per clip and per baseline clip."""

    def __init__(self, d: Data, rest: np.ndarray, base: np.ndarray) -> None:
        self.d = d
        self.rest, self.base = rest, base  # rows in d.rest order; rows in d.base_speaker order
        self.refs = {s: base[d.base_speaker == s].mean(axis=0) for s in np.unique(d.base_speaker)}

    def rows(self, train_speakers: set[str], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clips `idx` relative to their speaker's baseline (nan rows when none) and to the
        population of `train_speakers`' baselines; the population mean itself."""
        d = self.d
        pop = np.mean([v for s, v in self.refs.items() if s in train_speakers], axis=0)
        own = np.stack([self.rest[i] - self.refs[d.speaker[i]] if d.speaker[i] in self.refs
                        else np.full(self.rest.shape[1], np.nan) for i in idx])  # fmt: skip
        return own, self.rest[idx] - pop, pop


def fold_probs(e: Encoded, test: np.ndarray, r: Recipe, c: Choice) -> tuple[np.ndarray, ...]:
    """Prosody and encoder (anger, anxiety) for the test clips, heads fitted on the rest."""
    d = e.d
    train = ~test
    x_pop = d.x_pop(frozenset(set(d.speaker) | set(d.baselines)) - frozenset(d.speaker[test]))
    pros = fit(d, train, x_pop, r)
    cols = [ALL.index(f) for f in r.features]
    own = np.where(d.has_own[test], own_weight(d.heard[test], r.prior_s), 0.0)
    xo, xp = np.nan_to_num(d.x_own[test][:, cols]), x_pop[test][:, cols]
    p_pros = [own * m(xo) + (1 - own) * m(xp) for m in pros]
    speakers = set(d.speaker[train]) | (set(d.baselines) - set(d.speaker[test]))
    tr_idx, te_idx = np.flatnonzero(train), np.flatnonzero(test)
    o_tr, p_tr, pop = e.rows(speakers, tr_idx)
    x_tr = np.where(np.isnan(o_tr), p_tr, o_tr)
    mine = np.isin(d.base_speaker, d.speaker[train])  # baseline clips at rest
    rest_rows = np.stack([e.base[i] - e.refs[d.base_speaker[i]] for i in np.flatnonzero(mine)])
    x_all = np.vstack([x_tr, rest_rows])
    emo = np.concatenate([d.emotion[train], ["neutral"] * len(rest_rows)])
    ds = np.concatenate([d.dataset[train], d.base_dataset[mine]])
    proj = Projection.fit(x_all, c.components)
    w = row_weights(ds, emo, r)
    head = EncoderHead(proj, *fit_heads(proj(x_all), emo, w, c.l2, r.rest_p), pop, c.weight)
    o_te, p_te, _ = e.rows(speakers, te_idx)
    enc_own = head.scores_of(np.nan_to_num(o_te))
    enc_pop = head.scores_of(p_te)
    p_enc = [own * a + (1 - own) * b for a, b in zip(enc_own, enc_pop, strict=True)]
    return p_pros[0], p_pros[1], p_enc[0], p_enc[1]


def cross(e: Encoded, r: Recipe, c: Choice) -> list[tuple[np.ndarray, ...]]:
    out = []
    for g in CORPORA:
        test = e.d.dataset == g
        out.append((test, *fold_probs(e, test, r, c)))
    return out


def escalated(e: Encoded, folds, weight: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    esc = np.zeros(len(e.d.emotion), dtype=bool)
    for test, pa, px, ea, ex in folds:
        anger = (1 - weight) * pa + weight * ea
        anxiety = (1 - weight) * px + weight * ex
        esc[test] = e.d.length_w[test] * np.maximum(anger, anxiety) >= DEFAULT_THRESHOLDS["escalate_on"]
    return esc


def report(e: Encoded, esc: np.ndarray, label: str) -> dict[str, dict[str, float]]:
    d = e.d
    print(f"  {label}")
    print(
        f"    {'corpus':8s} {'angry':>6s} {'fear':>6s} {'escal':>6s} {'calmFA':>6s}   escalated per emotion"
    )
    out = {}
    for corpus in (*CORPORA, "pooled"):
        sel = np.ones(len(esc), dtype=bool) if corpus == "pooled" else d.dataset == corpus
        f = out[corpus] = figures(d.emotion[sel], esc[sel])
        per = "  ".join(
            f"{em[:4]} {np.mean(esc[sel & (d.emotion == em)]):4.0%}"
            for em in EMOTIONS
            if np.any(sel & (d.emotion == em))
        )
        print(
            f"    {corpus:8s} {f['angry']:6.3f} {f['fearful']:6.3f} {f['escalate']:6.3f} {f['calm_fa']:6.1%}   {per}"
        )
    return out


def choose(e: Encoded, r: Recipe) -> tuple[Choice, list]:  # type: ignore[type-arg]
    """Components and ridge, then the weight, on the pooled LOCO escalate UAR."""
    best: tuple[float, Choice, list] | None = None  # type: ignore[type-arg]
    for k in (8, 16, 32):
        for l2 in (3.0, 10.0, 30.0):
            folds = cross(e, r, Choice(0.5, k, l2))
            for wgt in (0.25, 0.4, 0.5, 0.6, 0.75, 1.0):
                v = figures(e.d.emotion, escalated(e, folds, wgt))["escalate"]
                if best is None or v > best[0] + 1e-9:
                    best = (v, Choice(wgt, k, l2), folds)
    assert best is not None
    print(f"  chosen on LOCO: weight {best[1].weight}, {best[1].components} components, ridge {best[1].l2} "
          f"(pooled escalate {best[0]:.3f})")  # fmt: skip
    return best[1], best[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", action="store_true", help="also measure whisper base as a second encoder")
    ap.add_argument("--write", action="store_true", help="write the chosen head into models/radar.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from speech.tts import PiperTts

    clips = load_clips(samples=True)
    d = Data(clips, calm_sentence_stats(PiperTts()))
    base_clips = [c for s in np.unique(d.base_speaker) for c in d.baselines[s]]
    assert [c.speaker for c in base_clips] == list(d.base_speaker)
    r = shipped_recipe()
    print(f"emotion_dev: {len(d.rest)} scored clips, {len(d.baselines)} speakers with a baseline; "
          f"prosody recipe as shipped ({', '.join(r.features)})")  # fmt: skip
    encoders = {"tiny.en": lambda: WhisperRunner(AsrSettings())}
    if args.base:
        from speech.whisper_base import base_model_path

        encoders["base"] = lambda: WhisperRunner(AsrSettings(model_path=base_model_path()))
    results = {}
    before = None
    for name, runner_of in encoders.items():
        x, cost = pooled_all(name, [*d.rest, *base_clips], runner_of)
        e = Encoded(d, x[: len(d.rest)], x[len(d.rest) :])
        print(f"\n{name}: {x.shape[1]} pooled numbers a clip; encoder {cost:.3f} CPU-s per audio second")
        if before is None:
            folds0 = cross(e, r, Choice())
            before = report(e, escalated(e, folds0, 0.0), "before: prosody head alone (LOCO)")
        c, folds = choose(e, r)
        results[name] = (
            c,
            report(e, escalated(e, folds, c.weight), f"after: + {name} encoder head (LOCO)"),
            e,
        )
    if args.write:
        name = "tiny.en"
        c, loco, e = results[name]
        write(e, r, c, name, before, loco)
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    return 0


def write(e: Encoded, r: Recipe, c: Choice, name: str, before, after) -> None:  # type: ignore[no-untyped-def]
    """The head fitted on every corpus, added to models/radar.json."""
    d = e.d
    speakers = set(d.speaker) | set(d.baselines)
    o, p, pop = e.rows(speakers, np.arange(len(d.rest)))
    x = np.where(np.isnan(o), p, o)
    rest_rows = np.stack([e.base[i] - e.refs[s] for i, s in enumerate(d.base_speaker)])
    x_all = np.vstack([x, rest_rows])
    emo = np.concatenate([d.emotion, ["neutral"] * len(rest_rows)])
    ds = np.concatenate([d.dataset, d.base_dataset])
    proj = Projection.fit(x_all, c.components)
    head = EncoderHead(proj, *fit_heads(proj(x_all), emo, row_weights(ds, emo, r), c.l2, r.rest_p), pop, c.weight,
                       meta={"encoder": name, "chosen_on": "leave-one-corpus-out escalate UAR, pooled",
                             "loco_before": _round(before), "loco_after": _round(after),
                             "script": "bench/radar_encoder.py"})  # fmt: skip
    model = RadarModel.load()
    model.with_encoder(head).save()
    print(f"  wrote the {name} encoder head into models/radar.json ({c})")


def _round(t: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in t.items()}


if __name__ == "__main__":
    sys.exit(main())
