"""Callers on noisy lines, replayed through the whole call (ivr replay, the hotline at a fixed
Tuesday morning): scripted callers whose line adds noise made from the repository's own
recordings (tests/scripts/noise/, tests/tools/noise_fixtures.py), G.711 and lost packets.
What a caller would notice is asserted; tests/e2e/test_golden_logs.py keeps the whole logs.
Category: e2e (the speech service's models)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from ivr.chat import ChatConversation
from ivr.dialplan.runner import DialplanRunner
from tests.golden.calls import SCRIPTS, import_directory, run

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("noisy") / "data"
    import_directory(path)
    return path


def call(name: str, data_dir, speech_address) -> list[dict]:
    log = run(["--script", str(SCRIPTS / f"{name}.yaml")], data_dir, str(speech_address))
    return [json.loads(line) for line in log.splitlines()]


def of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def heard(events: list[dict]) -> list[str]:
    """The caller's words the IVR acted on (a final judged noise is in the log, not heard)."""
    return [e["text"] for e in of(events, "final_transcript") if e["text"].strip()]


def test_a_balance_request_in_chatter_is_answered_whole(data_dir, speech_address):
    events = call("noisy_balance_chatter", data_dir, speech_address)
    first = heard(events)[0]
    assert "balance" in first.lower() and "moment" in first.lower()  # the sentence whole, one final
    assert [e["name"] for e in of(events, "intent")][:1] == ["check_balance"]
    assert any(e["text"].startswith("Your balance is") for e in of(events, "say"))
    assert of(events, "hangup")[-1]["reason"] == "resolved"


@pytest.mark.parametrize("name", ["noise_only_chatter", "noise_only_street"])
def test_a_minute_of_noise_alone_interrupts_nothing_and_asks_for_nothing(name, data_dir, speech_address):
    events = call(name, data_dir, speech_address)
    assert of(events, "barge_in") == []
    assert [e for e in of(events, "intent") if e["name"] != "none"] == []
    assert of(events, "transfer") == [] or of(events, "transfer")[0]["reason"] != "complaint"
    assert not any(e["type"] == "node" and e["name"] in ("complaint", "cancel") for e in events)


def test_a_line_too_noisy_to_hear_gets_the_keys_then_a_person(data_dir, speech_address):
    events = call("noisy_line_keys", data_dir, speech_address)
    noisy = [e for e in of(events, "say") if e.get("prompt") == "noisy_line"]
    assert len(noisy) == 1 and "keypad" in noisy[0]["text"] and "press 0" in noisy[0]["text"]
    assert not any("Are you still there" in e["text"] for e in of(events, "say"))  # told, not looped
    assert of(events, "dtmf")[0]["digit"] == "0"
    assert of(events, "transfer")[0]["queue"] == "general"


def test_on_a_noisy_line_a_second_failure_goes_to_a_person(hotline, api):
    """Typed into the runner as a noisy line's caller: told once, then put through."""
    dp, nlu = hotline
    lines = ["tell me a joke", "what's the weather tomorrow"]

    async def read():
        return lines.pop(0) if lines else None

    async def go():
        async with httpx.AsyncClient() as client:
            conv = ChatConversation(read, lambda line: None, http=client)
            conv.line_noisy = True  # what the call's pipeline would say of a noisy line
            at = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London"))
            await DialplanRunner(dp, nlu, None, at, {"api_base": api})(conv)
            return conv

    conv = asyncio.run(go())
    says = [e.data for e in conv.events if e.type == "say"]
    assert [s.get("prompt") for s in says].count("noisy_line") == 1
    moved = next(e.data for e in conv.events if e.type == "transfer")
    assert moved["reason"].startswith("noisy line") and moved["queue"] == "general"
