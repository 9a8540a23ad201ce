"""Agents whose phone is the browser: SIP over WebSocket in Kamailio, signed in with a short-lived
credential the API issues (Kamailio's `auth_ephemeral`: no password in the page and no second
user list).

The credential is the TURN REST API draft's scheme, which `auth_ephemeral` checks: the username
is "<expiry unix time>:<agent>", the password base64(HMAC-SHA1(secret, username)). The secret is
made at first start in the run directory (mode 0600) and read by the API and by Kamailio's
generated configuration; a page renews its credential while it is open and signed in, so a
signed-out agent's phone stops being able to register when the credential it holds expires.

Kamailio listens for WebSocket on `ws_port` (127.0.0.1 here; wss behind TLS elsewhere) and
keeps a WebSocket client reachable: its registration is saved with the connection it came on
(`fix_nated_register()`: a lookup sends to that), and the way SIP_NOTES.md measured,
`add_contact_alias()` on its other requests and its replies, `handle_ruri_alias()` in dialog.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ivr.telephony import rtpengine

SECRET_FILE = "softphone.secret"
CREDENTIAL_TTL_S = 600
"""How long an issued credential registers: the page renews it well before (every half)."""
MAX_EXPIRES_S = 300
"""The longest a browser's registration lasts before it must register again."""


def load_secret(run_dir: Path, create: bool = False) -> str | None:
    """The secret shared by the API and Kamailio; made (0600) when `create` and missing."""
    path = run_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip() or None
    if not create:
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value)
    path.with_suffix(".tmp").replace(path)
    return value


@dataclass(frozen=True)
class SipCredential:
    username: str
    password: str
    expires_at: int


def credential(
    secret: str, agent: str, ttl_s: int = CREDENTIAL_TTL_S, now: float | None = None
) -> SipCredential:
    """A credential that registers `agent` until now + `ttl_s`."""
    if not agent or ":" in agent or "@" in agent:
        raise ValueError(f"{agent!r} is not an agent's SIP name")
    expires = int(now if now is not None else time.time()) + ttl_s
    username = f"{expires}:{agent}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return SipCredential(username, base64.b64encode(digest).decode(), expires)


WS_LISTEN = "listen=tcp:{host}:{ws_port}\ntcp_accept_no_cl=yes\n"
WSS_LISTEN = "listen=tls:{host}:{ws_port}\ntcp_accept_no_cl=yes\n"
TLS_MODULE = """
loadmodule "tls.so"
modparam("tls", "config", "{tls_cfg}")
"""
TLS_CFG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {cert}
private_key = {key}
"""

WS_MODULES = """
loadmodule "xhttp.so"
loadmodule "websocket.so"
loadmodule "nathelper.so"
loadmodule "auth_ephemeral.so"
modparam("websocket", "keepalive_mechanism", 1)
modparam("websocket", "keepalive_timeout", 30)
modparam("auth_ephemeral", "secret", "{secret}")
modparam("nathelper", "natping_interval", 0)
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("usrloc", "handle_lost_tcp", 1)  # a closed tab's registration goes with its socket
"""

RTPENGINE_MODULES = """
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:{host}:{ng_port}")
"""

# a worker calls a browser: rtpengine turns its RTP into the browser's DTLS-SRTP, and back
RTPENGINE_INVITE = """if ($du =~ "transport=ws") {{
            rtpengine_offer("{to_browser}");
            t_on_reply("BROWSER_ANSWER");
        }}
        """

RTPENGINE_ROUTES = """
onreply_route[BROWSER_ANSWER] {{
    if (has_body("application/sdp")) {{
        rtpengine_answer("{from_browser}");
    }}
}}

onreply_route[WORKER_ANSWER] {{
    if (has_body("application/sdp")) {{
        rtpengine_answer("{to_browser_answer}");
    }}
}}
"""

RTPENGINE_BYE = """if (is_method("BYE")) {{
                rtpengine_delete();
            }}
            if (is_method("INVITE") && has_body("application/sdp") && nat_uac_test("64")) {{
                # a browser's re-INVITE (hold, take back): its SDP to the worker's RTP, and back
                rtpengine_offer("{from_browser_offer}");
                t_on_reply("WORKER_ANSWER");
            }} else if (is_method("INVITE") && has_body("application/sdp") && $du =~ "transport=ws") {{
                rtpengine_offer("{to_browser}");  # the worker's re-INVITE to a browser
                t_on_reply("BROWSER_ANSWER");
            }}
            """

WS_REQUEST = """    if (nat_uac_test("64")) {{  # a WebSocket client: reach it on its connection
        force_rport();
        if (!is_method("REGISTER") && !add_contact_alias()) {{
            sl_send_reply("400", "Bad Contact");
            exit;
        }}
    }}
