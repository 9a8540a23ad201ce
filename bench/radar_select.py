"""Which cues, fit and reference generalise to speakers and corpora never seen: the radar's
recipe, chosen on leave-one-corpus-out (train on three of RAVDESS, URDU, EMOVO, CASIA, test on
the fourth), as the issue asks; leave-one-speaker-out is reported beside it.

Everything here runs on the clips' cached statistics (`radar_data.load_clips`), so a whole
cross-validation takes well under a second and a greedy search over the 17 differences the
radar knows (`prosody.radar.DELTAS`; `CANDIDATES` the ones it may pick) under a minute. Each clip is scored as a fresh call's
radar scores its first judged utterance (`score`): anger and anxiety against the speaker's own
baseline and against the training folds' population norms, weighted by the seconds of the
speaker heard (`own_weight`), times the utterance's length weight, escalated at 0.5.

    .venv/bin/python bench/radar_select.py   # the search, then the chosen recipe's figures
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import numpy as np
from radar_data import calm_sentence_rows, calm_sentence_stats, load_clips, population, reference, split

from prosody.radar import DEFAULT_THRESHOLDS, DELTAS, FEATURES, Logistic, relative

ALL = tuple(DELTAS)
# The cues the search may choose from: levels, ranges, tilt and voice quality. F0 slope and end,
# speaking rate, voiced share, jitter and energy dynamics change with an utterance's length
# and wording (a caller's 0.6 s "That's all." vs the corpora's 2-4 s sentences), which no
# corpus here can show; a search on them wins a point on the corpora and fails on short answers.
CANDIDATES = (*FEATURES, "d_high_db", "d_loud_range_db")
CORPORA = ("ravdess", "urdu", "emovo", "casia")
NOT_ESCALATE = ("neutral", "calm", "happy", "sad", "surprised")
TOLERANCE = 0.003  # LOCO escalate UAR: smaller differences are noise (one clip in ~300 either way)


@dataclass(frozen=True)
class Recipe:
    features: tuple[str, ...]
    l2: float = 10.0
    corpus_balance: bool = True  # each training corpus weighs the same (RAVDESS has 57% of the clips)
    calm_tts: bool = True  # piper's calm sentences, each against three others, as negatives
    prior_s: float = 0.0  # own baseline vs population norms: equal weight at this many seconds heard
    calm_share: float = 0.0  # >0: neutral and calm rows carry this share of the negatives' weight
    at_rest: bool = True  # each baseline clip against its own reference (a normal voice) as a negative
    rest_p: float = 0.15  # the most either score may read for a voice no different from its baseline


def uar(pos: np.ndarray, neg: np.ndarray) -> float:
    """Unweighted average recall: positives escalated, negatives not (nan without both)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return 0.5 * (float(np.mean(pos)) + 1.0 - float(np.mean(neg)))


def figures(emotion: np.ndarray, escalated: np.ndarray) -> dict[str, float]:
    def hits(*emotions: str) -> np.ndarray:
        return escalated[np.isin(emotion, emotions)]

    calm = hits("neutral", "calm")
    rate = lambda v: float(np.mean(v)) if len(v) else float("nan")  # noqa: E731
    return {
        "angry": uar(hits("angry"), calm),
        "fearful": uar(hits("fearful"), calm),
        "escalate": uar(hits("angry", "fearful"), hits(*NOT_ESCALATE)),
        "happy": rate(hits("happy")),
        "surprised": rate(hits("surprised")),
        "calm_fa": rate(calm),
        "clips": float(len(emotion)),
    }


class Data:
    """Every scored clip's differences, all 17 of them, from its speaker's own two-clip
    baseline (NaN when the speaker has none) and, per fold, from the population norms of the
    fold's training speakers."""

    def __init__(self, clips, calm_stats) -> None:  # type: ignore[no-untyped-def]
        self.baselines, rest = split(clips)
        self.rest = rest
        refs = {s: reference(b) for s, b in self.baselines.items()}
        self.heard = np.array(
            [sum(c.stats.duration_s for c in self.baselines.get(c.speaker, [])) for c in rest]
        )
        self.has_own = np.array([c.speaker in refs for c in rest])
        self.x_own = np.stack([
            relative(c.stats, refs[c.speaker], ALL) if c.speaker in refs else np.full(len(ALL), np.nan) for c in rest
        ])  # fmt: skip
        self.emotion = np.array([c.emotion for c in rest])
        self.dataset = np.array([c.dataset for c in rest])
        self.speaker = np.array([c.speaker for c in rest])
        self.length_w = np.minimum(
            1.0, np.array([c.stats.duration_s for c in rest]) / DEFAULT_THRESHOLDS["weight_full_s"]
        )
        self.calm = calm_sentence_rows(calm_stats, features=ALL)[0]
        # the baseline clips against their own reference: a caller's normal voice, as negatives
        base = [(s, c) for s, b in self.baselines.items() for c in b]
        self.base_x = np.stack([relative(c.stats, refs[s], ALL) for s, c in base])
        self.base_speaker = np.array([s for s, _ in base])
        self.base_dataset = np.array([c.dataset for _, c in base])
        self._pop: dict[frozenset[str], np.ndarray] = {}

    def x_pop(self, train_speakers: frozenset[str]) -> np.ndarray:
        if train_speakers not in self._pop:
            pop = population({s: b for s, b in self.baselines.items() if s in train_speakers})
            self._pop[train_speakers] = np.stack([relative(c.stats, pop, ALL) for c in self.rest])
        return self._pop[train_speakers]


