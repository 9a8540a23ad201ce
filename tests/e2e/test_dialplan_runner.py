"""The hotline's routes and the global handlers, driven as text (what `ivr chat` does):
real intent model, real HTTP lookups to the demo billing API. Category: model."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from ivr.api import BackgroundServer, create_app, demo_account
from ivr.chat import ChatConversation
from ivr.dialplan import load_dialplan
from ivr.dialplan.manager import DialplanManager
from ivr.dialplan.runner import DialplanRunner
from ivr.dialplan.understanding import Understanding
from ivr.records import Store

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[2]
HOTLINE = ROOT / "dialplans" / "hotline.yaml"
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London"))  # a Tuesday morning
SUNDAY = datetime(2026, 11, 29, 12, 0, tzinfo=ZoneInfo("Europe/London"))
CALLERS = {
    "ann": {
        "number": "+447700900001",
        "name": "Ann Smith",
        "account": "100001",
        "tier": "vip",
        "known": True,
    },
    "carla": {
        "number": "+447700900003",
        "name": "Carla Diaz",
        "account": "100003",
        "tier": "standard",
        "known": True,
    },
}


def chat(hotline, api, lines, caller=None, at=OPEN, api_base=None, line=None):
    """Run the hotline with `lines` typed by the caller; returns (conversation, printed lines)."""
    dp, nlu = hotline
    printed: list[str] = []
    todo = list(lines)

    async def read():
        return todo.pop(0) if todo else None

    async def go():
        async with httpx.AsyncClient() as client:
            conv = ChatConversation(read, printed.append, http=client)
            runner = DialplanRunner(dp, nlu, caller, at, {"api_base": api_base or api, "line": line})
            conv.vars_view = lambda: runner.state.vars
            await runner(conv)
            return conv

    return asyncio.run(go()), printed


def said(conv) -> str:
    return " | ".join(e.data["text"] for e in conv.events if e.type == "say")


def intents(conv) -> list[str]:
    return [e.data["name"] for e in conv.events if e.type == "intent"]


def transfer(conv):
    return next((e.data for e in conv.events if e.type == "transfer"), None)


def test_balance_for_a_known_caller_is_looked_up(hotline, api):
    conv, _ = chat(hotline, api, ["what's my balance", "no thanks"], CALLERS["carla"])
    amount = demo_account("100003")["balance"]
    assert intents(conv) == ["check_balance"]
    assert "Hello Carla Diaz" in said(conv)
    assert f"Your balance is {amount:g} pounds" in said(conv)
    assert conv.events[-1].type == "hangup" and conv.events[-1].data["reason"] == "resolved"


def test_balance_for_an_unknown_caller_asks_the_account_by_keys(hotline, api):
    conv, _ = chat(hotline, api, ["how much do I owe you", "/dtmf 12", "/dtmf 100002", "no"])
    text = said(conv)
    assert "six digit account number" in text
    assert "didn't look like a six digit account number" in text  # "12" was refused
    assert f"{demo_account('100002')['balance']:g} pounds" in text


def test_data_usage_outage_pay_and_roaming_are_answered_alone(hotline, api):
    conv, _ = chat(
        hotline,
        api,
        [
            "how much data have I got left",
            "yes",
            "is the network down in my area",
            "yes please",
            "how do I pay my bill",
            "yes",
            "does my phone work in Spain",
            "no",
        ],
        CALLERS["carla"],
    )
    usage = demo_account("100003")
    assert intents(conv) == ["data_usage", "report_outage", "pay_bill", "roaming"]
    text = said(conv)
    assert f"of your {usage['plan_gb']} gigabytes" in text
    assert usage["area"] in text
    assert "direct debit" in text
    assert "two pounds a day" in text
    assert transfer(conv) is None  # L1: resolved by the IVR alone


def test_lost_sim_collects_blocks_then_hands_over_l2(hotline, api):
    conv, _ = chat(hotline, api, ["someone stole my phone", "/dtmf 07700900123#"], CALLERS["carla"])
    t = transfer(conv)
    assert intents(conv) == ["lost_sim"]
    assert t["queue"] == "sim_services" and t["tier"] == "L2"
    assert "07700900123" in t["reason"] and "lost_number=07700900123" in t["summary"]
    assert "is blocked, reference B" in said(conv)
    assert conv.transfer_request.context["vars"]["block"]["blocked"] is True


@pytest.mark.parametrize(
    "line,queue",
    [
        ("I want to cancel my contract", "retention"),
        ("this is unacceptable, I want to complain", "complaints"),
    ],
)
def test_cancellations_and_complaints_go_straight_to_a_human_l3(hotline, api, line, queue):
    conv, _ = chat(hotline, api, [line], CALLERS["carla"])
    t = transfer(conv)
    assert t["queue"] == queue and t["tier"] == "L3"


def test_vip_callers_go_straight_to_a_human(hotline, api):
    conv, _ = chat(hotline, api, [], CALLERS["ann"])
    t = transfer(conv)
    assert t["queue"] == "vip" and t["tier"] == "L3" and "Ann Smith (vip)" in t["summary"]
    assert intents(conv) == []


def test_asking_for_an_agent_works_from_anywhere(hotline, api):
    # in the middle of the account-number gather
    conv, _ = chat(hotline, api, ["what's my balance", "can I just speak to a human"])
    t = transfer(conv)
    assert t["queue"] == "general" and "asked for a person" in t["reason"]
    assert t["tier"] == "L2"  # the intent was already known: the agent gets it
    assert "wants check_balance" in t["summary"]
    # pressing 0 at the first question
    conv, _ = chat(hotline, api, ["/dtmf 0"])
    assert transfer(conv)["queue"] == "general" and transfer(conv)["tier"] == "L3"


def test_an_upset_caller_is_apologised_to_and_put_first(hotline, api):
    conv, _ = chat(hotline, api, ["what's my balance", "/affect escalate"], CALLERS["carla"])
    t = transfer(conv)
    assert t["queue"] == "priority" and t["priority"] == 10
    assert "really sorry" in said(conv)
    assert conv.transfer_request.context["affect"]["level"] == "escalate"


def test_a_rising_caller_is_not_transferred(hotline, api):
    conv, _ = chat(hotline, api, ["/affect rising", "what's my balance", "no"], CALLERS["carla"])
    assert transfer(conv) is None
    # the caller gets their answer as a calm caller would, with no apology and no queue
    amount = demo_account("100003")["balance"]
    assert f"Your balance is {amount:g} pounds" in said(conv)
    assert "really sorry" not in said(conv)
    assert conv.events[-1].type == "hangup" and conv.events[-1].data["reason"] == "resolved"


def test_silence_reprompts_then_says_goodbye(hotline, api):
    conv, _ = chat(hotline, api, ["/silence", "/silence", "/silence"])
    text = said(conv)
    assert text.count("Are you still there?") == 2
    assert conv.events[-1].data == {"reason": "silence"}
    assert "I can't hear anything" in text


def test_out_of_scope_is_not_forced_onto_an_intent(hotline, api):
    conv, _ = chat(hotline, api, ["tell me a joke", "what's my balance", "no"], CALLERS["carla"])
    assert intents(conv) == ["none", "check_balance"]
    assert "Sorry, I didn't catch that" in said(conv)


def test_after_hours(hotline, api):
    conv, _ = chat(hotline, api, ["what's my balance"], CALLERS["carla"], at=SUNDAY)
    assert "We're closed right now" in said(conv)
    assert conv.events[-1].data == {"reason": "after hours"}


def test_a_number_with_its_own_hours_and_queue(hotline, api):
    # the weekend line (numbers file: sat-sun open, weekdays closed) runs the shipped hotline,
    # whose own hours close it on Sundays
    weekend = {"number": "+442079460200", "name": "Weekend line", "language": "en-GB", "queue": "priority",
               "hours": {5: [(time(9), time(18))], 6: [(time(9), time(18))]}}  # fmt: skip
    conv, _ = chat(hotline, api, ["/dtmf 0"], CALLERS["carla"], at=SUNDAY, line=weekend)  # 0: a person
    assert "We're closed right now" not in said(conv)
    assert transfer(conv)["queue"] == "priority"  # the line's default queue, not the hotline's
    conv, _ = chat(hotline, api, ["what's my balance"], CALLERS["carla"], at=OPEN, line=weekend)
    assert "We're closed right now" in said(conv)  # a Tuesday: the line is closed
    # a line without hours keeps the dialplan's
    conv, _ = chat(hotline, api, ["what's my balance"], CALLERS["carla"], at=SUNDAY, line={"name": "Main"})
    assert "We're closed right now" in said(conv)


def test_a_failing_backend_takes_the_error_branch(hotline, api):
    conv, _ = chat(hotline, api, ["what's my balance"], CALLERS["carla"], api_base="http://127.0.0.1:9")
    assert any(e.type == "error" and e.data["stage"] == "lookup" for e in conv.events)
    assert "can't reach our account system" in said(conv)
    assert transfer(conv)["queue"] == "billing"


def test_hot_reload_refuses_a_broken_edit_and_keeps_the_running_version(tmp_path, embedder):
    path = tmp_path / "plan.yaml"
    path.write_text("version: one\nstart: main\nqueues: {q: {}}\nnodes: {main: [{hangup: One.}]}\n")
    manager = DialplanManager(path, embedder)
    first = manager.active
    path.write_text("version: two\nstart: main\nqueues: {q: {}}\nnodes: {main: [{goto: nowhere}]}\n")
    result = manager.reload()
    assert not result.ok and manager.active is first
    assert "no node named 'nowhere'" in manager.status()["last_error"][0]
    path.write_text("version: three\nstart: main\nqueues: {q: {}}\nnodes: {main: [{hangup: Three.}]}\n")
    assert manager.reload().ok
    assert manager.active.dialplan.version == "three" and manager.status()["last_error"] is None
    # a call that started on version one still has it
    assert first.dialplan.version == "one" and first.dialplan.nodes["main"][0].args["say"] == "One."


def test_reload_over_the_api_and_the_cli(tmp_path, embedder, capsys):
    from ivr.cli import main

    path = tmp_path / "plan.yaml"
    path.write_text("version: one\nstart: main\nqueues: {q: {}}\nnodes: {main: [{hangup: One.}]}\n")
    manager = DialplanManager(path, embedder)
    store = Store(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    store.users.add("ada", "admin", "correct horse")
    store.users.add("sam", "supervisor", "battery staple")
    (tmp_path / "ada.pw").write_text("correct horse\n")
    (tmp_path / "sam.pw").write_text("battery staple\n")
    admin = ["--user", "ada", "--password-file", str(tmp_path / "ada.pw")]
    with BackgroundServer(create_app(manager, store=store)) as server:
        token = httpx.post(
            f"{server.base_url}/api/login", json={"user": "sam", "password": "battery staple"}
        ).json()
        auth = {"Authorization": f"Bearer {token['token']}"}
        assert httpx.get(f"{server.base_url}/api/dialplan", headers=auth).json()["version"] == "one"
        # a supervisor reads the dialplan's status but may not reload it
        assert (
            main(
                [
                    "reload",
                    "--url",
                    server.base_url,
                    "--user",
                    "sam",
                    "--password-file",
                    str(tmp_path / "sam.pw"),
                ]
            )
            == 2
        )
        assert "needs the admin role" in capsys.readouterr().err
        path.write_text("version: two\nstart: main\nqueues: {q: {}}\nnodes: {main: [{sya: x}]}\n")
        assert main(["reload", "--url", server.base_url, *admin]) == 1
        err = capsys.readouterr().err
        assert "unknown verb 'sya'" in err and "running dialplan stays" in err
        status = httpx.get(f"{server.base_url}/api/dialplan", headers=auth).json()
        assert status["version"] == "one" and "E_UNKNOWN_VERB" in status["last_error"][0]
        path.write_text("version: two\nstart: main\nqueues: {q: {}}\nnodes: {main: [{hangup: Two.}]}\n")
        assert main(["reload", "--url", server.base_url, *admin]) == 0
        assert httpx.get(f"{server.base_url}/api/dialplan", headers=auth).json()["version"] == "two"
        bad = httpx.post(f"{server.base_url}/demo/billing/sims/block", json={"number": 12})
        assert bad.status_code == 422  # a bad API request is refused, the service stays up
        assert httpx.get(f"{server.base_url}/api/health").json()["status"] == "ok"


def test_a_queue_with_a_phone_gets_a_whisper_and_the_context_as_headers(tmp_path, embedder, api):
    from ivr.telephony.handoff import agent_headers

    text = HOTLINE.read_text().replace(
        'priority: {description: "Upset callers, ahead of everyone", skills: [deescalation]}',
        'priority: {description: Upset callers, skills: [deescalation], uri: "sip:desk@127.0.0.1:5090"}',
    )
    assert "sip:desk@" in text
    path = tmp_path / "hotline.yaml"
    path.write_text(text)
    dp = load_dialplan(path)
    conv, printed = chat(
        (dp, Understanding.build(dp, embedder)),
        api,
        ["what's my balance", "/affect escalate"],
        CALLERS["carla"],
    )
    req = conv.transfer_request
    assert req.uri == "sip:desk@127.0.0.1:5090" and req.mode == "bridge"
    assert req.whisper.startswith("Call from Carla Diaz, standard customer, for priority.")
    assert "They want check balance." in req.whisper and "They sound upset." in req.whisper
    assert any("the agent hears first" in line for line in printed)
    headers = agent_headers("call-1", req)
    assert headers["X-IVR-Queue"] == "priority" and headers["X-IVR-Caller-Name"] == "Carla Diaz"
    assert headers["X-IVR-Intent"] == "check_balance" and headers["X-IVR-Affect"] == "escalate"
    assert all(v.isascii() and "\n" not in v and len(v) <= 300 for v in headers.values())
