"""The hotline's routes and the global handlers, driven as text (what `ivr chat` does):
real intent model, real HTTP lookups to the demo billing API. Category: model."""

from __future__ import annotations

import asyncio
from datetime import datetime
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


@pytest.fixture(scope="module")
def embedder(engines):
    return engines.embedder  # the model itself: these calls are typed, not heard


@pytest.fixture(scope="module")
def hotline(embedder):
    dp = load_dialplan(HOTLINE)
    return dp, Understanding.build(dp, embedder)


@pytest.fixture(scope="module")
def api():
    with BackgroundServer(create_app()) as server:
        yield server.base_url


def chat(hotline, api, lines, caller=None, at=OPEN, api_base=None):
    """Run the hotline with `lines` typed by the caller; returns (conversation, printed lines)."""
    dp, nlu = hotline
    printed: list[str] = []
    todo = list(lines)

    async def read():
        return todo.pop(0) if todo else None

    async def go():
        async with httpx.AsyncClient() as client:
            conv = ChatConversation(read, printed.append, http=client)
            runner = DialplanRunner(dp, nlu, caller, at, {"api_base": api_base or api})
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


def test_a_templated_prompt_opens_with_its_fixed_words_synthesised_ahead():
    from ivr.dialplan.prompts import static_prompts, template_lead

    assert template_lead("Your balance is {vars.bill.amount} pounds.") == "Your balance is"
    assert template_lead("Hello {caller.name}.") == ""  # one word: not worth a join
    assert template_lead("You owe £{vars.amount} now") == "You owe"  # '£' is glued to the value
    assert template_lead("No variables here.") == ""
    assert "Your balance is" in static_prompts(load_dialplan(HOTLINE))


def test_a_spoken_answer_is_whole_once_it_has_all_the_digits_or_a_yes_no():
    from ivr.dialplan.spoken import whole_answer as _whole_answer

    six = _whole_answer("digits", {"min_digits": 6, "max_digits": 6})
    assert six is not None
    assert six("1 0 0 0 0 2") and six("one zero zero zero zero two")
    assert not six("1 0 0")  # the caller may be between digits: wait the usual silence
    assert six("1 0 0 0 0 0 2")  # too many: waiting cannot mend it, the caller is asked again
    assert _whole_answer("digits", {"min_digits": 4, "max_digits": 16}) is None  # open-ended
    yes_no = _whole_answer("yes_no", {})
    assert yes_no is not None and yes_no("Yes, please.") and not yes_no("well I")


def test_a_yes_no_gather_hears_a_new_request_mixed_initiative(hotline, api):
    """'Yes, how much data ...' is yes and the request; a request instead of yes or no goes
    where the menu would send it; 'no, it's wrong, I want to complain' is a complaint."""
    conv, _ = chat(
        hotline,
        api,
        ["what's my balance", "Yes, how much data have I got left?", "not bad, thanks, that's all"],
        CALLERS["carla"],
    )
    assert intents(conv) == ["check_balance", "data_usage"]
    assert "gigabytes" in said(conv) and conv.events[-1].data["reason"] == "resolved"
    conv, _ = chat(hotline, api, ["what's my balance", "my internet keeps dropping", "no"], CALLERS["carla"])
    assert intents(conv) == ["check_balance", "report_outage"]
    conv, _ = chat(
        hotline, api, ["what's my balance", "no, it's wrong, I want to complain"], CALLERS["carla"]
    )
    assert intents(conv)[-1] == "complaint" and transfer(conv)["queue"] == "complaints"
    conv, _ = chat(hotline, api, ["what's my balance", "It is wrong again."], CALLERS["carla"])
    assert transfer(conv)["queue"] == "complaints"  # not "no" -> goodbye, logged resolved


def test_a_digits_gather_hears_i_dont_know_it_can_i_talk_to_someone(hotline, api):
    conv, _ = chat(
        hotline, api, ["what's my balance", "I don't know my account number, can I talk to someone"]
    )
    assert intents(conv) == ["check_balance", "agent_request"]
    assert transfer(conv)["queue"] == "general"


