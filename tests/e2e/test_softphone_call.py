"""A caller reaches an agent whose phone is the browser: baresip phones a hotline whose billing
queue is ann; the worker calls sip:ann@hotline, Kamailio finds her console's WebSocket
registration and rtpengine turns the worker's RTP into DTLS-SRTP for the page. The console
rings, ann clicks Answer (Chromium's fake microphone, listed in the page, says a recording of
speech: the level meter moves); the agent's words reach the caller through the worker, and the
caller's side reaches the page (its line shows good, counted by the browser's getStats)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from speech.audio import decode_file
from tests.baresip import baresip_call
from tests.browser import CHROMIUM, FLAGS, Page
from tests.sip_helpers import AGENT_PASSWORD as PASSWORD
from tests.sip_helpers import (
    bridge_plan,
    free_port,
    speech_wav,
    start_hotline,
    stop_hotline,
    transcribe,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    served = start_hotline(
        tmp_path_factory.mktemp("softcall"),
        bridge_plan,
        env={"IVR_WS_PORT": str(free_port(socket.SOCK_STREAM))},
    )
    yield served
    stop_hotline(served)


@pytest.fixture(scope="module")
def media_browser(tmp_path_factory):
    """Chromium with a fake microphone that says a recording, loopback media allowed."""
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("mic")
    mic = speech_wav(tmp / "agent.wav", [("jfk.flac", 2)], rate=16000)
    flags = [
        *FLAGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        yield browser
        browser.close()


def test_the_agent_answers_in_the_console_and_both_hear_each_other(hotline, media_browser, engines, tmp_path):
    page = Page(media_browser, hotline["api"])
    seen: dict = {}  # type: ignore[type-arg]
    try:
        page.sign_in("ann", PASSWORD)
        page.page.wait_for_url("**/console/agent")
        expect(page.page.locator(".phone")).to_contain_text("registered", timeout=15000)
        caller = speech_wav(tmp_path / "caller.wav", [(None, 40)])
        done = threading.Event()

        def call() -> None:
            seen["heard"] = baresip_call(
                tmp_path, f"sip:hotline@127.0.0.1:{hotline['sip']}", caller, seconds=40
            )
            done.set()

        threading.Thread(target=call, daemon=True).start()
        answer = page.page.get_by_role("button", name="Answer")
        expect(answer).to_be_visible(timeout=30000)  # it rings in the page
        assert (
            page.page.get_by_label("microphone", exact=True).locator("option").count() >= 2
        )  # default + the fake one
        answer.click()
        meter = page.page.get_by_label("microphone level")
        wait_until(lambda: meter.evaluate("m => m.value") > 0.01, 15, "the agent's voice on the level meter")
        line = page.page.locator(".quality")
        expect(line).to_contain_text("Line: good", timeout=15000)
        wait_until(
            lambda: int(line.get_attribute("data-received") or 0) > 200, 20, "the caller's side in the page"
        )
        seen["sent"] = int(line.get_attribute("data-sent") or 0)
        assert done.wait(90)
        expect(page.page.get_by_role("button", name="Answer")).to_have_count(0)
        assert not page.foreign() and not page.errors, (page.foreign(), page.errors)
    finally:
        page.close()
    assert seen["sent"] > 200
    samples, rate = decode_file(seen["heard"])
    said = transcribe(engines, samples, rate)
    assert "connecting you to billing" in said and "country" in said, (
        said
    )  # the agent's words, via the worker
