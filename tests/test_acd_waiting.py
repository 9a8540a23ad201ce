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

pytestmark = pytest.mark.unit


class ScriptedCall:
    """The caller does `script` [(at ms, Input)]; every wait takes the call's time forward."""

    def __init__(self, script: list[tuple[int, Input]], caller: str = "07700900123") -> None:
        self.script = sorted(script, key=lambda x: x[0])
        self.call_id, self.caller, self.now_ms = "c1", caller, 0
        self.sample_rate, self.bridge_reason = 8000, ""
        self.events: list[tuple[EventType, dict]] = []
        self.said: list[str] = []
        self.caller_gone = False
        self.agent = None

    def emit(self, kind: EventType, **data) -> None:  # type: ignore[no-untyped-def]
        self.events.append((kind, data))

    def lines_free(self) -> int:
        return 1

    def needs_agent_line(self, on: bool) -> None: ...

    async def synthesize(self, text: str) -> bytes:
        return bytes(2 * self.sample_rate * max(1, len(text.split()) // 3))  # ~3 words a second

    def masked(self, value):  # type: ignore[no-untyped-def]
        return value

    async def say(self, text: str, interruptible: bool = True) -> None:
        self.said.append(text)

    async def start_hold(self) -> None: ...

    def discard_speech(self) -> int:
        """What the caller said up to now that nothing took (as the session drops it)."""
        before = len(self.script)
        self.script = [
            (at, i) for at, i in self.script if not (at <= self.now_ms and i.kind is InputKind.SPEECH)
        ]
        return before - len(self.script)

    async def stop_hold(self) -> None: ...

    async def wait_input(self, timeout_ms: int) -> Input:
        if self.script and self.script[0][0] <= self.now_ms + timeout_ms:
            at, item = self.script.pop(0)
            self.now_ms = max(self.now_ms, at)
            if item.kind is InputKind.HANGUP:
                self.caller_gone = True
            return item
        self.now_ms += timeout_ms
        return Input(InputKind.NO_INPUT)

    async def bridge_to(self, uri, request, ring_timeout_s, whisper_pcm=None):  # type: ignore[no-untyped-def]
        self.rang = uri
        return TransferOutcome.CONNECTED


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


def run(call: ScriptedCall, acd: Acd, request: TransferRequest) -> TransferOutcome:
    return asyncio.run(wait_for_agent(call, request, acd, "sip:{name}@hotline"))


def test_nobody_signed_in_is_said_and_1_takes_a_callback_on_the_callers_number(acd):
    acd, store = acd
    call = ScriptedCall([(2000, Input(InputKind.DTMF, digit="1"))])
    assert run(call, acd, _request()) is TransferOutcome.CALLBACK
    assert "None of our agents is signed in" in call.said[0] and "ending 0 1 2 3" in call.said[0]
    assert "call you back on the number ending 0 1 2 3" in call.said[-1]
    leave = next(d for k, d in call.events if k is EventType.QUEUE_LEAVE)
    assert leave["reason"] == "callback" and leave["number"] == "07700900123"
    assert acd.place("c1").position == 1  # the place is kept


def test_a_keyed_number_for_the_callback(acd):
    acd, store = acd
    keys = [(1000 + 100 * i, Input(InputKind.DTMF, digit=d)) for i, d in enumerate("202079460000#")]
    call = ScriptedCall(keys[:1] + keys[1:])
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

    call = ScriptedCall([
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
    call = ScriptedCall([(200000, Input(InputKind.HANGUP))])
    run(call, acd, _request())
    offers = [s for s in call.said if "call you back" in s.lower() or "call back" in s.lower()]
    assert len(offers) == 1 and "Sorry to keep you waiting" in offers[0], call.said
    leave = next(d for k, d in call.events if k is EventType.QUEUE_LEAVE)
    assert leave["reason"] == "timeout" and leave["wait_ms"] >= 120000  # twice max_wait_s, declined


def test_an_agent_free_at_once_rings_at_once_with_no_announcement(acd):
    acd, store = acd
    store.agents.set_state("ann", AgentState.AVAILABLE)
    call = ScriptedCall([])
    assert run(call, acd, _request()) is TransferOutcome.CONNECTED
    assert call.rang == "sip:ann@hotline" and call.said == [] and call.agent == "ann"
    offer = next(d for k, d in call.events if k is EventType.AGENT_OFFER)
    assert offer["briefing_ms"] > 0
