"""Refit the radar's heads on the deployment's labelled calls, as an admin's decision.

The labels: each call's word from its agent (wrap-up) or a reviewer (QA; theirs counts when
both gave one). A call the two contradict (upset / not upset) is left out and counted; too many
such calls and the retraining is refused. An upset call's utterances from the marked one on are
positives (all of them at half weight when nobody marked where it started; the ones before a
mark, negatives at half weight); a calm call's are negatives.

The fit: both heads (prosody and, when the model has one, encoder) by ridge logistic regression
pulled toward the shipped model's weights (`Logistic.fit(prior=...)`), the ridge and the encoder
head's share chosen on two folds of the training calls; then the thresholds from the admin's
false-alarm budget (false escalations per hundred calm calls) on the training calls. A held-out
share of the calls (a fixed third of each label's, by a hash of the call id) scores the live
model and the new one as
the workers would: each call's utterances through the radar's smoothing and levels, escalated
or not. The live model is scored as it runs and with its threshold set for the same budget; the
new model is refused unless it beats the latter there (on 90% of resamples of those calls): a
retraining must do more than move a threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from prosody.radar import DEFAULT_THRESHOLDS, Cues, Radar, RadarModel
from prosody.radar_fit import Logistic, capped

MIN_UPSET = 20
"""Upset calls (angry or anxious) the labels must hold, with the radar's cues."""
MIN_CALM = 40
"""Calm calls ("neither") the labels must hold."""
MAX_CONTRADICTED = 0.2
"""The most of the calls labelled twice whose two labels may disagree."""
MIN_CONFIDENCE = 0.9
"""The share of resamples of the held-out calls on which the new model must be the better."""
HELD_OUT = 1 / 3
L2S = (1.0, 3.0, 10.0, 30.0, 100.0)
ENCODER_WEIGHTS = (0.0, 0.25, 0.5)
UPSET = ("angry", "anxious")


@dataclass(frozen=True)
class LabelledCall:
    call_id: str
    label: str  # angry | anxious | neither
    started_ms: int | None
    utterances: tuple[tuple[int, Cues], ...]

    @property
    def upset(self) -> bool:
        return self.label in UPSET


@dataclass
class Outcome:
    """What a retraining found: the new model (None when refused), why, and its figures."""

    model: RadarModel | None
    reason: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.model is not None


def resolve(rows: list[dict[str, Any]]) -> tuple[list[LabelledCall], dict[str, int]]:
    """The store's labelled calls -> one label each; counts of what was left out and why."""
    calls, counts = [], {"labelled": len(rows), "twice": 0, "contradicted": 0, "without_cues": 0}
    for r in rows:
        by = {lab["source"]: lab for lab in r["labels"]}
        if len(by) > 1:
            counts["twice"] += 1
            if (by["qa"]["label"] in UPSET) != (by["wrapup"]["label"] in UPSET):
                counts["contradicted"] += 1
                continue
        chosen = by.get("qa") or by["wrapup"]
        utterances = tuple(
            (int(u["t_ms"]), Cues.from_json(u["cues"])) for u in r["utterances"] if u.get("cues")
        )
        if not utterances:
            counts["without_cues"] += 1
            continue
        calls.append(LabelledCall(r["call_id"], chosen["label"], chosen.get("started_ms"), utterances))
    return calls, counts


def _hash(call_id: str) -> int:
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")


def split(
    calls: list[LabelledCall], share: float = HELD_OUT, salt: str = ""
) -> tuple[list[LabelledCall], list[LabelledCall]]:
    """(training, held out): a fixed share of each label, by the call id's hash."""
    train, held = [], []
    for label in ("angry", "anxious", "neither"):
        mine = sorted((c for c in calls if c.label == label), key=lambda c: _hash(salt + c.call_id))
        n = int(round(len(mine) * share))
        held += mine[:n]
        train += mine[n:]
    return train, held


def escalations(model: RadarModel, calls: list[LabelledCall]) -> tuple[np.ndarray, np.ndarray]:
    """Each call through the radar as a worker runs it: (escalated, highest smoothed score)."""
    esc, top = np.zeros(len(calls), dtype=bool), np.zeros(len(calls))
    for i, c in enumerate(calls):
        radar = Radar(model)
        for _, cues in c.utterances:
            anger, anxiety = model.read(cues)
            esc[i] |= radar.smooth(anger, anxiety, cues.s) == "escalate"
            top[i] = max(top[i], radar.smoothed)
    return esc, top


