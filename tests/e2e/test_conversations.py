"""Conversations with callers through audio: one scripted caller of each kind from the
conversation set (tests/conversations/, run whole by bench/conversations.py), spoken by piper
and heard by the call's real pipeline and the hotline's dialplan at a fixed open hour. What
the caller gets is asserted: the requests routed, the transfer or not, how the call ended,
what they heard. Category: e2e (the speech service's models)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from ivr.call.services import open_services
from ivr.settings import Settings
from tests.tools.conversations import CASES, CONVERSATIONS, Hotline, all_conversations, load, problems

pytestmark = [pytest.mark.e2e, pytest.mark.model]

ONE_OF_EACH = {
    "closing_lovely_bye": "closing",  # "Lovely. Thanks. Bye." at "anything else?", cut by the VAD
    "fragment_sorry_pay": "fragment",  # "Sorry." ... "I need to pay my bill."
    "digits_correction": "digits",  # "... two, sorry, I mean ... three": read back, then used
    "two_data_outage": "two_requests",  # data, and an outage as well: both answered
    "correction_pay_to_data": "correction",  # "pay my bill. I mean, how much data ..."
    "confirm_fed_up_yes": "confirm",  # a weak complaint is asked about, then transferred
}


@pytest.fixture(scope="module")
def heard() -> dict[str, list[str]]:
    async def run() -> dict[str, list[str]]:
        out = {}
        async with open_services(replace(Settings(), greeting="")) as services:
            with Hotline(services) as hotline:
                for name in ONE_OF_EACH:
                    c = load(CONVERSATIONS / f"{name}.yaml")
                    out[name] = problems(c, await hotline.call(c))
        return out

    return asyncio.run(run())


@pytest.mark.parametrize("name", sorted(ONE_OF_EACH))
def test_the_caller_gets_what_they_asked_for(heard, name):
    assert heard[name] == []


def test_the_set_has_every_kind_and_every_script_is_well_formed():
    conversations = all_conversations()  # raises on an unknown case or expectation
    assert len(conversations) >= 40
    assert {c.case for c in conversations} == set(CASES)
    assert {load(CONVERSATIONS / f"{n}.yaml").case for n in ONE_OF_EACH} == set(CASES)
