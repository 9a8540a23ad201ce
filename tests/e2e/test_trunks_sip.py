"""A carrier trunk in front of the hotline (#31): sipp as the carrier, from its allowed
address, calls two numbers written in two formats and each reaches its own dialplan (each
says its own first prompt); the same INVITE from another port or address gets 403, an
unknown number 404; a call over the trunk's limit gets 503 while the calls under it go on,
and once they end the next call is taken. Category: e2e."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.analytics.report import report
from ivr.records import Store
from ivr.telephony.kamailio import kamcmd
from speech.audio import decode_file
from tests.carrier import Carrier
from tests.sip_helpers import (
    SAY_THEN_HANG_UP,
    first_prompts,
    free_port,
    invite_status,
    ivr_exe,
    open_hotline,
    sipp_call,
    speech_pcap,
    start_hotline,
    stop_hotline,
    transcribe,
    wait_until,
)

pytestmark = pytest.mark.e2e

PLAN = SAY_THEN_HANG_UP
NUMBERS = """\
region: GB
dialplans:
  main: main.yaml
  vip: vip.yaml
  long: hotline_open.yaml
numbers:
  "+44 20 7946 0000": {{dialplan: main, name: Main line, language: en-GB}}
  "020 7946 0100": {{dialplan: vip, name: VIP line}}
  "020 7946 0200": long
trunks:
  carrier:
    addresses: ["127.0.0.1:{sipp}", "127.0.0.1:{probe}"]
    calls: 2
    per_second: 20
  operator:
    addresses: ["127.0.0.1:{operator}", "127.0.0.1:{probe2}"]
    proxy: sip:127.0.0.1:{operator}
    prefixes: ["+44"]
    username: acme
    password: s3cret
    caller_id: "+44 20 7946 0999"
    register: true
  bursty:
    addresses: ["127.0.0.3"]
    per_second: 5
  pbx:
    inbound_username: pbx
    inbound_password: 'pbx$ec"ret'  # a $ and a quote: Kamailio reads neither as code
