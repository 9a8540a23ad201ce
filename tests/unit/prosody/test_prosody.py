"""The emotion radar: features on telephone audio, baseline logic, levels, CLI and in-call
events. Category: unit (features, logic), e2e (CLI, replay)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from prosody.features import frame_features, utterance_stats
from prosody.radar import DELTAS, FEATURES, MODEL_PATH, Baseline, Logistic, Radar, RadarModel
from tests.conftest import FIXTURES, voiced


def mulaw(x: np.ndarray, tmp_path) -> np.ndarray:
    path = tmp_path / "mu.wav"
    sf.write(path, x, 8000, subtype="ULAW")
    return sf.read(path, dtype="float32")[0]


@pytest.mark.unit
@pytest.mark.parametrize("f0", [85.0, 120.0, 180.0, 250.0, 330.0])
def test_f0_and_voicing_at_8khz_and_through_mulaw(f0, tmp_path):
    x = np.concatenate([np.zeros(4000, np.float32), voiced(1.5, 8000, f0=f0), np.zeros(4000, np.float32)])
    for signal in (x, mulaw(x, tmp_path)):
        ff = frame_features(signal)
        est = np.median(ff.f0_hz[ff.voiced])
        assert abs(12 * np.log2(est / f0)) < 0.3  # within a third of a semitone
        assert 0.6 < ff.voiced.mean() < 0.8  # 1.5 s of 2.5 s is voiced
        assert not ff.voiced[:40].any()  # the silence is not


@pytest.mark.unit
def test_level_and_tilt_features(tmp_path):
    x = voiced(2.0, 8000, f0=150, level=0.1)
    a, b = utterance_stats(x), utterance_stats(x * 2.0)  # +6.02 dB
    assert b.loud_db - a.loud_db == pytest.approx(6.02, abs=0.1)
    assert abs(b.f0_st - a.f0_st) < 0.1
    c = utterance_stats(mulaw(x * 2.0, tmp_path))
    assert c.loud_db - a.loud_db == pytest.approx(6.02, abs=0.5)
    bright = np.append(x[0], x[1:] - 0.9 * x[:-1])  # pre-emphasis: more high-frequency energy
    d = utterance_stats(bright)
    assert d.alpha_db > a.alpha_db + 3 and d.centroid_hz > a.centroid_hz
    assert utterance_stats(np.zeros(8000, np.float32)) is None  # silence: nothing to judge


def _loudness_pitch_model() -> RadarModel:
    """A transparent model: anger rises with loudness and pitch over the caller's baseline
    (about 0.5 at +5 dB and +2.5 semitones). Tests the radar's logic, not the calibration."""
    w = np.zeros(len(FEATURES))
    w[FEATURES.index("d_loud_db")] = 0.5
    w[FEATURES.index("d_f0_st")] = 0.5
    anger = Logistic(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), w, -3.75)
    anxiety = Logistic(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)), -5.0)
    population = utterance_stats(voiced(3.0, 8000, f0=150, level=0.1)).as_dict()
    return RadarModel(anger, anxiety, population, {})


def _utterances(n: int, f0: float, level: float, seconds: float = 3.0, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)  # small natural variation between utterances
    return [
        voiced(
            seconds,
            8000,
            f0=f0 * 2 ** (rng.normal(0, 0.3) / 12),
            level=level * 10 ** (rng.normal(0, 0.5) / 20),
        )
        for _ in range(n)
    ]


@pytest.mark.unit
def test_a_loud_but_calm_caller_is_not_flagged():
    radar = Radar(_loudness_pitch_model())
    # 12 dB louder and 4 semitones higher than the population, all call long: that is their voice
    levels = [radar.update(u, 8000).level for u in _utterances(8, f0=190, level=0.4)]
    assert levels[-5:] == ["calm"] * 5
    assert "escalate" not in levels


@pytest.mark.unit
def test_the_same_caller_rising_6db_and_3_semitones_is_flagged():
    radar = Radar(_loudness_pitch_model())
    for u in _utterances(4, f0=190, level=0.4):
        radar.update(u, 8000)
    assert radar.level == "calm"
    levels = [radar.update(u, 8000).level for u in _utterances(3, f0=190 * 2 ** (3 / 12), level=0.8, seed=1)]
    assert levels[-1] == "escalate"


@pytest.mark.unit
def test_one_loud_word_does_not_escalate_and_levels_do_not_flap():
    radar = Radar(_loudness_pitch_model())
    for u in _utterances(4, f0=150, level=0.1):
        radar.update(u, 8000)
    shout = voiced(0.4, 8000, f0=150 * 2 ** (5 / 12), level=0.6)  # one short loud word
    assert radar.update(shout, 8000).level != "escalate"
    # a caller hovering around the threshold does not flip level on every utterance
    radar = Radar(_loudness_pitch_model())
    for u in _utterances(4, f0=150, level=0.1):
        radar.update(u, 8000)
    hover = [
        voiced(3.0, 8000, f0=150 * 2 ** (st / 12), level=0.1 * 10 ** (db / 20))
        for st, db in [(3, 6), (2, 4.5), (3, 6), (2, 4.5), (3, 6), (2, 4.5)]
    ]
    levels = [radar.update(u, 8000).level for u in hover]
    changes = sum(a != b for a, b in zip(levels, levels[1:], strict=False))
    assert changes <= 1, levels


