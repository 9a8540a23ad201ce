"""The numbers the hotline is called on, and which dialplan answers each (`numbers.yaml`).

A carrier delivers a number in its own format ("+442079460000", "442079460000",
"02079460000"); an admin writes it as people do ("+44 20 7946 0000", "020 7946 0000"). Both
are read with Google's libphonenumber (PyPI `phonenumbers`) in the file's `region` and kept as
E.164, so any of them finds the entry. A name instead of a number ("hotline") matches a SIP
user of that name (internal and test calls). The file is validated like a dialplan: every
problem with its file:line:col, the running version kept when an edit is broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import phonenumbers

from ivr.dialplan.check import Dialplan, week_hours
from ivr.dialplan.checker import Checker, Issue
from ivr.dialplan.schema import spec_schema
from ivr.dialplan.spec_types import F, Spec
from ivr.dialplan.yamlpos import YamlError, load
from ivr.telephony.trunks import TRUNK, Trunk, read_trunks

NUMBER = Spec(
    {
        "dialplan": F(
            "text", "The dialplan (a name under `dialplans:`) calls to this number run.", required=True
        ),
        "language": F(
            "text", "The callers' language as a BCP 47 tag (en-GB, fr-FR): the call's record carries it."
        ),
        "queue": F("text", "The queue an agent request on this number goes to by default."),
        "name": F("text", 'What the console and the report call this line ("VIP line").'),
        "hours": F(
            "map:hours",
            "This line's open hours (mon-fri: 09:00-17:00, sat: closed), in its dialplan's time zone,"
            " instead of the dialplan's business_hours; closed, the dialplan's after_hours node answers.",
        ),
    },
    doc="One number the hotline is called on.",
    shorthand="dialplan",
)
NUMBERS = Spec(
    {
        "region": F(
            "text",
            "The country national numbers are read in (ISO 3166 code: GB, US, DE); "
            "'+' numbers are read as they are.",
        ),
        "dialplans": F("map:text", "Dialplan names and their files (relative to this file).", required=True),
        "numbers": F(
            Spec(
                {},
                "The numbers (any common format) or SIP user names called, each with its dialplan.",
                extra=NUMBER,
            ),
            "The numbers (any common format) or SIP user names called, each with its dialplan.",
            required=True,
        ),
        "unknown": F(
            "text",
            "What a call to a number not listed gets: 404 (refused, the default) or a dialplan's name.",
        ),
        "trunks": F(
            Spec({}, "Carrier trunks by name.", extra=TRUNK),
            "Carrier trunks by name: with any, only they may call in, and calls out leave through them.",
        ),
    },
    doc="The numbers the hotline is called on and the dialplan each runs.",
)


class NumbersError(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class Line:
    """One number (E.164) or SIP user name, as the admin wrote it, and what answers it."""

    key: str
    written: str
    dialplan: str
    language: str = ""
    queue: str = ""
    name: str = ""
    hours: dict[int, list[tuple[time, time]]] | None = None
    """Open hours by weekday (0 = Monday), or None: the dialplan's."""

    def for_call(self) -> dict[str, Any]:
        """What the dialplan's runner knows of the number called (`call.number`, `call.line`,
        `call.language`, the default queue, the hours)."""
        return {"number": self.key, "name": self.name, "language": self.language, "queue": self.queue,
                "hours": self.hours}  # fmt: skip


@dataclass
class Numbers:
    file: Path
    region: str
    dialplans: dict[str, Path]
    lines: dict[str, Line]
    unknown: str = "404"
    warnings: list[Issue] = field(default_factory=list)
    trunks: dict[str, Trunk] = field(default_factory=dict)

    def line_for(self, called: str) -> Line | None:
        """The entry a call to `called` (a R-URI user, a tel: or sip: URI) reaches, or None."""
        key = normalize(called, self.region)
        return self.lines.get(key) if key else None

    def caller_forms(self, number: str) -> list[str]:
        """The forms a caller's number (From / P-Asserted-Identity, as the trunk sent it) may be
        kept in the directory: E.164 first, then as dialled in the file's region ("07700..."),
        then its digits as they came."""
        forms = []
        e164 = normalize(number, self.region)
        if e164.startswith("+"):
            forms.append(e164)
            parsed = phonenumbers.parse(e164)
            if self.region and parsed.country_code == phonenumbers.country_code_for_region(self.region):
                national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
                forms.append(re.sub(r"[^0-9+]", "", national))
        raw = "".join(ch for ch in number.split("@", 1)[0].split(":")[-1] if ch.isdigit() or ch == "+")
        forms.append(raw)
        return [f for i, f in enumerate(forms) if f and f not in forms[:i]]

    def dialplan_for(self, called: str) -> tuple[str, Line | None] | None:
        """(dialplan name, its line or None) for a call to `called`; None: refuse it (404)."""
        line = self.line_for(called)
        if line is not None:
            return line.dialplan, line
        if self.unknown != "404":
            return self.unknown, None
        return None


