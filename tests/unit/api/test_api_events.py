"""The agent's screen: the offered call's pop over HTTP, and the WebSocket that pushes the
offer, the call's new lines and its end, to that agent only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ivr.acd.engine import Acd
from ivr.acd.policy import AgentState, QueueRules
from ivr.api import create_app
from ivr.call.record import CallRecord
from ivr.events import EventType as T
from ivr.events import make
from ivr.records import Store

pytestmark = pytest.mark.unit
PASSWORD = "correct horse"


@pytest.fixture
def setup(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store.agents.add("ann", PASSWORD, ["billing"])
    store.agents.add("bob", PASSWORD, ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    client = TestClient(create_app(store=store))
    tokens = {
        n: client.post("/api/login", json={"user": n, "password": PASSWORD}).json()["token"]
        for n in ("ann", "bob")
    }
    yield store, client, tokens
    store.close()


def _next(ws, states: list[str]) -> dict:  # type: ignore[type-arg]
    """The next message about the call; the agent's state messages met on the way go to `states`."""
    while True:
        m = ws.receive_json()
        if m["type"] != "agent":
            return m
        states.append(m["state"])


def test_the_pop_and_the_pushed_call(setup):
    store, client, tokens = setup
    rec = CallRecord("call-9", store.writer, caller={"number": "+447700900001", "name": "Ada", "tier": "vip"})
    rec(make("call-9", 0, T.CALL_START, sample_rate=8000))
    rec(
        make(
            "call-9",
            900,
            T.FINAL_TRANSCRIPT,
            text="I want to dispute a charge on card 4111 1111 1111 1111 please",
        )
    )
    store.writer.flush()
    acd = Acd(store.engine, {"billing": QueueRules("billing", frozenset({"billing"}))})
    context = {
        "caller": {"name": "Ada", "tier": "vip"},
        "intent": {"name": "complaint"},
        "summary": "Ada (vip); wants complaint",
    }
    acd.join("call-9", "billing", 100, context=context)
    states: list[str] = []
    with client.websocket_connect(f"/api/events?token={tokens['ann']}") as ws:
        first = ws.receive_json()
        assert (
            first["type"] == "agent" and first["state"] == "available"
        )  # a page starts from the current state
        assert (
            client.get(
                "/api/agents/ann/offer", headers={"Authorization": f"Bearer {tokens['ann']}"}
            ).status_code
            == 404
        )
        assert acd.claim("call-9").name == "ann"
        offer = _next(ws, states)
        assert offer["type"] == "offer" and offer["call_id"] == "call-9" and offer["caller"]["name"] == "Ada"
        assert offer["summary"].startswith("Ada (vip)") and offer["priority"] == 100
        update = _next(ws, states)
        assert update["type"] == "call_update" and "**** 1111" in update["events"][0]["text"]
        pop = client.get("/api/agents/ann/offer", headers={"Authorization": f"Bearer {tokens['ann']}"}).json()
        assert pop["call_id"] == "call-9" and pop["agent_state"] == "ringing"
        r = client.get("/api/agents/ann/offer", headers={"Authorization": f"Bearer {tokens['bob']}"})
        assert r.status_code == 403  # another agent's screen is not bob's
        acd.answered("call-9", "ann")
        rec(make("call-9", 5000, T.SAY, text="Connecting you now."))
        rec(
            make(
                "call-9",
                6000,
                T.AFFECT,
                anger=0.4,
                anxiety=0.1,
                level="rising",
                cues={"pp": [1.0, 2.0], "s": 1.5},
            )
        )
        rec(make("call-9", 9000, T.CALL_END, duration_ms=9000))
        store.writer.flush()
        seen = [_next(ws, states) for _ in range(2)]
        assert [m["type"] for m in seen] == ["call_update", "call_end"] and seen[1][
            "outcome"
        ] == "caller_hung_up"
        affect = [e for e in seen[0]["events"] if e["type"] == "affect"]
        assert (
            affect == [{**affect[0], "anger": 0.4, "level": "rising"}] and "cues" not in affect[0]
        )  # scores, not cues
    assert states[:2] == ["ringing", "on_call"], states


def test_the_socket_needs_a_token_and_follows_only_your_own_calls(setup):
    _, client, tokens = setup
    for url, code in (
        ("/api/events", 4401),
        ("/api/events?token=nope", 4401),
        (f"/api/events?token={tokens['bob']}&agent=ann", 4403),
    ):
        with pytest.raises(WebSocketDisconnect) as e, client.websocket_connect(url) as ws:
            ws.receive_json()
        assert e.value.code == code
