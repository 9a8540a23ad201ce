"""The waiting caller's side of the queue, over a real store (SQLite) with a scripted call in
place of SIP: a callback by key, a question the AI answers while the caller keeps their place,
the maximum wait's offer, and what is said when nobody is signed in. The SIP tests run the same
code with real phones; this covers the branches they do not reach."""

from __future__ import annotations

import asyncio

import pytest

from ivr.acd.engine import Acd
from ivr.acd.policy import AgentState, QueueRules
from ivr.acd.waiting import wait_for_agent
from ivr.conversation import Input, InputKind, TransferOutcome, TransferRequest
from ivr.events import EventType
from ivr.records import Store
from tests.fakes import FakeCall

pytestmark = pytest.mark.unit


BILLING = QueueRules("billing", frozenset({"billing"}), max_wait_s=60)


def _request(assistant=None) -> TransferRequest:  # type: ignore[no-untyped-def]
    return TransferRequest("billing", "L2", "wants a person", 0, "", {"caller": {"number": "+447700900123"}},
                           BILLING, assistant=assistant)  # fmt: skip


@pytest.fixture
def acd(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store.agents.add("ann", "correct horse", ["billing"])
    yield Acd(store.engine, {"billing": BILLING}), store
    store.close()


def run(call: FakeCall, acd: Acd, request: TransferRequest) -> TransferOutcome:
    return asyncio.run(wait_for_agent(call, request, acd, "sip:{name}@hotline"))


def test_nobody_signed_in_is_said_and_1_takes_a_callback_on_the_callers_number(acd):
    acd, store = acd
    call = FakeCall([(2000, Input(InputKind.DTMF, digit="1"))])
    assert run(call, acd, _request()) is TransferOutcome.CALLBACK
    assert "None of our agents is signed in" in call.said[0] and "ending 0 1 2 3" in call.said[0]
    assert "call you back on the number ending 0 1 2 3" in call.said[-1]
    leave = next(d for k, d in call.events if k is EventType.QUEUE_LEAVE)
    assert leave["reason"] == "callback" and leave["number"] == "07700900123"
    assert acd.place("c1").position == 1  # the place is kept


def test_a_keyed_number_for_the_callback(acd):
    acd, store = acd
    keys = [(1000 + 100 * i, Input(InputKind.DTMF, digit=d)) for i, d in enumerate("202079460000#")]
    call = FakeCall(keys[:1] + keys[1:])
    assert run(call, acd, _request()) is TransferOutcome.CALLBACK
    leave = next(d for k, d in call.events if k is EventType.QUEUE_LEAVE)
    assert leave["number"] == "02079460000"


def test_a_question_on_hold_is_answered_and_the_caller_keeps_their_place(acd):
    acd, store = acd
    store.agents.set_state("ann", AgentState.AWAY, "lunch")  # signed in: the caller waits
    asked = []

    def assistant(text: str) -> str | None:
        asked.append(text)
        return "Roaming in Europe costs two pounds a day." if "roaming" in text else None

    call = FakeCall([
        (5000, Input(InputKind.SPEECH, text="how much is roaming in France")),
        (9000, Input(InputKind.SPEECH, text="can I just talk to a person")),
        (15000, Input(InputKind.HANGUP)),
    ])  # fmt: skip
    assert run(call, acd, _request(assistant)) is TransferOutcome.NO_ANSWER
    assert any("two pounds a day" in s and "keep your place" in s for s in call.said), call.said
    assert asked == ["how much is roaming in France"]  # "a person": the caller hears their place instead
    assert any("You are next in line" in s for s in call.said[2:])
    kinds = [k for k, _ in call.events]
    assert EventType.QUEUE_LEAVE in kinds
    transfer = [d for k, d in call.events if k is EventType.TRANSFER]
    assert transfer[-1]["outcome"] == "abandoned"


def test_the_maximum_wait_offers_a_callback_once_then_the_wait_goes_on(acd):
    acd, store = acd
    store.agents.set_state("ann", AgentState.AWAY, "lunch")
    call = FakeCall([(200000, Input(InputKind.HANGUP))])
    run(call, acd, _request())
    offers = [s for s in call.said if "call you back" in s.lower() or "call back" in s.lower()]
    assert len(offers) == 1 and "Sorry to keep you waiting" in offers[0], call.said
    leave = next(d for k, d in call.events if k is EventType.QUEUE_LEAVE)
    assert leave["reason"] == "timeout" and leave["wait_ms"] >= 120000  # twice max_wait_s, declined


def test_an_agent_free_at_once_rings_at_once_with_no_announcement(acd):
    acd, store = acd
    store.agents.set_state("ann", AgentState.AVAILABLE)
    call = FakeCall([])
    assert run(call, acd, _request()) is TransferOutcome.CONNECTED
    assert call.rang == "sip:ann@hotline" and call.said == [] and call.agent == "ann"
    offers = [d for k, d in call.events if k is EventType.AGENT_OFFER]
    assert "briefing_ms" not in offers[0]  # rung at once: the briefing is made while the phone rings
    assert offers[-1]["outcome"] == "bridged" and offers[-1]["briefing_ms"] > 0


class _StoreAway(Acd):
    """The queue's store refuses its first `outage` joins (PostgreSQL restarting)."""

    def __init__(self, engine, queues, outage: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine, queues)
        self.outage = outage

    def join(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        from sqlalchemy.exc import OperationalError

        if self.outage > 0:
            self.outage -= 1
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        return super().join(*args, **kwargs)


def test_the_store_away_the_caller_is_told_once_waits_and_then_gets_the_agent(acd):
    from ivr.acd.waiting import STORE_AWAY

    _, store = acd
    store.agents.set_state("ann", AgentState.AVAILABLE)
    away = _StoreAway(store.engine, {"billing": BILLING}, outage=5)
    call = FakeCall([])
    assert run(call, away, _request()) is TransferOutcome.CONNECTED
    assert call.said.count(STORE_AWAY) == 1 and call.now_ms >= 5000  # five seconds of the call's time
    errors = [d for k, d in call.events if k is EventType.ERROR]
    assert len(errors) == 1 and errors[0]["stage"] == "queue" and "store is away" in errors[0]["message"]
    assert call.rang == "sip:ann@hotline"


def test_a_caller_who_hangs_up_while_the_store_is_away_is_recorded_as_abandoned(acd):
    _, store = acd
    away = _StoreAway(store.engine, {"billing": BILLING}, outage=1000)
    call = FakeCall([(3000, Input(InputKind.HANGUP))])
    assert run(call, away, _request()) is TransferOutcome.NO_ANSWER
    transfer = next(d for k, d in call.events if k is EventType.TRANSFER)
    assert transfer["outcome"] == "abandoned"
