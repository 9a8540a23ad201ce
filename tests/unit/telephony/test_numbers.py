"""The numbers file: numbers in the formats admins and carriers write find one entry, and a
broken file is refused with where."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.telephony.numbers import check_numbers, line_problems, normalize, numbers_schema

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


def _file(tmp_path: Path, text: str) -> Path:
    (tmp_path / "main.yaml").write_text((ROOT / "dialplans" / "hotline.yaml").read_text())
    (tmp_path / "vip.yaml").write_text((ROOT / "dialplans" / "hotline.yaml").read_text())
    path = tmp_path / "numbers.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "written,region,e164",
    [
        ("+44 20 7946 0000", "GB", "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("(020) 7946-0000", "GB", "+442079460000"),
        ("442079460000", "GB", "+442079460000"),  # a trunk's format: the country code, no '+'
        ("00442079460000", "GB", "+442079460000"),
        ("sip:+442079460000@carrier.example;user=phone", "GB", "+442079460000"),
        ("tel:+1-212-555-0100", "", "+12125550100"),
        ("(212) 555-0100", "US", "+12125550100"),
        ("Hotline", "GB", "hotline"),
        ("12", "GB", ""),
        ("not a number!", "GB", ""),
    ],
)
def test_a_number_in_any_common_format_is_one_e164(written, region, e164):
    assert normalize(written, region) == e164


def test_two_numbers_reach_their_dialplans_and_an_unknown_one_is_refused(tmp_path):
    path = _file(tmp_path, """\
region: GB
dialplans: {main: main.yaml, vip: vip.yaml}
numbers:
  "+44 20 7946 0000": main
  "020 7946 0100": {dialplan: vip, name: VIP line, language: en-GB, queue: vip}
""")  # fmt: skip
    numbers, issues = check_numbers(path)
    assert numbers is not None and not issues
    assert numbers.dialplan_for("02079460000")[0] == "main"  # type: ignore[index]
    name, line = numbers.dialplan_for("sip:442079460100@10.0.0.1")  # type: ignore[misc]
    assert name == "vip" and line is not None and line.name == "VIP line" and line.language == "en-GB"
    assert numbers.dialplan_for("+442079469999") is None  # 404
    assert numbers.dialplans["vip"] == (tmp_path / "vip.yaml").resolve()


def test_an_unknown_number_may_run_a_default_dialplan(tmp_path):
    path = _file(tmp_path, "dialplans: {main: main.yaml}\nnumbers: {hotline: main}\nunknown: main\n")
    numbers, _ = check_numbers(path)
    assert numbers is not None and numbers.dialplan_for("+15550100") == ("main", None)


def test_a_broken_file_is_refused_with_file_line_and_column(tmp_path):
    path = _file(tmp_path, """\
region: XX
dialplans: {main: main.yaml, gone: nowhere.yaml}
numbers:
  "+44 20 7946 0000": main
  "0044 20 7946 0000": main
  "call me": main
  "+44 20 7946 0101": {dialplan: vipp}
  "+44 20 7946 0102": {dialplan: main, colour: red}
unknown: elsewhere
""")  # fmt: skip
    numbers, issues = check_numbers(path)
    assert numbers is None
    said = {(i.code, i.line) for i in issues}
    assert ("E_REGION", 1) in said and ("E_FILE", 2) in said
    assert ("E_DUPLICATE", 5) in said and ("E_NUMBER", 6) in said
    assert ("E_DIALPLAN", 7) in said and ("E_UNKNOWN_FIELD", 8) in said and ("E_DIALPLAN", 9) in said
    assert all(str(i).startswith(f"{path}:{i.line}:{i.col}: ") for i in issues)


def test_the_shipped_numbers_file_is_valid_and_has_a_schema():
    numbers, issues = check_numbers(ROOT / "dialplans" / "numbers.yaml")
    assert numbers is not None and not issues, issues
    assert numbers.dialplan_for("hotline") == ("main", numbers.lines["hotline"])
    schema = numbers_schema()
    assert schema["required"] == ["dialplans", "numbers"] and "region" in schema["properties"]


def test_ivr_validate_checks_a_numbers_file_and_each_dialplan_it_names(tmp_path, capsys):
    from ivr.cli import main

    path = _file(
        tmp_path,
        "dialplans: {main: main.yaml, vip: vip.yaml}\nnumbers: {hotline: main, '+1 212 555 0100': vip}\n",
    )
    assert main(["validate", str(path)]) == 0
    said = capsys.readouterr().err
    assert "2 numbers, 2 dialplans" in said and "main.yaml: ok" in said and "vip.yaml: ok" in said
    (tmp_path / "vip.yaml").write_text("name: broken\nstart: nowhere\nnodes: {}\n")
    assert main(["validate", str(path)]) == 1
    assert f"{(tmp_path / 'vip.yaml').resolve()}:2:" in capsys.readouterr().out
    assert main(["schema", "--numbers"]) == 0 and '"urn:ivr-hotline:numbers"' in capsys.readouterr().out


def test_a_line_has_its_own_hours_queue_and_language_and_its_dialplan_must_serve_them(tmp_path, capsys):
    from ivr.cli import main
    from ivr.dialplan import check_dialplan

    path = _file(tmp_path, """\
region: GB
dialplans: {main: main.yaml, plain: plain.yaml}
numbers:
  "020 7946 0200":
    dialplan: main
    name: Weekend line
    language: en-GB
    queue: priority
    hours: {sat-sun: "09:00-18:00", mon-fri: closed}
  "020 7946 0300": {dialplan: plain, queue: nowhere, hours: {mon: "09:00-17:00"}}
""")  # fmt: skip
    (tmp_path / "plain.yaml").write_text(
        "name: plain\nstart: main\nqueues: {general: {}}\nnodes:\n  main:\n    - hangup: {reason: resolved}\n"
    )
    numbers, issues = check_numbers(path)
    assert issues == [] and numbers is not None
    weekend = numbers.lines["+442079460200"].for_call()
    assert weekend["language"] == "en-GB" and weekend["queue"] == "priority"
    assert {d for d, r in weekend["hours"].items() if r} == {5, 6} and weekend["hours"][5][0][0].hour == 9
    plain, _ = check_dialplan(tmp_path / "plain.yaml")
    assert line_problems(numbers, "plain", plain) == [
        f"{path}: 020 7946 0300: queue 'nowhere' is not in dialplan plain's queues",
        f"{path}: 020 7946 0300: hours need dialplan plain to have after_hours:",
    ]
    assert main(["validate", str(path)]) == 1  # ivr validate says so too
    assert "hours need dialplan plain" in capsys.readouterr().out
    bad = path.read_text().replace('sat-sun: "09:00-18:00"', 'weekend: "9 to 6"')
    path.write_text(bad)
    numbers, issues = check_numbers(path)
    assert numbers is None and any(i.code == "E_HOURS" and i.line == 9 for i in issues), issues
