"""The worker's side of a supervisor's monitoring, over a real store: the request is dialled,
its mode changes are passed on, a leg that never answers is `failed` (with why) and one that
answered and hung up is `ended`; each step is a `monitor` event of the call."""

from __future__ import annotations

import asyncio

import pytest

from ivr.call.monitor import MonitorWatch
from ivr.call.record import CallRecord
from ivr.events import EventType as T
from ivr.events import make
from tests.fakes import FakeSession

pytestmark = pytest.mark.unit


async def _until(pred, what: str, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Bounded wait on state the monitor's own task changes (it polls the store; no event
    to await): generous, so a loaded box is slow, not failed."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.01)


def test_a_monitor_is_dialled_switched_and_ended_and_a_dead_phone_fails(store, monkeypatch):
    monkeypatch.setattr("ivr.call.watch.POLL_S", 0.01)
    store.users.add("sue", "supervisor", "a long password")
    store.agents.add("sue", "a long password", ["billing"], replace=True)
    rec = CallRecord("c1", store.writer, caller={"number": "+1"})
    rec(make("c1", 0, T.CALL_START, sample_rate=8000))
    store.writer.flush()
    from ivr.acd.engine import Acd
    from ivr.acd.policy import QueueRules

    store.agents.add("ann", "a long password", ["billing"])
    store.agents.set_state("ann", "available")
    acd = Acd(store.engine, {"billing": QueueRules("billing", frozenset({"billing"}))})
    acd.join("c1", "billing", 0)
    acd.answered("c1", acd.claim("c1").name)

    async def run() -> FakeSession:
        s = FakeSession()
        w = MonitorWatch(s, store.console, "sip:{name}@hotline")
        legs = s.transport
        m = await asyncio.to_thread(store.console.monitor_request, "c1", "sue", "listen")
        await _until(lambda: ("dial", "sip:sue@hotline", "listen") in legs.did, "the dial")
        legs.word("active")
        await _until(lambda: store.console.monitor(m["id"])["state"] == "active", "active in the store")
        await asyncio.to_thread(store.console.monitor_change, "c1", "sue", "whisper")
        await _until(lambda: ("mode", "whisper") in legs.did, "the mode change")
        await asyncio.to_thread(store.console.monitor_change, "c1", "sue", None, True)
        await _until(lambda: ("hangup",) in legs.did, "the hang-up")
        legs.word("ended", "200 BYE")
        await _until(lambda: store.console.monitor(m["id"])["state"] == "ended", "ended in the store")
        # a second request: the supervisor's phone is not signed in, the leg never answers
        m2 = await asyncio.to_thread(store.console.monitor_request, "c1", "sue", "barge")
        await _until(lambda: ("dial", "sip:sue@hotline", "barge") in legs.did, "the second dial")
        legs.word("ended", "480 Temporarily Unavailable")
        await _until(lambda: store.console.monitor(m2["id"])["state"] == "failed", "failed in the store")
        s.caller_gone = True
        await w.close()
        return s

    s = asyncio.run(run())
    states = [(e["mode"], e["state"]) for e in s.events]
    assert states == [("listen", "dialing"), ("listen", "active"), ("whisper", "active"), ("whisper", "ended"),
                      ("barge", "dialing"), ("barge", "failed")], states  # fmt: skip
    assert store.console.monitor_of("c1")["reason"] == "480 Temporarily Unavailable"