_USER = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")


def normalize(number: str, region: str = "") -> str:
    """E.164 ("+442079460000") of a number in any common format, a SIP user name in lower
    case, or "" when it is neither."""
    n = number.strip()
    if n.lower().startswith(("sip:", "sips:", "tel:")):
        n = n.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    if _USER.fullmatch(n):
        return n.lower()
    digits = re.sub(r"[\s().\-/]", "", n)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        parsed = phonenumbers.parse(digits, region.upper() or None)
    except phonenumbers.NumberParseException:
        if digits.isdigit() and region:  # a carrier's "442079460000": the country code, no '+'
            return normalize("+" + digits, "")
        return ""
    if not phonenumbers.is_possible_number(parsed):
        if digits.isdigit() and not digits.startswith("0"):
            return normalize("+" + digits, "")
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_numbers_file(path: str | Path) -> bool:
    """A file whose top level has `numbers:` (a dialplan never does)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"(?m)^numbers\s*:", text) is not None


def check_numbers(path: str | Path, text: str | None = None) -> tuple[Numbers | None, list[Issue]]:
    """The numbers file read and checked: (Numbers, warnings) or (None, every issue)."""
    path = Path(path)
    try:
        doc = load(path, text)
    except YamlError as e:
        return None, [Issue(e.file, e.pos.line, e.pos.col, "E_YAML", e.message)]
    except OSError as e:
        return None, [Issue(str(path), 1, 1, "E_READ", f"cannot read: {e}")]
    c = Checker(doc)
    top = c.check(doc.data, NUMBERS, ())
    if not isinstance(top, dict):
        return None, c.issues
    region = str(top.get("region") or "")
    if region and not phonenumbers.country_code_for_region(region.upper()):
        c.err(("region",), "E_REGION", f"region: {region!r} is not a country code like GB or US")
        region = ""
    dialplans: dict[str, Path] = {}
    for name, file in (top.get("dialplans") or {}).items():
        if file is None:
            continue
        full = (path.parent / str(file)).resolve()
        if not full.is_file():
            c.err(("dialplans", name), "E_FILE", f"dialplans.{name}: no such file {file!r}")
        dialplans[str(name)] = full
    lines: dict[str, Line] = {}
    for written, entry in (top.get("numbers") or {}).items():
        where = ("numbers", written)
        key = normalize(str(written), region)
        if not key:
            c.err(
                where,
                "E_NUMBER",
                f"{written!r} is not a phone number (in region {region or 'none'}) or a SIP user name",
            )
            continue
        if entry is None:
            continue
        if key in lines:
            first = lines[key].written
            c.err(where, "E_DUPLICATE", f"{written!r} is the same number as {first!r} ({key})")
            continue
        dialplan = str(entry.get("dialplan") or "")
        if dialplan not in dialplans:
            c.err(
                where + ("dialplan",),
                "E_DIALPLAN",
                f"{written}: no dialplan named {dialplan!r} under dialplans:",
            )
        hours = week_hours(c, entry["hours"], where + ("hours",)) if entry.get("hours") else None
        lines[key] = Line(key, str(written), dialplan, str(entry.get("language") or ""),
                          str(entry.get("queue") or ""), str(entry.get("name") or ""), hours)  # fmt: skip
    unknown = str(top.get("unknown", "404"))
    if unknown != "404" and unknown not in dialplans:
        c.err(
            ("unknown",), "E_DIALPLAN", f"unknown: {unknown!r} is neither 404 nor a dialplan under dialplans:"
        )
    trunks = read_trunks(c, top.get("trunks"), lambda n: normalize(n, region))
    errors = [i for i in c.issues if i.severity == "error"]
    if errors:
        return None, c.issues
    warnings = [i for i in c.issues if i.severity != "error"]
    return Numbers(path, region.upper(), dialplans, lines, unknown, warnings, trunks), warnings


def line_problems(numbers: Numbers, name: str, dialplan: Dialplan) -> list[str]:
    """What the lines running dialplan `name` ask of it that it lacks: a default queue it does
    not define; own hours with no after_hours node to answer when closed."""
    out = []
    for line in numbers.lines.values():
        if line.dialplan != name:
            continue
        if line.queue and line.queue not in dialplan.queues:
            out.append(
                f"{numbers.file}: {line.written}: queue {line.queue!r} is not in dialplan {name}'s queues"
            )
        if line.hours is not None and not dialplan.after_hours:
            out.append(f"{numbers.file}: {line.written}: hours need dialplan {name} to have after_hours:")
    return out


def load_numbers(path: str | Path) -> Numbers:
    numbers, issues = check_numbers(path)
    if numbers is None:
        raise NumbersError(issues)
    return numbers


def numbers_schema() -> dict[str, Any]:
    """The numbers file as JSON Schema (draft 2020-12), for editors (`ivr schema --numbers`)."""
    schema = spec_schema(NUMBERS)
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:ivr-hotline:numbers",
            "title": "IVR numbers",
        }
    )
    return schema
