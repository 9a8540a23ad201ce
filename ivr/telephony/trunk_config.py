"""Kamailio's part for carrier trunks (`ivr.telephony.trunks`): who may call in, the route out
by prefix, the caller ID, the answer to the carrier's digest challenge, and each trunk's limits.

Inbound, a new INVITE that is not from a worker must come from a trunk's address (the
permissions module's address file, reloaded live by `permissions.addressReload`) or prove a
trunk's inbound credentials (a 407 challenge first); anything else gets 403. Outbound, a
worker's INVITE to an E.164 number ("+4477...") leaves through the trunk with the longest
prefix matching it; no trunk: 404. A trunk's limits (calls at once, counted by the dialog
module's profiles, in and out; new calls a second, a pipelimit pipe) give 503 to the call over
them. Credentials, proxies and limits are written into the config: they change at restart.
"""

from __future__ import annotations

from pathlib import Path

from ivr.telephony.trunks import Trunk

MODULES = """
loadmodule "permissions.so"
loadmodule "uac.so"
loadmodule "dialog.so"
{auth_module}modparam("permissions", "address_file", "{address_file}")
modparam("permissions", "load_backends", 1)
modparam("permissions", "peer_tag_avp", "$avp(trunk)")
modparam("permissions", "reload_delta", 1)
modparam("uac", "auth_username_avp", "$avp(auser)")
modparam("uac", "auth_password_avp", "$avp(apass)")
modparam("uac", "auth_realm_avp", "$avp(arealm)")
modparam("dialog", "profiles_with_value", "trunk")
"""

INBOUND = """    if (!ds_is_from_list("1")) {{
        route(TRUNK_IN);
    }}
"""

OUTBOUND = """    if ($rU =~ "^\\+[0-9]+$" && ds_is_from_list("1")) {{
        route(TRUNK_OUT);
        exit;
    }}
"""

FAILURE = """
failure_route[TRUNK_AUTH] {{
    if (t_is_canceled()) exit;
    if (t_check_status("401|407") && $avp(auser) != $null && !isflagset(7)) {{
        setflag(7);  # one answer to a challenge: wrong credentials end the call, no loop
        if (uac_auth()) {{
            t_on_failure("TRUNK_AUTH");
            t_relay();
        }}
        exit;
    }}
}}
"""


REGISTRATION = """loadmodule "db_text.so"
modparam("uac", "reg_db_url", "text://{db}")
modparam("uac", "reg_contact_addr", "{contact}")
modparam("uac", "reg_timer_interval", 10)
modparam("uac", "reg_retry_interval", 30)
modparam("uac", "reg_keep_callid", 1)
"""
REGISTER_EXPIRES_S = 600
_UACREG_HEAD = (
    "id(int,auto) l_uuid(string) l_username(string) l_domain(string) r_username(string) r_domain(string) "
    "realm(string,null) auth_username(string) auth_password(string) auth_ha1(string,null) auth_proxy(string) "
    "expires(int) flags(int) reg_delay(int) contact_addr(string,null) socket(string,null)\n"
)


def write_registrations(run_dir: Path, trunks: dict[str, Trunk], host: str) -> Path:
    """Kamailio's uacreg table (db_text, in the run folder): one row per trunk that registers
    (an empty field is null: the realm the carrier's challenge names is taken)."""
    db = run_dir / "trunkdb"
    db.mkdir(parents=True, exist_ok=True)
    (db / "version").write_text("id(int,auto) table_name(string) table_version(int)\n0:uacreg:5\n")
    rows = []
    for i, t in enumerate(t for t in trunks.values() if t.register):
        proxy_host = t.proxy.split(":", 1)[1].split(";", 1)[0].rsplit(":", 1)[0]
        cells = [str(i), t.name, t.name, host, t.username, proxy_host, "", t.username, t.password, "",
                 t.proxy, str(REGISTER_EXPIRES_S), "0", "0", "", ""]  # fmt: skip
        rows.append(":".join(c.replace("\\", "\\\\").replace(":", "\\:") for c in cells))
    (db / "uacreg").write_text(_UACREG_HEAD + "".join(r + "\n" for r in rows), encoding="utf-8")
    (db / "uacreg").chmod(0o600)  # the carrier's password
    return db


def parts(
    trunks: dict[str, Trunk], run_dir: Path, realm: str, auth_loaded: bool, contact: str = ""
) -> dict[str, str]:
    """Config fragments: trunk_modules, trunk_inbound, trunk_outbound, trunk_routes ('' each
    when the numbers file names no trunk: then every caller may call, as in a lab)."""
    if not trunks:
        return {"trunk_modules": "", "trunk_inbound": "", "trunk_outbound": "", "trunk_routes": ""}
    address_file = run_dir / "trunks.list"
    return {
        "trunk_modules": MODULES.format(
            auth_module="" if auth_loaded else 'loadmodule "auth.so"\n', address_file=address_file
        )
        + (
            REGISTRATION.format(db=run_dir / "trunkdb", contact=contact)
            if any(t.register for t in trunks.values())
            else ""
        ),
        "trunk_inbound": INBOUND.format(),
        "trunk_outbound": OUTBOUND.format(),
        "trunk_routes": _inbound_route(trunks, realm, pike=auth_loaded)
        + _outbound_route(trunks)
        + "".join(_limits_route(t) + _out_route(t, realm) for t in trunks.values())
        + FAILURE.format(),
    }