def test_a_turn_that_goes_on_is_heard_whole_where_it_began_and_chat_shows_why(hotline, api):
    """'/more' is the caller going on right after a turn the IVR began to answer (what the VAD
    does to a pause mid-thought): the two parts are one turn at the gather that heard the
    first, its prompt is not said again, and the call state is as if it was heard whole."""
    conv, printed = chat(
        hotline, api, ["I want to pay my bill", "/more but it's wrong again"], CALLERS["carla"]
    )
    joins = [e.data for e in conv.events if e.type == "turn_join"]
    assert joins == [{"text": "I want to pay my bill but it's wrong again", "node": "menu", "gap_ms": 0}]
    assert intents(conv) == ["pay_bill", "complaint"] and transfer(conv)["queue"] == "complaints"
    assert said(conv).count("How can I help you today?") == 1  # the menu was not asked again
    assert conv.transfer_request.context["transcript"] == ["I want to pay my bill but it's wrong again"]
    lines = "\n".join(printed)
    assert "[intent pay_bill 0.9" in lines and "complaint 0.90 by keyword; likeliest pay_bill" in lines, lines
    assert "heard as one turn at menu" in lines
    # a turn after a key press or a silence is a new turn, never joined to what came before
    conv, _ = chat(hotline, api, ["I want to pay my bill", "/silence", "/more no thanks"], CALLERS["carla"])
    assert (
        not [e for e in conv.events if e.type == "turn_join"] and conv.events[-1].data["reason"] == "resolved"
    )


def test_two_intents_about_as_likely_are_asked_about_not_guessed(hotline, api):
    """'Called three times and nothing is fixed' is an outage or a complaint about one: the IVR
    asks which, names both as the dialplan's `ask_as` says, and routes by the answer."""
    conv, printed = chat(
        hotline, api, ["I've called three times and nothing is fixed", "it's a complaint"], CALLERS["carla"]
    )
    assert "Is that about a fault or outage, or a complaint?" in said(conv)
    last = [e.data for e in conv.events if e.type == "intent"][-1]
    assert last["name"] == "complaint" and last["by"] == "clarified"
    assert transfer(conv)["queue"] == "complaints"
    assert "by clarified" in "\n".join(printed)
    # the other answer goes the other way; a clear request is never asked about
    conv, _ = chat(
        hotline, api, ["I've called three times and nothing is fixed", "the fault", "no"], CALLERS["carla"]
    )
    assert intents(conv)[:2] == ["report_outage", "report_outage"] and not transfer(conv)
    conv, _ = chat(hotline, api, ["how much data have I got left", "no"], CALLERS["carla"])
    assert "Is that about" not in said(conv)


def test_a_read_back_hears_a_correction_and_that_s_it_as_a_yes(embedder, api):
    """After "I heard 471102. Is that right?": "no, it's 471103" is the right number (asked
    again with it), "that's it" is a yes there, and "that's not right" a plain no."""
    dp = load_dialplan(ROOT / "tests" / "dialplans" / "good" / "readback.yaml")
    readback = (dp, Understanding.build(dp, embedder))
    conv, _ = chat(readback, api, ["four seven one one zero two", "no, it's 471103", "that's it"])
    text = said(conv)
    assert "I heard 471102. Is that right?" in text and "I heard 471103. Is that right?" in text
    assert [e.data for e in conv.events if e.type == "corrected"] == [{"var": "account", "node": "confirm"}]
    assert "Thank you, account 471103." in text and conv.events[-1].data["reason"] == "resolved"
    conv, _ = chat(readback, api, ["four seven one one zero two", "that's not right", "471103", "yes"])
    assert said(conv).count("Say your six digit account number.") == 2
    assert "Thank you, account 471103." in said(conv)


def test_a_pleased_caller_is_not_taken_for_a_complaint(hotline, api):
    """The complaint examples are the only emotional ones: without polite remarks among the
    out-of-scope examples, "I'm really pleased" was a complaint (0.80) and went to that queue."""
    conv, _ = chat(
        hotline,
        api,
        ["what's my balance", "That's wonderful news, I'm really pleased. No, that's everything."],
        CALLERS["carla"],
    )
    assert not transfer(conv) and conv.events[-1].data["reason"] == "resolved", intents(conv)
