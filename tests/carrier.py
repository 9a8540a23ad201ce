"""A carrier for the tests: a second Kamailio standing for the operator's network. Calls to
it are challenged with 401 (digest, its own realm and password), then relayed to the phone
that stands for the called customer; every INVITE it takes is logged with its request URI,
From, P-Asserted-Identity, Privacy and the user it authenticated (`invites()`)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ivr.telephony.kamailio import MODULES_DIR, kamailio_binary
from tests.sip_helpers import free_port, wait_until

CONFIG = r"""#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
{tls_listen}mpath="{modules}"
{tls_module}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:{ctl}")

request_route {{
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) t_relay(); exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) t_relay(); exit; }}
    if (is_method("REGISTER")) {{  # a customer's trunk registering its contact
        if (!is_present_hf("Authorization")) {{ www_challenge("{realm}", "0"); exit; }}
        if ($au != "{user}" || !pv_www_authenticate("{realm}", "{password}", "0")) {{
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        xlog("L_WARN", "CARRIER REGISTER user=$au contact=$ct expires=$hdr(Expires)\n");
        append_to_reply("Contact: $ct;expires=$hdr(Expires)\r\n");
        sl_send_reply("200", "OK");
        exit;
    }}
    if (!is_method("INVITE")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    if (!is_present_hf("Authorization")) {{
        xlog("L_WARN", "CARRIER challenge $ru\n");
        www_challenge("{realm}", "0");
        exit;
    }}
    if ($au != "{user}" || !pv_www_authenticate("{realm}", "{password}", "0")) {{
        xlog("L_WARN", "CARRIER refused $ru user=$au\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    xlog("L_WARN", "CARRIER INVITE ru=$ru from=$fu pai=$hdr(P-Asserted-Identity) privacy=$hdr(Privacy) user=$au proto=$pr\n");
    consume_credentials();
    record_route();
    $du = "sip:127.0.0.1:{callee}";
    t_relay();
}}
"""


class Carrier:
    def __init__(self, tmp: Path, callee_port: int, user: str = "acme", password: str = "s3cret",
                 port: int = 0, tls: tuple[Path, Path] | None = None) -> None:  # fmt: skip
        """`tls`: (certificate, key): it takes calls over TLS on `port` + 1 too."""
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        tls_listen = tls_module = ""
        if tls:
            (tmp / "tls.cfg").write_text(
                f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                f"certificate = {tls[0]}\nprivate_key = {tls[1]}\n"
            )
            tls_listen = f"enable_tls=yes\nlisten=tls:127.0.0.1:{self.port + 1}\n"
            tls_module = f'loadmodule "tls.so"\nmodparam("tls", "config", "{tmp / "tls.cfg"}")\n'
        self.tls_port = self.port + 1 if tls else 0
        self.log = tmp / "carrier.log"
        cfg = tmp / "carrier.cfg"
        cfg.write_text(CONFIG.format(port=self.port, modules=MODULES_DIR, ctl=tmp / "carrier.ctl",
                                     tls_listen=tls_listen, tls_module=tls_module,
                                     realm="carrier.example", user=user, password=password,
                                     callee=callee_port))  # fmt: skip
        self.proc = subprocess.Popen(
            [kamailio_binary(), "-DD", "-E", "-f", str(cfg), "-m", "32", "-M", "4", "-Y", str(tmp),
             "-P", str(tmp / "carrier.pid")],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_until(lambda: (tmp / "carrier.ctl").exists() or self.proc.poll() is not None, 15, "the carrier")
        assert self.proc.poll() is None, self.log.read_text()[-2000:]

    def _logged(self, what: str) -> list[dict[str, str]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if f"CARRIER {what} " in line:
                out.append(dict(re.findall(r"(\w+)=(\S*)", line.split(f"CARRIER {what} ", 1)[1])))
        return out

    def invites(self) -> list[dict[str, str]]:
        """The INVITEs it took (past its challenge), each as its logged fields."""
        return self._logged("INVITE")

    def registrations(self) -> list[dict[str, str]]:
        """The REGISTERs it accepted (past its challenge), each as its logged fields."""
        return self._logged("REGISTER")

    def challenges(self) -> int:
        return self.log.read_text(errors="replace").count("CARRIER challenge ")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
