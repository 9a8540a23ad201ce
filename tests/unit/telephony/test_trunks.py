"""Trunks in the numbers file (#31): addresses, prefixes and credentials read and checked with
file:line:col; the longest prefix chooses the trunk; Kamailio's address list. Category: unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.telephony.handoff import PhoneHandoff
from ivr.telephony.numbers import check_numbers
from ivr.telephony.trunk_config import parts, write_registrations
from ivr.telephony.trunks import Address, address_list, parse_address, trunk_for

pytestmark = pytest.mark.unit

HEAD = """\
region: GB
dialplans: {main: plan.yaml}
numbers:
  "020 7946 0000": main
trunks:
"""


def _numbers(tmp_path: Path, trunks: str):  # type: ignore[no-untyped-def]
    (tmp_path / "plan.yaml").write_text("name: x\n")
    path = tmp_path / "numbers.yaml"
    path.write_text(HEAD + trunks)
    return check_numbers(path)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("203.0.113.10", Address("203.0.113.10", 32, 0)),
        ("203.0.113.10:5060", Address("203.0.113.10", 32, 5060)),
        ("203.0.113.7/28", Address("203.0.113.0", 28, 0)),
        ("[2001:db8::1]:5061", Address("2001:db8::1", 128, 5061)),
        ("2001:db8::/32", Address("2001:db8::", 32, 0)),
        ("carrier.example", None),
        ("203.0.113.10:70000", None),
        ("300.0.0.1", None),
    ],
)
def test_addresses_in_the_forms_an_admin_writes_them(text, address):
    assert parse_address(text) == address


def test_a_trunk_is_read_with_its_caller_id_in_e164_and_its_addresses_listed_for_kamailio(tmp_path):
    numbers, issues = _numbers(tmp_path, """\
  carrier:
    addresses: [203.0.113.10, "198.51.100.0/24"]
    proxy: sip:203.0.113.10:5060
    prefixes: ["+44", "+447"]
    username: acme
    password: s3cret
    caller_id: 020 7946 0000
    calls: 30
  backup:
    proxy: sip:backup.example:5061;transport=tls
    prefixes: ["+"]
""")  # fmt: skip
    assert issues == [] and numbers is not None
    carrier = numbers.trunks["carrier"]
    assert carrier.caller_id == "+442079460000" and carrier.group == 1 and carrier.calls == 30
    assert trunk_for(numbers.trunks, "+447700900001") is carrier
    assert trunk_for(numbers.trunks, "+33123456789") is numbers.trunks["backup"]
    assert address_list(numbers.trunks).splitlines()[1:] == [
        "1 203.0.113.10 32 0 carrier",
        "1 198.51.100.0 24 0 carrier",
    ]


def test_trunk_mistakes_are_said_with_where_they_are(tmp_path):
    numbers, issues = _numbers(tmp_path, """\
  carrier:
    addresses: [203.0.113.10, carrier.example]
    prefixes: ["44"]
    username: acme
    caller_id: not a number
  other:
    proxy: "203.0.113.20"
    prefixes: ["+44"]
""")  # fmt: skip
    assert numbers is None
    said = {(i.line, i.code) for i in issues}
    assert (7, "E_ADDRESS") in said  # the second address, on its own line
    assert (8, "E_PREFIX") in said
    assert any(i.code == "E_AUTH" and "username and password" in i.message for i in issues)
    assert (10, "E_NUMBER") in said
    assert (12, "E_PROXY") in said
    assert any(i.code == "E_PROXY" and "prefixes need a proxy" in i.message for i in issues)


def test_without_trunks_kamailio_lets_every_caller_in_as_before(tmp_path):
    assert set(parts({}, tmp_path, "127.0.0.1", False).values()) == {""}


def test_withheld_caller_id_is_anonymous_in_from_and_kept_for_the_carrier(tmp_path):
    numbers, _ = _numbers(tmp_path, """\
  carrier:
    proxy: sip:203.0.113.10
    prefixes: ["+"]
    caller_id: "+44 20 7946 0000"
    privacy: true
""")  # fmt: skip
    assert numbers is not None
    routes = parts(numbers.trunks, tmp_path, "hotline.example", False)["trunk_routes"]
    assert 'uac_replace_from("Anonymous", "sip:anonymous@anonymous.invalid")' in routes
    assert "Privacy: id" in routes
    assert "P-Asserted-Identity: <sip:+442079460000@hotline.example>" in routes


def test_a_registering_trunk_is_a_row_of_kamailios_uacreg_table_with_its_colons_escaped(tmp_path):
    numbers, issues = _numbers(tmp_path, """\
  carrier:
    proxy: sip:203.0.113.10:5060
    prefixes: ["+44"]
    username: acme
    password: "p:ss"
    register: true
  quiet:
    proxy: sip:198.51.100.1
    prefixes: ["+1"]
""")  # fmt: skip
    assert issues == [] and numbers is not None
    db = write_registrations(tmp_path / "run", numbers.trunks, "192.0.2.5")
    head, *rows = (db / "uacreg").read_text().splitlines()
    assert rows == [
        "0:carrier:carrier:192.0.2.5:acme:203.0.113.10::acme:p\\:ss::sip\\:203.0.113.10\\:5060:600:0:0::"
    ]
    assert "realm(string,null)" in head and oct((db / "uacreg").stat().st_mode)[-3:] == "600"
    routes = parts(numbers.trunks, tmp_path, "192.0.2.5", False, "192.0.2.5:5060")
    assert 'modparam("uac", "reg_contact_addr", "192.0.2.5:5060")' in routes["trunk_modules"]
    assert '$rU == "carrier") $rU = $tU;' in routes["trunk_routes"]  # a call to the contact: To


def test_register_without_an_account_is_refused(tmp_path):
    numbers, issues = _numbers(tmp_path, "  carrier:\n    proxy: sip:203.0.113.10\n    register: true\n")
    assert numbers is None and any("register needs" in i.message for i in issues)


def test_a_caller_from_the_trunk_is_one_caller_in_any_format(tmp_path):
    numbers, _ = _numbers(tmp_path, "  carrier:\n    addresses: [203.0.113.10]\n")
    assert numbers is not None
    for sent in ("07700 900123", "447700900123", "+447700900123", "sip:+447700900123@carrier.example"):
        assert numbers.caller_forms(sent)[:2] == ["+447700900123", "07700900123"], sent
    assert numbers.caller_forms("anonymous") == []


def test_a_tel_queue_address_goes_out_through_the_hotline():
    phone = PhoneHandoff(outside="sip:{number}@127.0.0.1:5060")
    assert phone.dial_uri("tel:+44 20 7946-0999") == "sip:+442079460999@127.0.0.1:5060"
    assert phone.dial_uri("sip:desk@pbx.example") == "sip:desk@pbx.example"


def test_one_address_in_two_trunks_is_refused(tmp_path):
    numbers, issues = _numbers(tmp_path, """\
  carrier:
    addresses: [203.0.113.10]
  backup:
    addresses: ["203.0.113.10/32"]
    proxy: sip:198.51.100.1
""")  # fmt: skip
    assert numbers is None and [(i.line, i.code) for i in issues] == [(9, "E_DUPLICATE")]
