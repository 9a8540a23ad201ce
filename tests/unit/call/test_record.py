"""How a call ended, from what its events showed (ivr.call.record.outcome_of)."""

from __future__ import annotations

import pytest

from ivr.call.record import CallRecord, Summary, outcome_of
from ivr.events import EventType as T
from ivr.events import make

pytestmark = pytest.mark.unit


def summary_of(*events) -> Summary:
    s = Summary()
    for kind, data in events:
        s.update(make("c", 0, kind, **data))
    return s


@pytest.mark.parametrize(
    "events,outcome",
    [
        ([(T.HANGUP, {"reason": "resolved"})], "ai_resolved"),
        ([(T.HANGUP, {"reason": "silence"})], "abandoned"),
        ([(T.HANGUP, {"reason": "caller said goodbye"})], "ai_resolved"),  # after an answer
        ([(T.HANGUP, {"reason": "caller said goodbye before an answer"})], "caller_hung_up"),
        ([(T.CALL_END, {"duration_ms": 5, "reason": "caller hung up (200)"})], "caller_hung_up"),
        (
            [
                (T.TRANSFER, {"queue": "billing", "reason": "r", "tier": "L2"}),
                (T.BRIDGE, {"uri": "sip:a@b", "state": "connected"}),
            ],
            "transferred",
        ),
        (
            [
                (T.TRANSFER, {"queue": "billing", "reason": "r", "tier": "L2"}),
                (T.CALL_END, {"duration_ms": 5}),
            ],
            "abandoned",
        ),
        ([(T.HOLD, {"state": "start"}), (T.CALL_END, {"duration_ms": 5})], "abandoned"),
        (
            [
                (T.BRIDGE, {"uri": "sip:a@b", "state": "no answer"}),
                (T.HANGUP, {"reason": "transfer to billing no answer"}),
            ],
            "failed",
        ),
        ([(T.ERROR, {"message": "boom", "stage": "app"})], "failed"),
        (
            [(T.ERROR, {"message": "tts away", "stage": "tts"}), (T.HANGUP, {"reason": "resolved"})],
            "ai_resolved",
        ),
    ],
)
def test_outcomes(events, outcome):
    assert outcome_of(summary_of(*events))[0] == outcome


def test_the_summary_follows_the_call():
    s = summary_of(
        (T.NODE, {"name": "menu"}),
        (T.INTENT, {"name": "billing", "confidence": 0.8123, "node": "menu"}),
        (T.AFFECT, {"anger": 0.7, "anxiety": 0.2, "level": "rising"}),
        (T.AFFECT, {"anger": 0.3, "anxiety": 0.4, "level": "calm"}),
        (T.TRANSFER, {"queue": "billing", "reason": "asked", "tier": "L2"}),
    )
    assert s.path == ["menu"] and s.intents[0]["confidence"] == 0.812
    assert s.affect_level == "rising" and s.anger_max == 0.7 and s.anxiety_max == 0.4
    assert (s.tier, s.queue, s.transfer_reason) == ("L2", "billing", "asked")


def test_a_record_without_a_store_still_masks_and_decides():
    printed = []
    rec = CallRecord("c", None, out=lambda e: printed.append(e.to_dict()))
    rec(make("c", 0, T.CALL_START, sample_rate=8000))
    rec(make("c", 10, T.FINAL_TRANSCRIPT, text="card 4111 1111 1111 1111"))
    rec(make("c", 20, T.HANGUP, reason="resolved"))
    rec(make("c", 20, T.CALL_END, duration_ms=20))
    assert printed[1]["text"] == "card **** **** **** 1111" and rec.outcome == "ai_resolved"
    rec.interrupted("late")  # an ended call stays as it ended
    assert rec.outcome == "ai_resolved"
