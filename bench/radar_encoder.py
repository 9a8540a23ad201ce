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
from dataclasses import dataclass, replace

import numpy as np
from common import ROOT
from radar_calibrate import shipped_recipe
from radar_data import calm_sentence_stats, load_clips
from radar_select import ALL, CORPORA, TOLERANCE, Data, Recipe, figures, fit, own_weight, row_weights

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


def pooling_cost(clips, n: int = 60) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """A final's decode (tiny.en) as the service runs it, without and with its states pooled:
    the p50 milliseconds of each, over `n` clips, alternating so the box's load is shared."""
    runner = WhisperRunner(AsrSettings())
    plain, pooled = [], []
    for c in clips[:n]:
        x = resample(c.samples, 8000, ASR_RATE)
        item = [(x, (), "", False)]
        t0 = time.perf_counter()
        runner.decode_batch(item)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        encoded: list = [None]  # type: ignore[type-arg]
        runner.decode_batch(item, encoded)
        pool_states(encoded[0][0], len(x))
        pooled.append(time.perf_counter() - t0)
    return 1000 * float(np.median(plain)), 1000 * float(np.median(pooled))


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
    rest = proj(np.zeros(proj.dim))[0]  # a voice no different from its baseline
    head = EncoderHead(proj, *fit_heads(proj(x_all), emo, w, c.l2, r.rest_p, rest), pop, c.weight)
    o_te, p_te, _ = e.rows(speakers, te_idx)
    enc_own = head.scores_of(np.nan_to_num(o_te))
    enc_pop = head.scores_of(p_te)
    p_enc = [own * a + (1 - own) * b for a, b in zip(enc_own, enc_pop, strict=True)]
    return p_pros[0], p_pros[1], p_enc[0], p_enc[1]


def cross(e: Encoded, r: Recipe, c: Choice, split_by: str = "corpus") -> list[tuple[np.ndarray, ...]]:
    """Every clip scored by heads that never saw its corpus (LOCO) or its speaker (LOSO)."""
    groups = e.d.dataset if split_by == "corpus" else e.d.speaker
    return [(groups == g, *fold_probs(e, groups == g, r, c)) for g in np.unique(groups)]


