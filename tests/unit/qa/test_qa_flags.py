"""QA screening on crafted call records: each flag from what a call showed, the risk score, the
day's sampling (a seed fixes the random share), the admin's form and its errors. Category: unit."""

from __future__ import annotations

import pytest

from ivr.qa.config import QaConfigError, load_qa_config
from ivr.qa.flags import Flag, risk, screen_call
from ivr.qa.records import drawn_at_random

pytestmark = pytest.mark.unit


def ev(t_ms: int, type: str, **data):  # type: ignore[no-untyped-def]
    return {"t_ms": t_ms, "type": type, **data}


def names(flags) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.name for f in flags}


CALM = [
    ev(0, "say", text="How can I help?"),
    ev(3000, "speech_start", onset_ms=2800),
    ev(4000, "final_transcript", text="what's my balance"),
    ev(4000, "intent", name="check_balance", confidence=0.82, text="what's my balance"),
    ev(4100, "say", text="Your balance is 12 pounds."),
    ev(8000, "final_transcript", text="no thanks"),
    ev(8100, "hangup", reason="resolved"),
]


def test_a_calm_resolved_call_has_no_flags_and_no_risk():
    flags = screen_call({"outcome": "ai_resolved", "started_at": 1000.0}, CALM)
    assert flags == [] and risk(flags) == 0.0


def test_an_abandoned_caller_who_asked_for_a_person_and_waited():
    events = [
        ev(0, "say", text="How can I help?"),
        ev(2000, "speech_start", onset_ms=1900),
        ev(3000, "final_transcript", text="I want to talk to a real person"),
        ev(3100, "transfer", queue="general", reason="caller asked for a person", tier="L2"),
        ev(3200, "queue_join", queue="general", position=3, priority=0),
        ev(183200, "queue_leave", reason="abandoned", wait_ms=180000),
    ]
    flags = screen_call({"outcome": "abandoned", "queue": "general"}, events)
    assert {"abandoned_in_queue", "person_waited"} <= names(flags)
    waited = next(f for f in flags if f.name == "abandoned_in_queue")
    assert "180 s" in waited.evidence and "general" in waited.evidence


def test_a_person_asked_for_and_never_reached():
    events = [
        *CALM[:3],
        ev(4000, "final_transcript", text="can I speak to someone please"),
        ev(5000, "hangup", reason="resolved"),
    ]
    assert "person_refused" in names(screen_call({"outcome": "ai_resolved"}, events))


def test_legal_words_complaints_repeats_and_negative_words_after_an_answer():
    events = [
        *CALM[:5],
        ev(6000, "final_transcript", text="no that's wrong, my balance is not twelve pounds"),
        ev(9000, "final_transcript", text="my balance is not twelve pounds at all"),
        ev(12000, "final_transcript", text="this is ridiculous, I'll take legal action"),
    ]
    got = names(screen_call({"outcome": "caller_hung_up"}, events))
    assert {"negative_after_answer", "caller_repeated", "legal", "complaint"} <= got


def test_the_radar_peak_and_trend():
    peak = [
        ev(1000, "affect", anger=0.2, anxiety=0.1, level="calm"),
        ev(5000, "affect", anger=0.9, anxiety=0.2, level="escalate"),
    ]
    (f,) = [f for f in screen_call({}, peak) if f.name.startswith("radar")]
    assert f.name == "radar_escalate" and f.t_ms == 5000 and "0.90" in f.evidence
    trend = [
        ev(i * 1000, "affect", anger=a, anxiety=0.1, level="calm")
        for i, a in enumerate((0.1, 0.15, 0.2, 0.4, 0.45, 0.5))
    ]
    assert "radar_rising" in names(screen_call({}, trend))
    flat = [ev(i * 1000, "affect", anger=0.3, anxiety=0.1, level="calm") for i in range(6)]
    assert not names(screen_call({}, flat))