@pytest.mark.unit
def test_baseline_is_robust_to_one_outlier():
    b = Baseline(size=3)
    calm = [utterance_stats(u) for u in _utterances(2, f0=150, level=0.1)]
    shout = utterance_stats(voiced(3.0, 8000, f0=300, level=0.8))
    for s in (calm[0], shout, calm[1]):
        b.add(s)
    ref = b.reference()
    assert abs(ref["f0_st"] - calm[0].f0_st) < 1.0  # the median ignores the shout
    assert abs(ref["loud_db"] - calm[0].loud_db) < 2.0


@pytest.mark.unit
def test_own_baseline_and_population_norms_are_weighted_by_what_was_heard():
    """A naturally loud caller (+8 dB over everyone): with the weighting off only their own
    voice counts (calm); with it, one short baseline utterance leaves the population's view
    strong (their loud voice reads angry), and half a minute of them outweighs it."""
    base = _loudness_pitch_model()

    def anger_after(prior_s: float, heard: list[np.ndarray]) -> float:
        model = RadarModel(base.anger, base.anxiety, base.population, {"baseline_prior_s": prior_s})
        radar = Radar(model)
        for u in heard:
            radar.learn_baseline(u, 8000)
        assert radar.baseline.heard_s == pytest.approx(sum(len(u) for u in heard) / 8000, abs=0.05)
        update = radar.update(_utterances(1, 150, 0.25, seed=9)[0], 8000)
        assert update is not None
        return update.anger

    short = [_utterances(1, 150, 0.25, seconds=1.0, seed=1)[0]]
    long = _utterances(10, 150, 0.25, seed=2)  # 30 s
    own_only = anger_after(0.0, short)
    assert own_only < 0.1
    assert anger_after(5.0, short) > own_only + 0.3  # heard 1 s: mostly everyone's norms
    assert anger_after(5.0, long) < anger_after(5.0, short) - 0.25  # heard 30 s: mostly their own


@pytest.mark.unit
def test_a_model_file_names_its_features_and_a_wrong_one_is_refused(tmp_path):
    model = RadarModel.load()
    assert set(model.features) <= set(DELTAS) and len(model.anger.weights) == len(model.features)
    d = json.loads(MODEL_PATH.read_text())
    d["features"] = [*d["features"][:-1], "d_no_such_cue"]
    bad = tmp_path / "radar.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="d_no_such_cue"):
        RadarModel.load(bad)
    d["features"] = d["features"][:-1]
    bad.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="weights for"):
        RadarModel.load(bad)


@pytest.mark.unit
def test_shipped_model_loads_and_scores():
    model = RadarModel.load()
    assert model.meta["script"] == "bench/radar_calibrate.py"
    calm = utterance_stats(voiced(3.0, 8000, f0=150, level=0.1)).as_dict()
    anger, anxiety = model.scores(utterance_stats(voiced(3.0, 8000, f0=150, level=0.1)), calm)
    assert 0 <= anger < 0.5 and 0 <= anxiety < 0.5  # the caller's own voice is not upset


@pytest.mark.e2e
def test_radar_cli(ivr_cmd, tmp_path):
    calm = tmp_path / "calm.wav"
    sf.write(calm, voiced(3.0, 8000, f0=140, level=0.1), 8000)
    proc = subprocess.run(
        [*ivr_cmd, "radar", str(calm), str(FIXTURES / "jfk.flac"), "--baseline", str(calm), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(calm), str(FIXTURES / "jfk.flac")]
    for r in rows:
        assert set(r) == {"file", "anger", "anxiety", "level", "escalate"}
        assert (
            0 <= r["anger"] <= 1 and 0 <= r["anxiety"] <= 1 and r["level"] in ("calm", "rising", "escalate")
        )
    assert rows[0]["level"] == "calm" and rows[0]["escalate"] is False
    bad = subprocess.run([*ivr_cmd, "radar", str(tmp_path / "missing.wav")], capture_output=True, text=True)
    assert bad.returncode == 2 and "no such file" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.e2e
def test_radar_cli_hears_the_words_too(ivr_cmd, tmp_path):
    """A raised voice scored with what was said: pleased words damp it, angry words do not."""
    calm, raised = tmp_path / "calm.wav", tmp_path / "raised.wav"
    sf.write(calm, voiced(3.0, 8000, f0=140, level=0.1), 8000)
    sf.write(raised, voiced(3.0, 8000, f0=190, level=0.35), 8000)

    def radar(*words: str) -> dict:
        proc = subprocess.run(
            [*ivr_cmd, "radar", str(raised), "--baseline", str(calm), "--json", *words],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    voice = radar()
    pleased = radar("--words", "That's brilliant, thank you so much, you've been really helpful.")
    angry = radar("--words", "This is ridiculous, it's the third time I'm calling about this.")
    assert "valence" not in voice and pleased["valence"] > 0.5 and angry["valence"] < -0.5
    assert pleased["anger"] < voice["anger"] - 0.1 and angry["anger"] >= voice["anger"]


@pytest.mark.e2e
def test_affect_events_follow_each_utterance_in_a_replay(ivr_cmd):
    proc = subprocess.run(
        [*ivr_cmd, "replay", str(FIXTURES / "jfk.flac"), "--json", "--greeting", ""],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    # an utterance judged noise or someone else's (`ignored`) is no turn and moves no radar
    ignored = {e["onset_ms"] for e in events if e["type"] == "final_transcript" and e.get("ignored")}
    ends = [e for e in events if e["type"] == "speech_end" and e["onset_ms"] not in ignored]
    affects = [e for e in events if e["type"] == "affect"]
    assert len(affects) == len(ends) >= 2
    for end, affect in zip(ends, affects, strict=True):
        assert affect["t_ms"] == end["t_ms"]  # decided at the utterance's end, in audio time
        assert affect["level"] in ("calm", "rising", "escalate")
