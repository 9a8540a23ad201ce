"""The radar learns from the deployment's labelled calls, over a real store (SQLite and
PostgreSQL): labels checked and kept with the utterances' cues; a generated day of labelled
calls (cues of the development clips through the shipped radar, tests/data/radar_day.json.gz)
retrains to a model better on its held-out calls, proposed, approved (live in a worker's
LiveRadar with no restart) and rolled back; too few, contradictory or meaningless labels are
refused with the reason; the admin's false-alarm budget sets the threshold. Category: unit."""

from __future__ import annotations

import pytest

from ivr.radar.admin import describe, run_retrain
from ivr.radar.live import LiveRadar
from ivr.radar.records import RadarError
from prosody.radar import RadarModel
from tests.sip_helpers import wait_until
from tests.tools.radar_day import write_day

pytestmark = pytest.mark.unit
SHIPPED = RadarModel.load()


def retrain(store, first: float, **kw):  # type: ignore[no-untyped-def]
    return run_retrain(store.radar, SHIPPED, first - 1, "2026-11-30", author="admin", **kw)


def test_labels_are_checked_and_kept_with_the_utterances_cues(store):
    day = write_day(store.engine, calls_n=3, labelled=0.0)
    radar, cid = store.radar, "rad-2026-11-30-00000"
    with pytest.raises(RadarError, match="label 'furious'"):
        radar.label(cid, "wrapup", "furious", "ann")
    with pytest.raises(RadarError, match="source"):
        radar.label(cid, "email", "angry", "ann")
    with pytest.raises(RadarError, match="no call"):
        radar.label("nope", "wrapup", "angry", "ann")
    with pytest.raises(RadarError, match="after the call's end"):
        radar.label(cid, "qa", "angry", "sue", started_ms=10**8)
    got = radar.label(cid, "wrapup", "anxious", "ann")
    assert got["features"] >= 3 and got["started_ms"] is None  # the cues of its utterances, copied
    radar.label(cid, "wrapup", "angry", "ann")  # a second word from the same source replaces the first
    radar.label(cid, "qa", "angry", "sue", started_ms=5000)
    assert [(r["source"], r["label"], r["started_ms"]) for r in radar.labels_of(cid)] == [
        ("qa", "angry", 5000), ("wrapup", "angry", None)]  # fmt: skip
    assert radar.counts() == {"angry": 1, "anxious": 0, "neither": 0}
    # how the radar did on it as it ran (the generated calls' records say "calm")
    assert radar.agreement() == {
        "upset_calls": 1,
        "upset_escalated": 0.0,
        "calm_calls": 0,
        "false_per_100": None,
    }
    (row,) = radar.labelled_calls(day["first"] - 1)
    assert len(row["utterances"]) >= 3 and all("pp" in u["cues"] for u in row["utterances"])


def test_a_labelled_day_retrains_to_a_better_model_that_goes_live_and_rolls_back(store):
    day = write_day(store.engine)
    live = LiveRadar(store.radar, SHIPPED, refresh_s=0)
    assert live.current() is SHIPPED
    out = retrain(store, day["first"])
    assert out["accepted"], describe(out)
    assert out["after"]["uar"] > out["before_at_budget"]["uar"], describe(out)  # more than a moved threshold
    assert out["after"]["false_per_100"] < out["before"]["false_per_100"], describe(
        out
    )  # the budget holds better
    assert out["version"] == 1 and out["labels"]["upset"] >= 20 and out["held_out_calls"] > 30
    assert live.current() is SHIPPED  # proposed is not live
    store.radar.approve(1, "admin")
    model = live.current()  # the next call's model: no restart
    assert model.version == 1 and model.anger.weights.tolist() != SHIPPED.anger.weights.tolist()
    assert model.thresholds["escalate_on"] == out["thresholds"]["escalate_on"]
    if SHIPPED.encoder is not None:  # the encoder head was refitted, its projection is the shipped one
        assert model.encoder is not None and model.encoder.projection is SHIPPED.encoder.projection
    with pytest.raises(RadarError, match="only a proposed"):
        store.radar.approve(1, "admin")
    again = retrain(store, day["first"])  # the same labels again: the live model has learned them
    assert not again["accepted"] and "no better" in again["reason"] and again["live_version"] == 1, describe(
        again
    )
    # a second version (the shipped heads, as an admin might bring back), then back step by step
    assert store.radar.propose(SHIPPED.to_json(full=False), {}, "2026-11-30", 2.0, "admin") == 2
    store.radar.approve(2, "admin")
    assert live.current().version == 2 and store.radar.version(1)["state"] == "replaced"
    assert store.radar.rollback("admin") == 1 and live.current().version == 1
    assert store.radar.rollback("admin") == 0 and live.current() is SHIPPED
    with pytest.raises(RadarError, match="nothing to roll back"):
        store.radar.rollback("admin")


def test_a_dry_run_only_reports(store):
    day = write_day(store.engine)
    out = retrain(store, day["first"], dry_run=True)
    assert out["accepted"] and "version" not in out and store.radar.versions() == []
    assert "--dry-run: nothing kept" in describe(out)


def test_too_few_labels_are_refused_with_the_reason(store):
    day = write_day(store.engine, calls_n=40)
    out = retrain(store, day["first"])
    assert not out["accepted"] and out["reason"].startswith("too few labels"), out
    assert store.radar.versions() == []


def test_contradictory_labels_are_refused(store):
    day = write_day(store.engine, reviewed=0.6, contradict=0.5)
    out = retrain(store, day["first"])
    assert not out["accepted"] and "contradict" in out["reason"], out
    assert out["labels"]["contradicted"] == day["contradicted"]


def test_labels_that_say_nothing_give_no_better_model_and_are_refused(store):
    day = write_day(store.engine, shuffle_labels=True)
    out = retrain(store, day["first"])
    assert not out["accepted"] and "no better" in out["reason"], describe(out)


def test_the_false_alarm_budget_sets_the_threshold(store):
    day = write_day(store.engine)
    assert store.radar.budget() == 2.0
    store.radar.set_budget(0.0, "admin")
    strict = retrain(store, day["first"], dry_run=True)
    loose = retrain(store, day["first"], dry_run=True, budget=20.0)
    assert strict["budget"] == 0.0 and loose["budget"] == 20.0
    assert strict["thresholds"]["escalate_on"] >= loose["thresholds"]["escalate_on"]
    assert strict["after"]["false_per_100"] <= loose["after"]["false_per_100"]
    with pytest.raises(RadarError, match="0 to 50"):
        store.radar.set_budget(80, "admin")


def test_a_workers_watch_takes_up_an_approval_and_rides_out_a_store_error(store):
    """A worker's watch reads the store from its own thread (a call's start never queries it):
    an approval is taken up within its refresh; a store error keeps the last version."""
    live = LiveRadar(store.radar, SHIPPED, refresh_s=0.05).start()
    try:
        assert live.current() is SHIPPED
        version = store.radar.propose(SHIPPED.to_json(full=False), {}, "2026-11-30", 2.0, "ada")
        store.radar.approve(version, "ada")
        wait_until(lambda: live.current().version == version, 10, "the watch to take up the approval")
        calls = []

        def away() -> tuple[int, float]:
            calls.append(1)
            raise ConnectionError("the store is away")

        live.records = type("Away", (), {"stamp": staticmethod(away)})()  # type: ignore[assignment]
        wait_until(lambda: len(calls) >= 3, 10, "the watch to meet the error three times")
        assert live.current().version == version  # still the approved one
    finally:
        live.stop()