"""

WS_REGISTER = """    if (is_method("REGISTER") && ($pr == "ws" || $pr == "wss")) {{
        if (!pike_check_req()) {{
            xlog("L_WARN", "REGISTER flood from $si dropped\\n");
            exit;
        }}
        # a browser registers with the credential the API issued to its signed-in agent
        if (!autheph_check("{realm}")) {{
            auth_challenge("{realm}", "0");
            exit;
        }}
        if (!autheph_check_to()) {{
            xlog("L_WARN", "browser REGISTER for $tU with another agent's credential from $si\\n");
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        consume_credentials();
        if ($hdr(Expires) != $null && $hdr(Expires) > {max_expires}) {{
            remove_hf("Expires");
            append_hf("Expires: {max_expires}\\r\\n");
        }}
        fix_nated_register();  # the location keeps the connection it came on (received)
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
"""

WS_ALIAS = "handle_ruri_alias(); "  # a browser's alias in the R-URI: to its connection

WS_ROUTES = """
event_route[xhttp:request] {{
    set_reply_close();
    set_reply_no_connect();
    if ($Rp != {ws_port}) {{
        xhttp_reply("403", "Forbidden", "", "");
        exit;
    }}
    if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {{
        if (ws_handle_handshake()) {{
            exit;
        }}
    }}
    xhttp_reply("404", "Not Found", "", "");
}}

onreply_route {{
    if (nat_uac_test("64")) {{  # a browser's answer: its Contact reachable on its connection
        add_contact_alias();
    }}
}}
"""


def config_parts(
    host: str, ws_port: int, secret: str | None, rtpengine_ng: int = 0, tls_cfg: str = ""
) -> dict[str, str]:
    """The WebSocket pieces of Kamailio's configuration (empty strings when off). Without
    rtpengine (`rtpengine_ng` 0) browsers register but a call to one fails (488 from its page).
    With `tls_cfg` (the tls module's file: `write_tls_cfg`, loaded by `kamailio`) the port
    speaks WSS."""
    keys = (
        "ws_listen",
        "ws_modules",
        "ws_request",
        "ws_register",
        "ws_routes",
        "ws_alias",
        "ws_media",
        "ws_bye",
    )
    if not ws_port or not secret:
        return dict.fromkeys(keys, "")
    parts = {
        "ws_listen": (WSS_LISTEN if tls_cfg else WS_LISTEN).format(host=host, ws_port=ws_port),
        "ws_modules": WS_MODULES.format(secret=secret),
        "ws_request": WS_REQUEST.format(),
        "ws_register": WS_REGISTER.format(realm=host, max_expires=MAX_EXPIRES_S),
        "ws_routes": WS_ROUTES.format(ws_port=ws_port),
        "ws_alias": WS_ALIAS,
        "ws_media": "",
        "ws_bye": "",
    }
    if rtpengine_ng:
        parts["ws_modules"] += RTPENGINE_MODULES.format(host=host, ng_port=rtpengine_ng)
        parts["ws_routes"] += RTPENGINE_ROUTES.format(
            from_browser=rtpengine.FROM_BROWSER, to_browser_answer=rtpengine.TO_BROWSER_ANSWER
        )
        parts["ws_media"] = RTPENGINE_INVITE.format(to_browser=rtpengine.TO_BROWSER)
        parts["ws_bye"] = RTPENGINE_BYE.format(
            from_browser_offer=rtpengine.FROM_BROWSER_OFFER, to_browser=rtpengine.TO_BROWSER
        )
    return parts


def write_tls_cfg(directory: Path, cert: Path, key: Path) -> Path:
    """The tls module's file: this server's certificate and key for the WSS and SIP TLS ports."""
    path = directory / "tls.cfg"
    path.write_text(TLS_CFG.format(cert=Path(cert).resolve(), key=Path(key).resolve()), encoding="utf-8")
    return path
