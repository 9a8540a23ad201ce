"""Goodbyes at any step and fillers that are not requests, through the hotline's real runner
and intent model (typed, as `ivr chat` does). Category: model."""

from __future__ import annotations

import pytest

from ivr.api import demo_account
from ivr.conversation import CLOSED_ANSWERED, CLOSED_UNANSWERED
from tests.e2e.test_dialplan_runner import CALLERS, chat, intents, said, transfer

pytestmark = pytest.mark.model

GOODBYE = "Thank you for calling Acme Mobile. Goodbye."
NOT_GOT = "Sorry, I didn't get that."


def ended(conv) -> str:
    last = conv.events[-1]
    assert last.type == "hangup"
    return str(last.data["reason"])


@pytest.mark.parametrize(
    "bye", ["Lovely. Thanks. Bye.", "Great. That is all I needed.", "Cheers, that's me sorted."]
)
def test_a_goodbye_at_anything_else_ends_the_call_resolved(hotline, api, bye):
    conv, _ = chat(hotline, api, ["what's my balance", bye], CALLERS["carla"])
    assert "Your balance is" in said(conv) and NOT_GOT not in said(conv)
    assert said(conv).endswith(GOODBYE) and ended(conv) == CLOSED_ANSWERED


def test_no_thats_all_at_an_account_number_prompt_is_let_go_not_asked_again(hotline, api):
    conv, _ = chat(hotline, api, ["what's my balance", "No, that's all, thanks"])  # an unknown caller
    assert said(conv).count("account number") == 1
    assert said(conv).endswith(GOODBYE) and ended(conv) == CLOSED_UNANSWERED  # nothing was answered


def test_a_goodbye_at_the_menu_is_not_routed_anywhere(hotline, api):
    for bye in ("Oh that's everything, thank you, bye", "Nothing else. Goodbye."):
        conv, _ = chat(hotline, api, [bye], CALLERS["carla"])
        assert intents(conv) == [] and transfer(conv) is None
        assert ended(conv) == CLOSED_UNANSWERED  # the greeting is no answer


def test_a_plain_no_at_anything_else_keeps_the_dialplans_own_goodbye(hotline, api):
    for no in ("no thanks", "No, that's all, thanks"):  # a goodbye that answers the question
        conv, _ = chat(hotline, api, ["what's my balance", no], CALLERS["carla"])
        assert ended(conv) == "resolved"


def test_thanks_then_a_request_is_the_request(hotline, api):
    conv, _ = chat(hotline, api, ["Thanks, and what's my balance?", "no"], CALLERS["carla"])
    assert intents(conv) == ["check_balance"] and "Your balance is" in said(conv)


def test_an_apology_cut_off_by_the_pause_is_not_a_complaint(hotline, api):
    """'Sorry.' / 'I need to pay my bill.': the VAD ended the turn at the apology. It is no
    intent, so nothing irreversible happens; the rest joins it and the whole is routed."""
    conv, _ = chat(hotline, api, ["Sorry.", "/more I need to pay my bill", "no"], CALLERS["carla"])
    assert intents(conv) == ["pay_bill"] and transfer(conv) is None
    assert NOT_GOT not in said(conv)
    conv, _ = chat(hotline, api, ["Erm", "what's my balance", "no"], CALLERS["carla"])  # after a longer pause
    assert intents(conv) == ["check_balance"] and NOT_GOT not in said(conv)


def test_a_corrected_account_number_is_read_back_and_used_once_confirmed(hotline, api):
    conv, _ = chat(
        hotline,
        api,
        [
            "what's my balance",
            "one zero zero zero zero two, sorry, I mean one zero zero zero zero three",
            "yes",
            "no",
        ],
    )
    assert "I heard 1 0 0 0 0 3. Is that right?" in said(conv)
    assert [e.data["confirmed"] for e in conv.events if e.type == "readback"] == [True]
    assert f"Your balance is {demo_account('100003')['balance']:g} pounds" in said(conv)


def test_a_read_back_said_wrong_asks_again_and_offers_the_keypad(hotline, api):
    conv, _ = chat(
        hotline,
        api,
        [
            "what's my balance",
            "one oh oh oh oh two. One oh oh oh oh two.",
            "no",
            "one zero zero zero zero three",
            "no",
        ],
    )
    assert [e.data["confirmed"] for e in conv.events if e.type == "readback"] == [False]
    assert "You can also key it in on your phone's keypad." in said(conv)
    assert f"Your balance is {demo_account('100003')['balance']:g} pounds" in said(
        conv
    )  # said plainly: no read-back


def test_a_weak_match_is_asked_about_before_a_transfer(hotline, api):
    """A route that transfers is taken on a weak match only once the caller says it is right."""
    conv, _ = chat(hotline, api, ["I'm disgusted with this company", "yes"], CALLERS["carla"])
    assert "Sorry, was that about a complaint?" in said(conv)
    assert transfer(conv)["queue"] == "complaints"
    conv, _ = chat(
        hotline, api, ["I'm disgusted with this company", "no", "what's my balance", "no"], CALLERS["carla"]
    )
    assert transfer(conv) is None and "Your balance is" in said(conv)
    assert [e.data["by"] for e in conv.events if e.type == "intent"][:2] == ["classifier", "confirmed"]


def test_a_confident_request_is_not_asked_about(hotline, api):
    conv, _ = chat(hotline, api, ["I want to make a complaint about my bill"], CALLERS["carla"])
    assert "was that about" not in said(conv) and transfer(conv)["queue"] == "complaints"


def test_two_requests_in_one_turn_are_both_answered_then_anything_else(hotline, api):
    conv, _ = chat(
        hotline,
        api,
        ["Can you tell me my balance, and also how much data I have used?", "no"],
        CALLERS["carla"],
    )
    assert intents(conv) == ["check_balance", "data_usage"]
    text = said(conv)
    assert "Your balance is" in text and "gigabytes" in text
    assert text.index("Your balance is") < text.index("Now, your data.") < text.index("gigabytes")
    assert text.count("Is there anything else I can help with?") == 1  # only after the last
    assert ended(conv) == "resolved"


def test_an_unknown_caller_gives_their_account_number_once_for_both(hotline, api):
    conv, _ = chat(
        hotline,
        api,
        ["What's my balance? And is there an outage in my area?", "one zero zero zero zero three", "no"],
    )
    assert intents(conv) == ["check_balance", "report_outage"]
    assert said(conv).count("account number") == 1


def test_one_request_said_with_and_is_one_request(hotline, api):
    conv, _ = chat(hotline, api, ["I lost my phone and I need a new SIM"], CALLERS["carla"])
    assert intents(conv)[0] == "lost_sim" and "Now," not in said(conv)


def test_a_caller_who_corrects_themselves_gets_the_corrected_request(hotline, api):
    conv, _ = chat(
        hotline,
        api,
        ["I want to cancel my contract, no wait, actually I just want my balance", "no"],
        CALLERS["carla"],
    )
    assert intents(conv) == ["check_balance"] and transfer(conv) is None