def row_weights(datasets: np.ndarray, emotions: np.ndarray, r: Recipe) -> np.ndarray:
    """Each training row's weight: each corpus alike (calm_tts rows count 1), and neutral and
    calm speech carrying `calm_share` of the negatives (a calm caller must read as calm)."""
    w = np.ones(len(emotions))
    real = datasets != "tts"
    if r.corpus_balance:
        ds = datasets[real]
        for corpus in set(ds):
            w[datasets == corpus] = len(ds) / (len(set(ds)) * np.sum(ds == corpus))
    if r.calm_share > 0:
        neg = ~np.isin(emotions, ("angry", "fearful"))
        calm = np.isin(emotions, ("neutral", "calm", "calm_tts"))
        total = w[neg].sum()
        w[calm] *= r.calm_share * total / w[calm].sum()
        w[neg & ~calm] *= (1 - r.calm_share) * total / w[neg & ~calm].sum()
    return w


def fit(d: Data, train: np.ndarray, x_pop: np.ndarray, r: Recipe) -> tuple[Logistic, Logistic]:
    cols = [ALL.index(f) for f in r.features]
    x = np.where(d.has_own[:, None], d.x_own, x_pop)[train][:, cols]
    emotion, ds = d.emotion[train], d.dataset[train]
    if r.at_rest:
        mine = np.isin(d.base_speaker, d.speaker[train])
        x = np.vstack([x, d.base_x[mine][:, cols]])
        emotion = np.concatenate([emotion, ["neutral"] * int(mine.sum())])
        ds = np.concatenate([ds, d.base_dataset[mine]])
    if r.calm_tts:
        x = np.vstack([x, d.calm[:, cols]])
        emotion = np.concatenate([emotion, ["calm_tts"] * len(d.calm)])
        ds = np.concatenate([ds, ["tts"] * len(d.calm)])
    w = row_weights(ds, emotion, r)
    return fit_pair(x, emotion, w, r)


def fit_pair(x: np.ndarray, emotion: np.ndarray, w: np.ndarray, r: Recipe) -> tuple[Logistic, Logistic]:
    """anger (angry vs the rest) and anxiety (fearful vs the rest), each shifted so that a
    voice no different from its baseline reads at most `rest_p`."""
    out = []
    for positive in ("angry", "fearful"):
        m = Logistic.fit(x, (emotion == positive).astype(float), l2=r.l2, sample_weight=w)
        z0 = float((-m.mean / m.std) @ m.weights + m.bias)  # the score's logit at zero difference
        cap = float(np.log(r.rest_p / (1 - r.rest_p)))
        out.append(Logistic(m.mean, m.std, m.weights, m.bias - max(0.0, z0 - cap)))
    return out[0], out[1]


def own_weight(heard_s: np.ndarray, prior_s: float) -> np.ndarray:
    if prior_s == float("inf"):
        return np.zeros_like(heard_s)
    return heard_s / (heard_s + prior_s) if prior_s > 0 else np.ones_like(heard_s)


