"""Golden calls for turn-taking, in audio (a scripted caller in piper's voice at 8 kHz through
VAD, whisper and the hotline): a turn the VAD cuts at a pause is heard whole where it began,
"yes"/"no" with more after them are answers plus what follows, and a request at a yes/no or a
digits prompt goes where it belongs. Category: e2e."""

from __future__ import annotations

import pytest

from ivr.api import demo_account
from tests.e2e import test_dialplan_replay as golden
from tests.e2e.test_dialplan_replay import call, kinds, said

directory, hotline = golden.directory, golden.hotline  # the golden calls' fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def names(events):
    return [d["name"] for d in kinds(events, "intent")]


def test_a_complaint_cut_at_a_comma_is_a_complaint_not_a_payment(speech_address, hotline, directory):
    # "I'd like to pay my bill," <600 ms> "but it's wrong again, I was charged twice."
    events = call(speech_address, hotline, directory, "turn_pay_then_wrong.yaml")
    (t,) = kinds(events, "transfer")
    assert (t["queue"], t["tier"]) == ("complaints", "L3")
    joined = kinds(events, "turn_join")
    assert joined and "pay my bill" in joined[0]["text"] and "wrong again" in joined[0]["text"], joined
    assert names(events)[-1] == "complaint"
    assert "Goodbye" not in said(events) and not kinds(events, "hangup")


def test_yes_then_a_question_is_answered_and_no_thats_everything_ends_resolved(
    speech_address, hotline, directory
):
    events = call(speech_address, hotline, directory, "turn_yes_and_request.yaml")
    assert names(events)[:1] == ["check_balance"] and "data_usage" in names(events), names(events)
    assert "gigabytes" in said(events)
    assert kinds(events, "hangup") == [{"reason": "resolved"}] and not kinds(events, "transfer")


def test_a_new_request_at_anything_else_is_routed_and_not_bad_thats_all_is_a_no(
    speech_address, hotline, directory
):
    events = call(speech_address, hotline, directory, "turn_request_at_yes_no.yaml")
    assert "report_outage" in names(events), names(events)
    assert demo_account("100003")["area"] in said(events)  # the outage lookup, read out
    assert kinds(events, "hangup") == [{"reason": "resolved"}] and not kinds(events, "transfer")


def test_no_then_a_complaint_is_a_complaint_not_a_goodbye(speech_address, hotline, directory):
    # "No," <500 ms> "it's wrong, I want to complain." said as "anything else?" was asked
    events = call(speech_address, hotline, directory, "turn_no_then_complaint.yaml")
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "complaints"
    assert not kinds(events, "hangup")  # the goodbye was interrupted, not the call


def test_i_dont_know_my_account_number_at_the_digits_prompt_reaches_a_person(
    speech_address, hotline, directory
):
    events = call(speech_address, hotline, directory, "turn_dont_know_account.yaml")
    (t,) = kinds(events, "transfer")
    assert t["queue"] == "general"
    assert "didn't look like" not in said(events)
