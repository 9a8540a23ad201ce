"""The agent's briefing: who, mood, why, what the IVR already said, past calls; cut to 5 s of
speech by dropping the least worth first."""

from __future__ import annotations

import asyncio
import time

import pytest

from ivr.acd import briefing

pytestmark = pytest.mark.unit


def test_the_briefing_says_who_mood_why_and_history_in_that_order():
    ctx = {
        "caller": {"name": "Ann Smith", "tier": "vip"},
        "affect": {"level": "escalate"},
        "intent": {"name": "billing_dispute"},
        "vars": {"answer_id": "balance"},
    }
    history = {"count": 1, "last_days_ago": 2.2, "last_intent": "roaming_world"}
    assert briefing.parts(ctx, history) == [
        "VIP caller Ann Smith", "sounds angry", "about billing dispute", "already told about balance",
        "called 2 days ago about roaming world",
    ]  # fmt: skip
    assert briefing.parts({"caller": {}, "reason": "caller asked for a person: 'agent'"}) == [
        "Unknown caller", "asked for a person",
    ]  # fmt: skip


def test_fit_drops_the_least_worth_until_the_speech_fits():
    rate = 8000
    said: list[str] = []

    async def synth(text: str) -> bytes:  # one second of audio per phrase
        said.append(text)
        return bytes(2 * rate * (text.count(",") + 1))

    phrases = ["VIP caller Ann", "sounds angry", "about billing", "told the balance", "called twice", "sixth"]
    text, pcm = asyncio.run(briefing.fit(phrases, synth, rate, limit_s=5.0))
    assert text == "VIP caller Ann, sounds angry, about billing, told the balance, called twice."
    assert len(pcm) / (2 * rate) <= 5.0 and len(said) == 2


class _Records:
    def __init__(self, calls):  # type: ignore[no-untyped-def]
        self.calls = calls

    def list(self, caller, since, limit):  # type: ignore[no-untyped-def]
        from ivr.call.cdr import Page

        return Page(
            [c for c in self.calls if c["caller"] == caller and c["started_at"] >= since][:limit], None
        )


def test_past_calls_leave_out_this_call_and_old_ones():
    now = time.time()
    records = _Records([
        {"id": "this", "caller": "+44", "started_at": now, "intents": [], "outcome": ""},
        {"id": "b", "caller": "+44", "started_at": now - 86400, "intents": [{"name": "roaming"}], "outcome": "ai_resolved"},
        {"id": "old", "caller": "+44", "started_at": now - 90 * 86400, "intents": [], "outcome": "transferred"},
    ])  # fmt: skip
    h = briefing.past_calls(records, "+44", "this", now)
    assert h["count"] == 1 and h["last_intent"] == "roaming" and h["last_days_ago"] == 1.0
    assert briefing.past_calls(records, "", "this", now) == {"count": 0}


def test_a_callback_number_is_the_callers_own_only_when_it_is_a_phone_number():
    from ivr.acd.callback import callable_number, spoken_tail

    assert callable_number("07700900123") == "07700900123"
    assert callable_number("+44 7700 900123") == "+447700900123"
    assert callable_number("anonymous") == callable_number("sipp") == callable_number("123") == ""
    assert spoken_tail("+447700900123") == "0 1 2 3"