def test_repeated_no_match_low_confidence_and_a_long_silence_after_the_prompt():
    events = [
        ev(0, "say", text="How can I help?"),  # about 1 s of prompt
        ev(15000, "speech_start", onset_ms=15000),  # then 14 s of nothing
        ev(16000, "intent", name="none", confidence=0.2, text="tell me a joke"),
        ev(20000, "intent", name="none", confidence=0.25, text="what's the weather"),
        ev(24000, "intent", name="pay_bill", confidence=0.45, text="bills by post"),
    ]
    got = {f.name: f for f in screen_call({"outcome": "caller_hung_up"}, events)}
    assert {"repeated_no_match", "low_confidence_answer", "long_silence"} <= set(got)
    assert "tell me a joke" in got["repeated_no_match"].evidence
    long_prompt = [
        ev(0, "say", text="x" * 150),
        ev(11000, "speech_start", onset_ms=11000),
    ]  # 10 s of prompt, 1 s quiet
    assert "long_silence" not in names(screen_call({}, long_prompt))


def test_a_resolved_call_the_caller_dials_again_within_a_day():
    call = {"outcome": "ai_resolved", "started_at": 1000.0}
    assert "redial_after_resolved" in names(
        screen_call(call, CALM, [{"id": "c2", "started_at": 1000.0 + 3 * 3600}])
    )
    assert "redial_after_resolved" not in names(
        screen_call(call, CALM, [{"id": "c2", "started_at": 1000.0 + 30 * 3600}])
    )


def test_weights_zero_turns_a_flag_off_and_risk_is_a_noisy_or():
    assert "legal" not in names(
        screen_call({}, [ev(0, "final_transcript", text="I'll sue")], weights={"legal": 0})
    )
    assert risk([Flag("a", 0.5, ""), Flag("b", 0.5, "")]) == 0.75


def test_the_random_share_is_fixed_by_the_seed():
    ids = [f"call-{i}" for i in range(2000)]
    drawn = [i for i in ids if drawn_at_random("seed-1", i, 0.05)]
    assert drawn == [i for i in ids if drawn_at_random("seed-1", i, 0.05)]
    assert 60 <= len(drawn) <= 140
    assert drawn != [i for i in ids if drawn_at_random("seed-2", i, 0.05)]


def test_the_shipped_qa_config_loads_and_a_broken_one_names_its_line(tmp_path):
    cfg = load_qa_config("dialplans/qa.yaml")
    assert cfg.share == 0.2 and cfg.form.questions[0].id == "understood" and cfg.timezone == "Europe/London"
    assert cfg.form.score({"understood": "yes", "correct": "no"}) == 0.5
    with pytest.raises(ValueError, match="tone: a number from 1 to 5"):
        cfg.form.score({"tone": 9})
    bad = tmp_path / "qa.yaml"
    bad.write_text("sampling:\n  share: 0.2\nweights:\n  radar_escalte: 0.5\n")
    with pytest.raises(QaConfigError, match=r"qa.yaml:4: weights: unknown flag 'radar_escalte'"):
        load_qa_config(bad)
    bad.write_text("form:\n  questions:\n    - id: a\n      text: A?\n      type: stars\n")
    with pytest.raises(QaConfigError, match=r"qa.yaml:3: .*type 'stars'"):
        load_qa_config(bad)
    assert load_qa_config(tmp_path / "missing.yaml").source == "(embedded defaults)"


def test_a_noisy_line_is_flagged_when_told_or_when_words_were_judged_noise():
    told = [*CALM[:2], ev(9000, "say", text="Sorry, it's a bit noisy...", prompt="noisy_line")]
    assert "noisy_line" in names(screen_call({}, told))
    judged = [*CALM, ev(9000, "final_transcript", text="", ignored="noise"),
              ev(9500, "final_transcript", text="", ignored="background")]  # fmt: skip
    flag = next(f for f in screen_call({}, judged) if f.name == "noisy_line")
    assert "2 utterance(s) judged noise" in flag.evidence and flag.t_ms == 9500
    one = [*CALM, ev(9000, "final_transcript", text="", ignored="noise")]
    assert "noisy_line" not in names(screen_call({}, one))
