"""What a worker reads from an INVITE's text (pjsua2 hands it whole): the number called (the
request URI's user, which a carrier sets to the dialled number; the To header may differ) and
the caller's asserted identity (P-Asserted-Identity, which a trunk sets when From is withheld
or carries a display number)."""

from __future__ import annotations

import re

_COMPACT = {"t": "to", "f": "from"}


def request_user(message: str) -> str:
    """'INVITE sip:+442079460000@10.0.0.1;user=phone SIP/2.0' -> '+442079460000'."""
    first = message.split("\r\n", 1)[0].split("\n", 1)[0]
    parts = first.split()
    if len(parts) < 3 or not parts[2].startswith("SIP/"):
        return ""
    return uri_user(parts[1])


def uri_user(uri: str) -> str:
    """The user part of a SIP or tel URI (in angle brackets or bare), '' when it has none."""
    inner = uri.split("<", 1)[1].split(">", 1)[0] if "<" in uri else uri.strip()
    scheme, _, rest = inner.partition(":")
    if scheme.lower() not in ("sip", "sips", "tel") or not rest:
        return ""
    if scheme.lower() == "tel":
        return rest.split(";", 1)[0]
    if "@" not in rest:
        return ""
    return rest.split("@", 1)[0].split(";", 1)[0]


def header(message: str, name: str) -> str:
    """The first value of header `name` (case-insensitive, compact forms of To/From too)."""
    want = name.lower()
    head = re.split(r"\r?\n\r?\n", message, maxsplit=1)[0]
    for line in re.split(r"\r?\n", head)[1:]:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if _COMPACT.get(key, key) == want:
            return value.strip()
    return ""
