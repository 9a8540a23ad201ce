"""Carrier trunks, described under `trunks:` in the numbers file.

A trunk is the carrier (or the company's SBC/PBX) that delivers the hotline's numbers and
carries its calls out. Inbound, only its addresses (or its digest credentials) may call: any
other INVITE gets 403. Outbound (callbacks, transfers to a `tel:` queue), a number leaves
through the trunk whose prefix it matches longest, with the admin's caller ID, answering the
carrier's 401/407 with the account it gave. Each trunk has its own limits (calls at once, new
calls a second): a call over them gets 503, the others go on. Kamailio does all of it
(`ivr.telephony.trunk_config` writes its part of the config); this module reads and checks.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ivr.dialplan.checker import Checker
from ivr.dialplan.spec_types import F, Spec

TRUNK = Spec(
    {
        "addresses": F(
            "list:text",
            "Where the carrier calls from: an IP address, IP:port or a network (203.0.113.0/28)."
            " INVITEs from anywhere else are refused with 403.",
        ),
        "inbound_username": F(
            "text", "A user name the carrier proves with digest (instead of or besides addresses)."
        ),
        "inbound_password": F("text", "The password of inbound_username."),
        "proxy": F(
            "text",
            "Where calls out through this trunk go: sip:HOST[:PORT][;transport=tcp|tls].",
        ),
        "prefixes": F(
            "list:text",
            'Numbers this trunk carries out, as E.164 prefixes ("+44", "+" for all); the longest wins.',
        ),
        "username": F("text", "The account the carrier gave: answers its 401/407 challenges."),
        "password": F("text", "The account's password."),
        "register": F(
            "bool",
            "Register the account at the proxy (kept fresh by Kamailio), for carriers that send calls"
            " to a registered contact; the number called is then read from the To header.",
        ),
        "caller_id": F("text", "The number callers see on calls out (From and P-Asserted-Identity)."),
        "privacy": F("bool", "Withhold the caller ID from the called party (Privacy: id)."),
        "calls": F("int", "Calls at once through this trunk, in and out; one more gets 503.", minimum=1),
        "per_second": F("int", "New calls a second through this trunk; one more gets 503.", minimum=1),
    },
    doc="A carrier trunk: who may call in, and how calls go out.",
)

_PROXY = re.compile(
    r"sips?:(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(:(?P<port>\d+))?(;transport=(?P<tr>udp|tcp|tls))?"
)
_PREFIX = re.compile(r"\+\d*")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Address:
    ip: str
    mask: int
    port: int = 0


@dataclass(frozen=True)
class Trunk:
    name: str
    group: int
    """Its group in Kamailio's permissions (1, 2, ... in the file's order)."""
    addresses: tuple[Address, ...] = ()
    inbound_username: str = ""
    inbound_password: str = ""
    proxy: str = ""
    prefixes: tuple[str, ...] = ()
    username: str = ""
    password: str = ""
    caller_id: str = ""
    privacy: bool = False
    calls: int = 0
    per_second: int = 0
    register: bool = False


def parse_address(text: str) -> Address | None:
    """'203.0.113.10', '203.0.113.10:5060', '203.0.113.0/28', '[2001:db8::1]:5060' -> Address."""
    t = text.strip()
    port = 0
    m = re.fullmatch(r"\[(?P<ip>[^\]]+)\](:(?P<port>\d+))?", t) or re.fullmatch(
        r"(?P<ip>[0-9.]+(/\d+)?)(:(?P<port>\d+))?", t
    )
    if m is None:
        m = re.fullmatch(r"(?P<ip>[0-9A-Fa-f:]+(/\d+)?)", t)
        if m is None:
            return None
    ip = m.group("ip")
    if m.groupdict().get("port"):
        port = int(m.group("port"))
        if not 0 < port < 65536:
            return None
    try:
        net = ipaddress.ip_network(ip, strict=False)
    except ValueError:
        return None
    return Address(str(net.network_address), net.prefixlen, port)


def read_trunks(c: Checker, raw: Any, normalize_number: Any) -> dict[str, Trunk]:
    """The `trunks:` section checked into Trunks; problems go to `c` with where they are."""
    trunks: dict[str, Trunk] = {}
    prefixes_seen: dict[str, str] = {}
    addresses_seen: dict[Address, str] = {}
    for i, (name, t) in enumerate((raw or {}).items(), start=1):
        where: tuple[Any, ...] = ("trunks", name)
        if not _NAME.fullmatch(str(name)):
            c.err(where, "E_NAME", f"trunks.{name}: a trunk's name is a word (letters, digits, - and _)")
            continue
        if not isinstance(t, dict):
            continue
        addresses = []
        for j, a in enumerate(t.get("addresses") or []):
            parsed = parse_address(str(a))
            if parsed is None:
                c.err(where + ("addresses", j), "E_ADDRESS",
                      f"trunks.{name}: {a!r} is not an IP address, IP:port or network")  # fmt: skip
            elif parsed in addresses_seen:  # Kamailio would give its calls to the first trunk
                c.err(where + ("addresses", j), "E_DUPLICATE",
                      f"trunks.{name}: {a!r} is trunk {addresses_seen[parsed]}'s already")  # fmt: skip
            else:
                addresses.append(parsed)
                addresses_seen[parsed] = str(name)
        if bool(t.get("inbound_username")) != bool(t.get("inbound_password")):
            c.err(where, "E_AUTH", f"trunks.{name}: inbound_username and inbound_password go together")
        if bool(t.get("username")) != bool(t.get("password")):
            c.err(where, "E_AUTH", f"trunks.{name}: username and password go together")
        proxy = str(t.get("proxy") or "")
        if proxy and not _PROXY.fullmatch(proxy):
            c.err(where + ("proxy",), "E_PROXY",
                  f"trunks.{name}: proxy {proxy!r} is not sip:HOST[:PORT][;transport=udp|tcp|tls]")  # fmt: skip
        prefixes = [str(p).replace(" ", "") for p in t.get("prefixes") or []]
        for j, p in enumerate(prefixes):
            if not _PREFIX.fullmatch(p):
                c.err(where + ("prefixes", j), "E_PREFIX",
                      f"trunks.{name}: prefix {p!r} is not '+' and digits (E.164)")  # fmt: skip
            elif p in prefixes_seen:
                c.err(where + ("prefixes", j), "E_DUPLICATE",
                      f"trunks.{name}: prefix {p} is trunk {prefixes_seen[p]}'s already")  # fmt: skip
            else:
                prefixes_seen[p] = str(name)
        if t.get("register") and not (proxy and t.get("username")):
            c.err(
                where, "E_AUTH", f"trunks.{name}: register needs a proxy and the account (username, password)"
            )
        if prefixes and not proxy:
            c.err(where, "E_PROXY", f"trunks.{name}: prefixes need a proxy to send the calls to")
        if not addresses and not t.get("inbound_username") and not proxy:
            c.err(where, "E_TRUNK", f"trunks.{name}: neither addresses, inbound credentials nor a proxy")
        caller_id = ""
        if t.get("caller_id"):
            caller_id = normalize_number(str(t["caller_id"]))
            if not caller_id.startswith("+"):
                c.err(where + ("caller_id",), "E_NUMBER",
                      f"trunks.{name}: caller_id {t['caller_id']!r} is not a phone number")  # fmt: skip
        trunks[str(name)] = Trunk(
            str(name), i, tuple(addresses), str(t.get("inbound_username") or ""),
            str(t.get("inbound_password") or ""), proxy, tuple(prefixes), str(t.get("username") or ""),
            str(t.get("password") or ""), caller_id, bool(t.get("privacy")), int(t.get("calls") or 0),
            int(t.get("per_second") or 0), bool(t.get("register")),
        )  # fmt: skip
    return trunks


def trunk_for(trunks: dict[str, Trunk], number: str) -> Trunk | None:
    """The trunk an E.164 number leaves through: the longest prefix that matches it."""
    best: tuple[int, Trunk] | None = None
    for t in trunks.values():
        for p in t.prefixes:
            if number.startswith(p) and (best is None or len(p) > best[0]):
                best = (len(p), t)
    return best[1] if best else None


def address_list(trunks: dict[str, Trunk]) -> str:
    """Kamailio permissions' address file: group, address, mask, port, tag (the trunk's name)."""
    lines = ["# written by ivr serve from the numbers file's trunks: (do not edit)"]
    for t in trunks.values():
        lines += [f"{t.group} {a.ip} {a.mask} {a.port} {t.name}" for a in t.addresses]
    return "\n".join(lines) + "\n"