def _uar(esc: np.ndarray, upset: np.ndarray) -> float:
    return 0.5 * (float(esc[upset].mean()) + 1 - float(esc[~upset].mean()))


def confidence(before: RadarModel, after: RadarModel, calls: list[LabelledCall], n: int = 1000) -> float:
    """How sure the held-out calls are that `after` is better: the share of resamples of them
    (each label's calls drawn with replacement) on which its UAR is higher."""
    a, _ = escalations(after, calls)
    b, _ = escalations(before, calls)
    upset = np.array([c.upset for c in calls])
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(upset), np.flatnonzero(~upset)
    wins = 0
    for _ in range(n):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        wins += _uar(a[idx], upset[idx]) > _uar(b[idx], upset[idx])
    return wins / n


def figures(model: RadarModel, calls: list[LabelledCall]) -> dict[str, float]:
    esc, _ = escalations(model, calls)
    labels = np.array([c.label for c in calls])
    rate = lambda m: float(esc[m].mean()) if m.any() else float("nan")  # noqa: E731
    upset, calm = rate(np.isin(labels, UPSET)), rate(labels == "neither")
    return {
        "uar": round(0.5 * (upset + 1 - calm), 3),
        "angry_caught": round(rate(labels == "angry"), 3),
        "anxious_caught": round(rate(labels == "anxious"), 3),
        "false_per_100": round(100 * calm, 1),
        "upset_calls": int(np.isin(labels, UPSET).sum()),
        "calm_calls": int((labels == "neither").sum()),
    }