def scores(e: Encoded, folds, weight: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The radar's score of each clip (its length weight times the higher of the blended two)."""
    out = np.zeros(len(e.d.emotion))
    for test, pa, px, ea, ex in folds:
        anger = (1 - weight) * pa + weight * ea
        anxiety = (1 - weight) * px + weight * ex
        out[test] = e.d.length_w[test] * np.maximum(anger, anxiety)
    return out


def at_false_alarms(e: Encoded, s: np.ndarray, fa: float) -> tuple[np.ndarray, float]:
    """Escalated at the lowest threshold whose false escalations on neutral/calm are at most
    `fa` (as an admin's budget sets it): the comparison at equal false alarms."""
    calm = np.isin(e.d.emotion, ("neutral", "calm"))
    for t in np.arange(0.05, 0.951, 0.005):
        if float(np.mean(s[calm] >= t)) <= fa + 1e-9:
            return s >= t, float(t)
    return s >= 0.95, 0.95


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


def choose(e: Encoded, r: Recipe, fa: float) -> tuple[Choice, list, float]:  # type: ignore[type-arg]
    """The projection's components and ridge on leave-one-speaker-out (what the head does for a
    deployment: new callers, one language and line, which its retraining refits the head on),
    then the shipped weight on leave-one-corpus-out (a deployment's language is not known):
    above 0 only when it beats the prosody head alone there by more than the fold noise
    (`radar_select.TOLERANCE`). Both at the prosody head's own false-alarm rate."""
    best: tuple[float, Choice] | None = None
    for k in (16, 64, 128):
        for l2 in (30.0, 300.0):
            folds = cross(e, r, Choice(0.5, k, l2), "speaker")
            for wgt in (0.25, 0.5):
                v = figures(e.d.emotion, at_false_alarms(e, scores(e, folds, wgt), fa)[0])["escalate"]
                if best is None or v > best[0] + 1e-9:
                    best = (v, Choice(wgt, k, l2))
    assert best is not None
    c = best[1]
    folds = cross(e, r, c)
    loco = {
        w: figures(e.d.emotion, at_false_alarms(e, scores(e, folds, w), fa)[0])["escalate"]
        for w in (0.0, 0.25, 0.4, 0.5)
    }
    w = max((w for w in loco if w > 0), key=lambda w: loco[w])
    print(f"  chosen on LOSO: {c.components} components, ridge {c.l2} (escalate {best[0]:.3f} at weight {c.weight}); "
          f"the weight on LOCO: " + ", ".join(f"{k}: {v:.3f}" for k, v in loco.items()))  # fmt: skip
    if loco[w] <= loco[0.0] + TOLERANCE:
        print(f"  -> not better than the prosody head alone by the fold noise ({TOLERANCE}): shipped at weight 0 "
              f"(the head is kept and its cues recorded, for a deployment's retraining to weigh)")  # fmt: skip
        w = 0.0
    _, t = at_false_alarms(e, scores(e, folds, w), fa)
    return replace(c, weight=w), folds, t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", action="store_true", help="also measure whisper base as a second encoder")
    ap.add_argument("--write", action="store_true", help="write the chosen head into models/radar.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from speech.tts import PiperTts

    clips = load_clips(samples=True)
    d = Data(clips, calm_sentence_stats(PiperTts()))
    base_clips = [c for b in d.baselines.values() for c in b]  # in d.base_speaker order
    assert [c.speaker for c in base_clips] == list(d.base_speaker)
    r = shipped_recipe()
    print(f"emotion_dev: {len(d.rest)} scored clips, {len(d.baselines)} speakers with a baseline; "
          f"prosody recipe as shipped ({', '.join(r.features)})")  # fmt: skip
    encoders = {"tiny.en": lambda: WhisperRunner(AsrSettings())}
    if args.base:
        from speech.whisper_base import base_model_path

        encoders["base"] = lambda: WhisperRunner(AsrSettings(model_path=base_model_path()))
    plain_ms, pooled_ms = pooling_cost(d.rest[::40])
    print(f"a final's decode (tiny.en), p50: {plain_ms:.0f} ms; with its encoder states pooled {pooled_ms:.0f} ms "
          f"(the radar's cues from the decode's own encoder pass)")  # fmt: skip
    results = {}
    before = None
    for name, runner_of in encoders.items():
        x, cost = pooled_all(name, [*d.rest, *base_clips], runner_of)
        e = Encoded(d, x[: len(d.rest)], x[len(d.rest) :])
        print(f"\n{name}: {x.shape[1]} pooled numbers a clip; encoder {cost:.3f} CPU-s per audio second")
        if before is None:
            esc0 = scores(e, cross(e, r, Choice()), 0.0) >= DEFAULT_THRESHOLDS["escalate_on"]
            before = report(e, esc0, "before: the prosody head alone, as shipped (LOCO, escalates at 0.5)")
            fa = before["pooled"]["calm_fa"]
        c, folds, t = choose(e, r, fa)
        shown = c if c.weight > 0 else replace(c, weight=0.25)
        esc, t = at_false_alarms(e, scores(e, folds, shown.weight), fa)
        after = report(e, esc, f"after: + the {name} encoder head at weight {shown.weight} (LOCO, the same false alarms: "
                               f"escalates at {t:.3f})")  # fmt: skip
        loso = cross(e, r, shown, "speaker")
        esc_p, _ = at_false_alarms(e, scores(e, loso, 0.0), fa)
        esc_e, t2 = at_false_alarms(e, scores(e, loso, shown.weight), fa)
        report(
            e,
            esc_p,
            "within a population: the prosody head alone, leave-one-speaker-out (the same false alarms)",
        )
        report(
            e,
            esc_e,
            f"within a population: + the {name} encoder head at weight {shown.weight}, leave-one-speaker-out",
        )
        results[name] = (c, after, e)
    if args.write:
        c, after, e = results["tiny.en"]
        write(e, r, c, "tiny.en", before, after)
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
    rest = proj(np.zeros(proj.dim))[0]
    head = EncoderHead(proj, *fit_heads(proj(x_all), emo, row_weights(ds, emo, r), c.l2, r.rest_p, rest), pop, c.weight,
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
