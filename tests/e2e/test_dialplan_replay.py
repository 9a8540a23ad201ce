"""Golden multi-turn calls: a scripted caller (piper's voice at 8 kHz) through the real
pipeline (VAD, whisper, intents) against the hotline dialplan. Category: e2e."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from ivr.api import BackgroundServer, create_app, demo_account
from ivr.call.build import DialplanVersion, dialplan_app
from ivr.dialplan import load_dialplan
from ivr.dialplan.digits import spoken_digits
from ivr.dialplan.understanding import Understanding
from ivr.records import Store, read_directory
from ivr.script import load_script, script_session
from ivr.settings import Settings
from tests.conftest import call_services

pytestmark = [pytest.mark.e2e, pytest.mark.model]
ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "scripts"
HOTLINE = ROOT / "dialplans" / "hotline.yaml"
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ivr.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.directory.upsert(read_directory(ROOT / "dialplans" / "callers.csv"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def hotline(speech_address):
    from speech.service.embedder import BlockingEmbedder

    dp = load_dialplan(HOTLINE)
    return dp, Understanding.build(dp, BlockingEmbedder(speech_address))


def call(speech_address, hotline, directory, name, at=OPEN, radar_model=None):
    dp, nlu = hotline
    script = load_script(SCRIPTS / name)
    caller = directory.directory.caller(script.caller) if script.caller else None
    events = []

    async def go():
        with BackgroundServer(create_app()) as api:
            async with httpx.AsyncClient() as client, call_services(speech_address, radar_model) as services:
                runner = dialplan_app(DialplanVersion(dp, nlu), caller, at, api.base_url)
                session = script_session(
                    script, services, Settings(), events.append, runner, client, caller=script.caller
                )
                await session.run()

    asyncio.run(go())
    return events


def kinds(events, kind):
    return [e.data for e in events if e.type == kind]


def said(events):
    return " | ".join(d["text"] for d in kinds(events, "say"))


def test_balance_for_a_known_caller(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "balance_known.yaml")
    assert [d["name"] for d in kinds(events, "intent")] == ["check_balance"]
    assert f"Your balance is {demo_account('100003')['balance']:g} pounds" in said(events)
    assert kinds(events, "hangup") == [{"reason": "resolved"}]
    assert events[-1].type == "call_end"


def test_data_then_outage_in_one_call(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "data_then_outage.yaml")
    assert [d["name"] for d in kinds(events, "intent")] == ["data_usage", "report_outage"]
    acct = demo_account("100003")
    assert f"of your {acct['plan_gb']} gigabytes" in said(events) and acct["area"] in said(events)
    assert not kinds(events, "transfer")


def test_unknown_caller_keys_the_account(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "balance_unknown_keys.yaml")
    assert [d["digit"] for d in kinds(events, "dtmf")] == list("100002")
    assert f"{demo_account('100002')['balance']:g} pounds" in said(events)


def test_lost_sim_is_l2(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "lost_sim.yaml")
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "sim_services" and t["tier"] == "L2" and "07700900123" in t["reason"]


@pytest.mark.parametrize("name,queue", [("cancel.yaml", "retention"), ("complaint.yaml", "complaints")])
def test_cancel_and_complaint_are_l3(speech_address, hotline, directory, name, queue):
    events = call(speech_address, hotline, directory, name)
    (t,) = kinds(events, "transfer")
    assert (t["queue"], t["tier"]) == (queue, "L3")


def test_roaming_is_answered_from_the_knowledge_base(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "roaming.yaml")
    # the VAD may end the turn at "next week."; the rest joins it (turn_join) and it is routed again, whole
    assert {d["name"] for d in kinds(events, "intent")} == {"roaming"}
    assert len(kinds(events, "intent")) == 1 + len(kinds(events, "turn_join"))
    assert "two pounds a day" in said(events)


def test_agent_from_the_middle_of_a_gather(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "agent_anywhere.yaml")
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "general" and "wants check_balance" in t["summary"]


def test_escalation_jumps_the_queue(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "escalate.yaml")
    assert kinds(events, "affect")[-1]["level"] == "escalate"  # the scripted one, after the radar's
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "priority" and t["priority"] == 10 and "really sorry" in said(events)


def test_vip_straight_to_a_human(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "vip.yaml")
    (t,) = kinds(events, "transfer")
    assert (t["queue"], t["tier"]) == ("vip", "L3") and not kinds(events, "intent")


def test_replay_cli_with_dialplan_script_and_caller(ivr_cmd, tmp_path):
    data = tmp_path / "data"
    subprocess.run(
        [*ivr_cmd, "directory", "import", str(ROOT / "dialplans" / "callers.csv"), "--data-dir", str(data)],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [
            *ivr_cmd,
            "replay",
            "--dialplan",
            str(HOTLINE),
            "--script",
            str(SCRIPTS / "balance_known.yaml"),
            "--caller",
            "+447700900003",
            "--data-dir",
            str(data),
            "--at",
            "2026-11-24T10:00+00:00",
            "--json",
            "--out-audio",
            str(tmp_path / "ivr.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types.index("final_transcript") < types.index("intent")
    intent = next(e for e in events if e["type"] == "intent")
    assert intent["name"] == "check_balance" and 0 < intent["confidence"] <= 1
    assert any(e["type"] == "say" and "Your balance is" in e["text"] for e in events)
    assert (tmp_path / "ivr.wav").stat().st_size > 8000


def test_a_raised_voice_escalates_through_the_radar(speech_address, hotline, directory):
    """Radar -> affect event -> the dialplan's global escalation -> a priority transfer, in a
    replayed call with real audio. A transparent loudness/pitch model stands in for the
    calibrated one, so this checks the wiring; bench/radar_eval.py measures the calibration."""
    from tests.unit.prosody.test_prosody import _loudness_pitch_model

    events = call(
        speech_address, hotline, directory, "escalate_by_voice.yaml", radar_model=_loudness_pitch_model()
    )
    affects = kinds(events, "affect")
    assert [a["level"] for a in affects][:2] == ["calm", "calm"]
    assert affects[-1]["level"] == "escalate"
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "priority" and t["priority"] == 10
    assert "really sorry" in said(events)


def test_a_spoken_account_number_ends_the_turn_once_six_digits_are_heard(speech_address, hotline, directory):
    events = call(speech_address, hotline, directory, "balance_unknown_spoken.yaml")
    finals = [e["text"] for e in kinds(events, "final_transcript")]
    # at a digits gather whisper spells the digits out as said (no "1000002" collapse)
    assert finals[1].rstrip(".").lower().split() == "four seven one one zero two".split(), finals
    assert spoken_digits(finals[1]) == "471102"
    # the gather's six digits say the turn is whole (with or without whisper's full stop)
    reasons = [e["reason"] for e in kinds(events, "speech_end")]
    assert reasons[:3] == ["complete", "complete", "complete"], reasons