def _rows(calls: list[LabelledCall], encoder: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training rows for one head: inputs, anger targets, anxiety targets, weights. Each
    utterance gives its population-relative row and, once the caller's baseline was in, its
    own-relative one, weighted as the radar blends them."""
    xs, ya, yx, ws = [], [], [], []
    for c in calls:
        for t_ms, cues in c.utterances:
            if c.upset and c.started_ms is not None:
                positive, w = t_ms >= c.started_ms, 1.0 if t_ms >= c.started_ms else 0.5
            else:
                positive, w = c.upset, 0.5 if c.upset else 1.0
            pop, own = (cues.ep, cues.eo) if encoder else (cues.pp, cues.po)
            if pop is None:
                continue
            for x, share in ((pop, 1 - cues.own if own is not None else 1.0), (own, cues.own)):
                if x is None or share <= 0:
                    continue
                xs.append(x)
                ya.append(positive and c.label == "angry")
                yx.append(positive and c.label == "anxious")
                ws.append(w * share)
    if not xs:
        return np.zeros((0, 0)), np.zeros(0), np.zeros(0), np.zeros(0)
    return np.array(xs), np.array(ya, dtype=float), np.array(yx, dtype=float), np.array(ws)


def refit(prior: RadarModel, calls: list[LabelledCall], l2: float, weight: float | None = None) -> RadarModel:
    """Both heads on `calls`, pulled toward `prior`'s; `weight`: the encoder head's share."""
    rest_p = float(prior.meta.get("recipe", {}).get("rest_p", 0.15))

    def heads(anger: Logistic, anxiety: Logistic, encoder: bool) -> tuple[Logistic, Logistic]:
        x, ya, yx, w = _rows(calls, encoder)
        if len(x) == 0 or x.shape[1] != len(anger.weights):
            return anger, anxiety
        # a voice no different from its baseline: no difference, or its projection
        zero = (
            prior.encoder.project(np.zeros(prior.encoder.dim))[0]
            if encoder and prior.encoder
            else np.zeros(x.shape[1])
        )
        out = []
        for y, p in ((ya, anger), (yx, anxiety)):
            out.append(
                capped(Logistic.fit(x, y, l2=l2, sample_weight=w, prior=p), zero, rest_p) if y.any() else p
            )
        return out[0], out[1]

    anger, anxiety = heads(prior.anger, prior.anxiety, False)
    model = replace(prior, anger=anger, anxiety=anxiety)
    if prior.encoder is not None:
        ea, ex = heads(prior.encoder.anger, prior.encoder.anxiety, True)
        head = prior.encoder.with_heads(ea, ex)
        model = model.with_encoder(head if weight is None else replace(head, weight=weight))
    return model


def _auc(top: np.ndarray, upset: np.ndarray) -> float:
    pos, neg = top[upset], top[~upset]
    if not len(pos) or not len(neg):
        return 0.5
    return float(((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean())


def choose(prior: RadarModel, train: list[LabelledCall]) -> tuple[float, float | None]:
    """The pull toward the prior and the encoder head's share (when the model has one) that
    rank calls best on two folds of the training calls."""
    weights: tuple[float | None, ...] = ENCODER_WEIGHTS if prior.encoder is not None else (None,)
    folds = [split(train, 0.5, salt) for salt in ("a", "b")]
    best, chosen = -1.0, (L2S[2], weights[0])
    for l2 in L2S:
        for weight in weights:
            scores = []
            for fit_on, check in folds:
                _, top = escalations(refit(prior, fit_on, l2, weight), check)
                scores.append(_auc(top, np.array([c.upset for c in check])))
            if np.mean(scores) > best + 1e-9:
                best, chosen = float(np.mean(scores)), (l2, weight)
    return chosen


def with_budget(model: RadarModel, calm: list[LabelledCall], per_100: float) -> RadarModel:
    """The escalation threshold at which at most `per_100` of a hundred calm calls escalate
    (the other levels keep their proportions to it)."""
    _, top = escalations(model, calm)  # a call escalates when its smoothed score reaches the threshold
    on = 0.95
    for t in np.arange(0.30, 0.951, 0.01):
        if 100 * float(np.mean(top >= t)) <= per_100:
            on = float(t)
            break
    d = DEFAULT_THRESHOLDS
    ratio = on / d["escalate_on"]
    thresholds = {**model.thresholds, "escalate_on": round(on, 2)}
    for k in ("escalate_off", "rising_on", "rising_off"):
        thresholds[k] = round(d[k] * ratio, 3)
    return replace(model, thresholds=thresholds)


def retrain(rows: list[dict[str, Any]], shipped: RadarModel, live: RadarModel, per_100: float) -> Outcome:
    """The labelled calls (`RadarRecords.labelled_calls`) -> a new model or the reason none."""
    calls, counts = resolve(rows)
    n_upset = sum(c.upset for c in calls)
    n_calm = len(calls) - n_upset
    report: dict[str, Any] = {"labels": {**counts, "upset": n_upset, "calm": n_calm}, "budget": per_100}
    if counts["twice"] and counts["contradicted"] / counts["twice"] > MAX_CONTRADICTED:
        return Outcome(None, f"the labels contradict each other: {counts['contradicted']} of the "
                             f"{counts['twice']} calls labelled twice are upset by one label and calm by the other", report)  # fmt: skip
    if n_upset < MIN_UPSET or n_calm < MIN_CALM:
        return Outcome(None, f"too few labels: {n_upset} upset and {n_calm} calm calls with the radar's "
                             f"cues; at least {MIN_UPSET} and {MIN_CALM} are needed", report)  # fmt: skip
    train, held = split(calls)
    l2, weight = choose(shipped, train)
    model = refit(shipped, train, l2, weight)
    calm = [c for c in train if not c.upset]
    model = with_budget(model, calm, per_100)
    # the live model as it runs, and at the same budget (its heads, its threshold moved as the new
    # one's is): the new model must beat the second, or retraining only moved a threshold
    at_budget = with_budget(live, calm, per_100)
    before, same, after = figures(live, held), figures(at_budget, held), figures(model, held)
    report.update({"train_calls": len(train), "held_out_calls": len(held), "l2": l2, "encoder_weight": weight,
                   "thresholds": {k: model.thresholds[k] for k in ("escalate_on", "escalate_off", "rising_on", "rising_off")},
                   "before": before, "before_at_budget": same, "after": after, "before_version": live.version})  # fmt: skip
    report["confidence"] = sure = round(confidence(at_budget, model, held), 3)
    if after["uar"] <= same["uar"] or sure < MIN_CONFIDENCE:
        return Outcome(None, f"no better on the held-out calls: UAR {after['uar']:.3f} against the live model's "
                             f"{same['uar']:.3f} at the same budget (better on {sure:.0%} of resamples of them; "
                             f"{MIN_CONFIDENCE:.0%} needed)", report)  # fmt: skip
    meta = {
        **shipped.meta,
        "retrained": {"calls": len(train), "l2": l2, "encoder_weight": weight, "budget": per_100},
    }
    return Outcome(replace(model, meta=meta), "better on the held-out calls", report)
