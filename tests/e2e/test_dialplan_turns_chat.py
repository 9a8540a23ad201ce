"""The hotline's turns driven as text (what `ivr chat` does): templated prompts that start at
once, whole answers, mixed initiative at a gather, turns joined, close intents asked about, a
read-back corrected. Real intent model, real HTTP lookups to the demo billing API. Category: model."""

from __future__ import annotations

import pytest

from ivr.dialplan import load_dialplan
from ivr.dialplan.understanding import Understanding
from tests.e2e.test_dialplan_runner import CALLERS, HOTLINE, ROOT, chat, intents, said, transfer

pytestmark = pytest.mark.model


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