def _inbound_route(trunks: dict[str, Trunk], realm: str, pike: bool = False) -> str:
    """`pike`: the agents' part loaded pike: a source that floods is dropped before any answer."""
    digest = [t for t in trunks.values() if t.inbound_username]
    lines = [
        "\nroute[TRUNK_IN] {",
        "    $var(trunk) = allow_source_address_group();",
    ]
    if pike:
        lines += [
            "    if ($var(trunk) < 1 && !pike_check_req()) {",
            '        xlog("L_WARN", "INVITE flood from $si dropped\\n");',
            "        exit;",
            "    }",
        ]
    if digest:
        lines += ['    if ($var(trunk) < 1 && is_present_hf("Proxy-Authorization")) {']
        for t in digest:
            lines += [  # the password through a variable: a '$' in it is not read as one
                f'        $var(password) = "{_q(t.inbound_password)}";',
                f'        if ($au == "{_q(t.inbound_username)}" && '
                f'pv_proxy_authenticate("{realm}", "$var(password)", "0")) {{',
                f'            $var(trunk) = {t.group}; $avp(trunk) = "{t.name}";',
                "        }",
            ]
        lines += [
            "        if ($var(trunk) < 1) {",
            '            xlog("L_WARN", "INVITE to $rU from $si:$sp refused: wrong trunk credentials for $au\\n");',
            '            sl_send_reply("403", "Forbidden");',
            "            exit;",
            "        }",
            "    }",
            '    if ($var(trunk) < 1 && !is_present_hf("Proxy-Authorization")) {',
            f'        proxy_challenge("{realm}", "0");',
            "        exit;",
            "    }",
        ]
    lines += [
        "    if ($var(trunk) < 1) {",
        '        xlog("L_WARN", "INVITE to $rU from $si:$sp refused: not a trunk\\n");',
        '        sl_send_reply("403", "Forbidden");',
        "        exit;",
        "    }",
    ]
    for t in trunks.values():
        lines += [f"    if ($var(trunk) == {t.group}) route(LIMITS_{t.group});"]
        if t.register:  # a call to the contact it registered: the number called is in To
            lines += [f'    if ($var(trunk) == {t.group} && $rU == "{t.name}") $rU = $tU;']
    lines += ["    consume_credentials();" if digest else "", "}\n"]
    return "\n".join(line for line in lines if line)


def _outbound_route(trunks: dict[str, Trunk]) -> str:
    by_length = sorted(((p, t) for t in trunks.values() for p in t.prefixes), key=lambda pt: -len(pt[0]))
    lines = ["\nroute[TRUNK_OUT] {"]
    for prefix, t in by_length:
        digits = prefix[1:]
        lines += [f'    if ($rU =~ "^\\\\+{digits}") {{ route(OUT_{t.group}); exit; }}']
    lines += [
        '    xlog("L_WARN", "no trunk carries $rU: 404\\n");',
        '    sl_send_reply("404", "No Trunk For This Number");',
        "    exit;",
        "}\n",
    ]
    return "\n".join(lines)


def _limits_route(t: Trunk) -> str:
    lines = [f"\nroute[LIMITS_{t.group}] {{", f'    $avp(trunk) = "{t.name}";']
    if t.per_second:
        lines += [
            f'    if (!pl_check("trunk-{t.name}", "TAILDROP", "{t.per_second}")) {{',
            f'        xlog("L_WARN", "trunk {t.name}: over {t.per_second} calls a second, $rU refused (503)\\n");',
            '        append_to_reply("Retry-After: 1\\r\\n");',
            '        sl_send_reply("503", "Trunk Busy");',
            "        exit;",
            "    }",
        ]
    lines += ["    dlg_manage();"]
    if t.calls:
        lines += [
            f'    get_profile_size("trunk", "{t.name}", "$var(calls)");',
            f"    if ($var(calls) >= {t.calls}) {{",
            f'        xlog("L_WARN", "trunk {t.name}: {t.calls} calls already, $rU refused (503)\\n");',
            '        append_to_reply("Retry-After: 5\\r\\n");',
            '        sl_send_reply("503", "Trunk Busy");',
            "        exit;",
            "    }",
        ]
    lines += [f'    set_dlg_profile("trunk", "{t.name}");', "}\n"]
    return "\n".join(lines)


def _out_route(t: Trunk, realm: str) -> str:
    if not t.proxy:
        return ""
    scheme, rest = t.proxy.split(":", 1)
    lines = [f"\nroute[OUT_{t.group}] {{", f"    route(LIMITS_{t.group});"]
    lines += [f'    $ru = "{scheme}:" + $rU + "@{rest}";']
    if t.privacy:  # RFC 3325: anonymous From, the number only in PAI for the carrier
        lines += ['    uac_replace_from("Anonymous", "sip:anonymous@anonymous.invalid");']
        lines += ['    append_hf("Privacy: id\\r\\n");']
    elif t.caller_id:
        lines += [f'    uac_replace_from("sip:{t.caller_id}@{realm}");']
    if t.caller_id:
        lines += [
            '    remove_hf("P-Asserted-Identity");',
            f'    append_hf("P-Asserted-Identity: <sip:{t.caller_id}@{realm}>\\r\\n");',
        ]
    if t.username:
        lines += [f'    $avp(auser) = "{_q(t.username)}";', f'    $avp(apass) = "{_q(t.password)}";']
    lines += ['    t_on_failure("TRUNK_AUTH");', "    if (!t_relay()) sl_reply_error();", "    exit;", "}\n"]
    return "\n".join(lines)


def _q(text: str) -> str:
    """A value inside a double-quoted Kamailio string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def write_address_list(run_dir: Path, text: str) -> Path:
    path = run_dir / "trunks.list"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
