"""Several numbers, several dialplans (#31): calls to two numbers, dialled in the formats a
carrier and a person use, reach their own dialplans (each says its own first prompt); a number
the file does not list is refused with 404 and nothing is recorded; a broken edit of the
numbers file is refused and the running one stays. Category: e2e."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.baresip import baresip_call
from tests.sip_helpers import (
    SAY_THEN_HANG_UP,
    first_prompts,
    free_port,
    invite_status,
    ivr_exe,
    speech_wav,
    start_hotline,
    stop_hotline,
    wait_until,
)

pytestmark = pytest.mark.e2e

PLAN = SAY_THEN_HANG_UP
NUMBERS = """\
region: GB
dialplans:
  main: main.yaml
  vip: vip.yaml
numbers:
  "+44 20 7946 0000": {dialplan: main, name: Main line}
  "020 7946 0100": {dialplan: vip, name: VIP line, language: en-GB}
"""


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("numbers")
    (tmp / "main.yaml").write_text(PLAN.format(name="main line", prompt="Welcome to the main line."))
    (tmp / "vip.yaml").write_text(PLAN.format(name="vip line", prompt="Welcome to the priority line."))
    (tmp / "numbers.yaml").write_text(NUMBERS)
    served = start_hotline(
        tmp, lambda t, sip: tmp / "main.yaml", env={"IVR_NUMBERS": str(tmp / "numbers.yaml")}
    )
    yield served
    stop_hotline(served)


def _said_first(hotline) -> list[str]:  # type: ignore[no-untyped-def]
    return first_prompts(hotline["data"])


def test_two_numbers_in_two_formats_reach_their_dialplans_and_an_unknown_number_gets_404(hotline, tmp_path):
    wav = speech_wav(tmp_path / "quiet.wav", [(None, 6)])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    baresip_call(
        tmp_path / "a", f"sip:02079460000@127.0.0.1:{hotline['sip']}", wav, 6
    )  # as a person dials it
    baresip_call(
        tmp_path / "b", f"sip:442079460100@127.0.0.1:{hotline['sip']}", wav, 6
    )  # as a trunk sends it
    wait_until(lambda: len(_said_first(hotline)) == 2, 30, "both calls recorded")
    assert _said_first(hotline) == ["Welcome to the main line.", "Welcome to the priority line."]
    assert invite_status(hotline["sip"], "+442079469999") == 404
    assert invite_status(hotline["sip"], "hotline") == 404  # not listed in this file either
    assert len(_said_first(hotline)) == 2  # a refused call is not a call: nothing recorded


def test_a_broken_numbers_file_is_refused_and_the_running_one_stays(hotline, tmp_path):
    numbers = Path(hotline["tmp"]) / "numbers.yaml"
    good = numbers.read_text()
    numbers.write_text(good.replace("dialplan: vip", "dialplan: vipp"))
    try:
        wait_until(
            lambda: any(
                "numbers file refused" in p.read_text() for p in Path(hotline["run"]).glob("worker-*.log")
            ),
            30,
            "the worker to refuse the edit",
        )
        assert invite_status(hotline["sip"], "02079460100") != 404  # still the VIP line
    finally:
        numbers.write_text(good)


@pytest.mark.parametrize("broken", ["numbers", "dialplan"])
def test_serve_refuses_a_numbers_file_or_a_dialplan_it_names_with_where_it_is_wrong(tmp_path, broken):
    (tmp_path / "main.yaml").write_text(PLAN.format(name="main line", prompt="Welcome to the main line."))
    (tmp_path / "vip.yaml").write_text(
        PLAN.format(name="vip line", prompt="Hello.").replace("start: main", "start: mian")
    )
    numbers = tmp_path / "numbers.yaml"
    text = NUMBERS if broken == "dialplan" else NUMBERS.replace("dialplan: vip", "dialplan: vipp")
    numbers.write_text(text)
    if broken == "numbers":
        (tmp_path / "vip.yaml").write_text(PLAN.format(name="vip line", prompt="Hello."))
    done = subprocess.run(
        [*ivr_exe(), "serve", "--numbers", str(numbers), "--dialplan", str(tmp_path / "main.yaml"),
         "--data-dir", str(tmp_path / "data"), "--port", str(free_port(socket.SOCK_STREAM)), "--sip-port", str(free_port())],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    where = f"{numbers}:7:21:" if broken == "numbers" else f"{tmp_path / 'vip.yaml'}:2:"
    assert where in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "data" / "run" / "kamailio.pid").exists()  # nothing was started