"""


@pytest.fixture(scope="module")
def hotline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trunks")
    (tmp / "main.yaml").write_text(PLAN.format(name="main line", prompt="Welcome to the main line."))
    (tmp / "vip.yaml").write_text(PLAN.format(name="vip line", prompt="Welcome to the priority line."))
    open_hotline(tmp)
    ports = {
        "sipp": free_port(),
        "probe": free_port(),
        "operator": free_port(),
        "probe2": free_port(),
        "probe3": free_port(),
    }
    (tmp / "numbers.yaml").write_text(NUMBERS.format(**ports))
    # the operator's network (up before the hotline registers with it): calls to it are
    # challenged, then delivered to the hotline
    sip = free_port()
    carrier = Carrier(tmp / "operator", sip, port=ports["operator"])
    served = start_hotline(tmp, lambda t, sip: tmp / "main.yaml", env={"IVR_NUMBERS": str(tmp / "numbers.yaml")},
                           sip_port=sip)  # fmt: skip
    served.update(ports)
    served["carrier"] = carrier
    yield served
    served["carrier"].stop()
    stop_hotline(served)


def _said_first(hotline) -> list[str]:  # type: ignore[no-untyped-def]
    return first_prompts(hotline["data"])


def _carrier_calls(hotline, number: str, tmp: Path, calls: int = 1, listen_ms: int = 4000):  # type: ignore[no-untyped-def]
    pcap = tmp / "quiet.pcap"
    if not pcap.exists():
        speech_pcap(pcap, lead_s=0.5, digits=[], tail_s=0.5)
    return sipp_call(tmp, hotline["sip"], pcap, listen_ms, local_port=hotline["sipp"], calls=calls,
                     rate=calls, service=number, media_port=free_port())  # fmt: skip


def test_the_carrier_reaches_two_numbers_and_nobody_else_gets_in(hotline, tmp_path):
    before = len(_said_first(hotline))
    national = _carrier_calls(hotline, "02079460000", tmp_path)
    assert national.returncode == 0, national.stderr[-2000:]
    e164 = _carrier_calls(hotline, "+442079460100", tmp_path)
    assert e164.returncode == 0, e164.stderr[-2000:]
    wait_until(lambda: len(_said_first(hotline)) == before + 2, 30, "both calls recorded")
    assert _said_first(hotline)[before:] == ["Welcome to the main line.", "Welcome to the priority line."]

    # from another port or host: challenged (the PBX's trunk proves itself with a digest), and
    # refused without the trunk's credentials
    other_port, other_host = ("127.0.0.1", free_port()), ("127.0.0.2", hotline["probe"])
    assert invite_status(hotline["sip"], "02079460000", other_port) == 407
    assert invite_status(hotline["sip"], "02079460000", other_port, auth=("pbx", "guess")) == 403
    assert invite_status(hotline["sip"], "02079460000", other_host, auth=("someone", 'pbx$ec"ret')) == 403
    assert invite_status(hotline["sip"], "+442079469999", ("127.0.0.1", hotline["probe"])) == 404
    assert len(_said_first(hotline)) == before + 2  # refused calls are not calls: nothing recorded
    log = (Path(hotline["run"]) / "kamailio.log").read_text()
    assert re.search(r"INVITE to 02079460000 from 127\.0\.0\.2:\d+ refused: wrong trunk credentials", log)
    # the PBX with its credentials, from anywhere: its call reaches the VIP line
    assert invite_status(hotline["sip"], "02079460100", other_port, auth=("pbx", 'pbx$ec"ret')) == 200
    wait_until(lambda: len(_said_first(hotline)) == before + 3, 30, "the PBX's call recorded")
    assert _said_first(hotline)[-1] == "Welcome to the priority line."
    # each record carries the number called (E.164) and its line; the report splits by it
    store = Store(f"sqlite:///{hotline['data']}/ivr.sqlite3")
    try:
        wait_until(lambda: all(c["status"] == "ended" for c in store.calls.list().calls), 30, "both ended")
        main = store.calls.list(called="+442079460000").calls
        assert [(c["called"], c["line"], c["language"]) for c in main] == [
            ("+442079460000", "Main line", "en-GB")
        ]
        vip = report(store.engine, 0, number="+442079460100")
        assert vip["calls"] == 2 and vip["by_number"][0]["line"] == "VIP line", vip[
            "by_number"
        ]  # sipp, the PBX
        lines = {b["line"]: b["calls"] for b in report(store.engine, 0)["by_number"]}
        assert lines["Main line"] == 1 and lines["VIP line"] == 2, lines
    finally:
        store.close()


def _on_trunk(hotline) -> int:  # type: ignore[no-untyped-def]
    out = kamcmd(Path(hotline["run"]), "dlg.profile_get_size", "trunk", "carrier") or ""
    m = re.search(r"\d+", out)
    return int(m.group()) if m else -1


def test_a_call_over_the_trunks_limit_gets_503_and_the_others_go_on(hotline, tmp_path):
    result: list[subprocess.CompletedProcess] = []
    two = threading.Thread(
        target=lambda: result.append(_carrier_calls(hotline, "02079460200", tmp_path, 2, 8000))
    )
    two.start()
    try:
        wait_until(lambda: _on_trunk(hotline) == 2, 30, "two calls on the trunk")
        assert invite_status(hotline["sip"], "02079460000", ("127.0.0.1", hotline["probe"])) == 503
    finally:
        two.join(120)
    assert result and result[0].returncode == 0, result and result[0].stderr[-2000:]  # both went on
    wait_until(lambda: _on_trunk(hotline) == 0, 30, "the trunk free again")
    assert invite_status(hotline["sip"], "02079460000", ("127.0.0.1", hotline["probe"])) == 200
    log = (Path(hotline["run"]) / "kamailio.log").read_text()
    assert "trunk carrier: 2 calls already" in log
    # a trunk that takes 5 new calls a second: a burst gets 503 past them (the rest
    # reach the hotline, which refuses the unknown number itself)
    with ThreadPoolExecutor(20) as pool:  # at once, each from its own port of the trunk's host
        burst = list(
            pool.map(lambda _: invite_status(hotline["sip"], "+442079469999", ("127.0.0.3", 0)), range(20))
        )
    assert set(burst) == {404, 503} and burst.count(404) >= 5, burst
    assert "trunk bursty: over 5 calls a second" in (Path(hotline["run"]) / "kamailio.log").read_text()


def test_ivr_call_dials_a_number_through_the_trunk_and_numbers_list_shows_it(hotline, tmp_path, engines):
    numbers = str(Path(hotline["tmp"]) / "numbers.yaml")
    record = tmp_path / "heard.wav"
    # the admin's smoke test: out through the operator (401, then its account) and back in
    done = subprocess.run(
        [*ivr_exe(), "call", "020 7946 0100", "--numbers", numbers, "--seconds", "5", "--record", str(record),
         "--json"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    said = json.loads(done.stdout)
    assert said["trunk"] == "operator" and said["status"] == 200 and said["heard_s"] > 1, json.dumps(said)
    assert "priority line" in transcribe(engines, *decode_file(record))  # the VIP line's dialplan
    (invite,) = hotline["carrier"].invites()
    assert invite["user"] == "acme" and invite["from"].startswith("sip:+442079460999@"), invite
    assert invite["ru"].startswith("sip:+442079460100@")
    listed = subprocess.run(
        [*ivr_exe(), "numbers", "list", "--numbers", numbers, "--data-dir", str(hotline["data"]),
         "--since", "2000-01-01", "--json"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = {r["number"]: r for r in json.loads(listed.stdout)["numbers"]}
    vip = rows["+442079460100"]
    assert vip["line"] == "VIP line" and vip["dialplan"] == "vip" and vip["loaded_at"], vip
    assert vip["calls"] == len(
        Store(f"sqlite:///{hotline['data']}/ivr.sqlite3").calls.list(called="+442079460100").calls
    )
    assert vip["calls"] >= 1


def test_a_trunk_that_registers_keeps_its_contact_at_the_carrier(hotline):
    carrier = hotline["carrier"]
    (first, *_) = wait_until(lambda: carrier.registrations(), 30, "the trunk's REGISTER")
    assert first["user"] == "acme" and first["contact"] == f"<sip:operator@127.0.0.1:{hotline['sip']}>", first
    info = wait_until(
        lambda: kamcmd(Path(hotline["run"]), "uac.reg_info", "l_uuid", "operator"), 10, "reg_info"
    )
    flags = int(re.search(r"flags: (\d+)", info).group(1))
    assert flags & 4, info  # registration succeeded
    listed = subprocess.run(
        [*ivr_exe(), "numbers", "list", "--numbers", str(Path(hotline["tmp"]) / "numbers.yaml"),
         "--data-dir", str(hotline["data"]), "--json"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    trunks = {t["name"]: t for t in json.loads(listed.stdout)["trunks"]}
    assert trunks["operator"]["registration"] == "registered" and trunks["carrier"]["registration"] == ""
    # the carrier calls the registered contact, the number called in To: the VIP line answers
    before = len(_said_first(hotline))
    assert (
        invite_status(hotline["sip"], "operator", ("127.0.0.1", hotline["probe2"]), to="+442079460100") == 200
    )
    wait_until(lambda: len(_said_first(hotline)) == before + 1, 30, "the call recorded")
    assert _said_first(hotline)[-1] == "Welcome to the priority line."