def score(d: Data, test: np.ndarray, x_pop: np.ndarray, models, r: Recipe) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Escalated or not, per test clip (speakers without a baseline: population norms alone)."""
    cols = [ALL.index(f) for f in r.features]
    own = np.where(d.has_own[test], own_weight(d.heard[test], r.prior_s), 0.0)
    xo = np.nan_to_num(d.x_own[test][:, cols])
    xp = x_pop[test][:, cols]
    fused = [own * m(xo) + (1 - own) * m(xp) for m in models]
    return d.length_w[test] * np.maximum(*fused) >= DEFAULT_THRESHOLDS["escalate_on"]


def cross(d: Data, r: Recipe, split_by: str = "corpus") -> np.ndarray:
    """Escalated or not for every clip, each scored by a model that never saw its corpus
    (`corpus`) or its speaker (`speaker`)."""
    groups = d.dataset if split_by == "corpus" else d.speaker
    out = np.zeros(len(groups), dtype=bool)
    for g in np.unique(groups):
        test = groups == g
        x_pop = d.x_pop(frozenset(set(d.speaker) | set(d.baselines)) - frozenset(d.speaker[test]))
        out[test] = score(d, test, x_pop, fit(d, ~test, x_pop, r), r)
    return out


def objective(d: Data, r: Recipe) -> float:
    """Leave-one-corpus-out escalate UAR, pooled: what the issue ships on."""
    return figures(d.emotion, cross(d, r, "corpus"))["escalate"]


def greedy(d: Data, base: Recipe, log=print) -> Recipe:  # type: ignore[no-untyped-def]
    """Forward selection of the differences, on the objective; stops when none helps."""
    chosen: tuple[str, ...] = ()
    best = -1.0
    while True:
        trials = [
            (objective(d, replace(base, features=(*chosen, f))), f) for f in CANDIDATES if f not in chosen
        ]
        if not trials:
            break
        value, f = max(trials)
        if value <= best + 1e-3:
            break
        chosen, best = (*chosen, f), value
        log(f"    + {f:16s} LOCO objective {value:.3f}")
    return replace(base, features=chosen)


def select(d: Data, log=print) -> Recipe:  # type: ignore[no-untyped-def]
    """The recipe best on leave-one-corpus-out: cues, then ridge, corpus balance, calm
    sentences, calm speech's weight and the own/population weighting."""
    r = greedy(d, Recipe(()), log)
    for field, values in (("at_rest", (True, False)), ("calm_share", (0.0, 0.25, 0.4, 0.5, 0.6)), ("l2", (1.0, 3.0, 10.0, 30.0, 100.0)),
                          ("corpus_balance", (True, False)), ("calm_tts", (True, False)),
                          ("prior_s", (0.0, 2.0, 5.0, 10.0, 30.0, float("inf")))):  # fmt: skip
        scored = [(objective(d, replace(r, **{field: v})), v) for v in values]
        log(f"    {field:15s} " + "  ".join(f"{v}: {s:.3f}" for s, v in scored))
        value, best = max(scored, key=lambda p: p[0])
        if value > objective(d, r) + TOLERANCE:  # a change must beat the fold-to-fold noise
            r = replace(r, **{field: best})
    return r


def table(d: Data, r: Recipe, split_by: str, log=print) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    esc = cross(d, r, split_by)
    out = {}
    for corpus in (*CORPORA, "pooled"):
        sel = np.ones(len(esc), dtype=bool) if corpus == "pooled" else d.dataset == corpus
        f = out[corpus] = figures(d.emotion[sel], esc[sel])
        log(f"    {corpus:8s} {f['angry']:6.3f} {f['fearful']:6.3f} {f['escalate']:6.3f} {f['happy']:6.0%} "
            f"{f['surprised']:6.0%} {f['calm_fa']:6.0%}  {int(f['clips'])}")  # fmt: skip
    return out


def main() -> None:
    t0 = time.perf_counter()
    from speech.tts import PiperTts

    d = Data(load_clips(samples=False), calm_sentence_stats(PiperTts()))
    print(
        f"emotion_dev: {len(d.rest)} scored clips, {len(d.baselines)} speakers with a baseline ({time.perf_counter() - t0:.0f} s)"
    )
    print("  greedy forward selection on leave-one-corpus-out (escalate UAR - calm FA past 5%):")
    r = select(d)
    print(f"  chosen: {r}")
    print("  columns: angry, fearful, escalate UAR; happy, surprised, calm escalated")
    for split_by in ("corpus", "speaker"):
        print(f"  leave-one-{split_by}-out:")
        table(d, r, split_by)
    print(
        "  which reference wins on unseen speakers (speakers with a baseline; LOSO escalate UAR / calm FA):"
    )
    has = d.has_own
    for prior in (0.0, 2.0, 5.0, 10.0, float("inf")):
        esc = cross(d, replace(r, prior_s=prior), "speaker")
        f = figures(d.emotion[has], esc[has])
        name = (
            "own only"
            if prior == 0
            else "population only"
            if prior == float("inf")
            else f"blend, {prior:g} s"
        )
        print(f"    {name:16s} {f['escalate']:.3f} / {f['calm_fa']:.0%}")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
