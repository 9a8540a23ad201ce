"""Agents' and callers' phones for the tests: baresip, configured per test, its console
driven over its control port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

from ivr.app.supervisor import port_free
from tests.sip_helpers import free_port, wait_until


def _baresip_conf(
    conf: Path, port: int, wav: Path, account: str, host: str = "127.0.0.1", extra: str = ""
) -> None:
    """A headless baresip: streams `wav`, records what it hears into `conf` (sndfile). It plays
    to aubridge's device "nowhere" (a timed sink): ALSA's null device takes audio as fast as it
    is written, and the player spun a core's half per phone (9.7 CPU-s against 0.23 for one
    12 s call between two phones, the same recordings)."""
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "config").write_text(
        "poll_method epoll\n"
        f"sip_listen {host}:{port}\n"
        "audio_player aubridge,nowhere\n"
        f"audio_source aufile,{wav}\n"
        "audio_alert aubridge,nowhere\n"
        "audio_srate 8000\naudio_channels 1\n"
        "module_path /usr/lib/baresip/modules\n"
        "module g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule sndfile.so\n"
        "module_app account.so\nmodule_app menu.so\n"
        f"sndfile_path {conf}\n" + extra
    )
    (conf / "accounts").write_text(account + "\n")


_HANDED: set[int] = set()
_HANDED_LOCK = threading.Lock()


def sip_port() -> int:
    """A port for a baresip: free for UDP and TCP, its TLS port (the next one) free too, and
    not handed to another baresip of this process (twenty callers start at once in a bench)."""
    with _HANDED_LOCK:
        while True:
            port = free_port()
            if port in _HANDED or port + 1 in _HANDED or port - 1 in _HANDED:
                continue
            if port_free("127.0.0.1", port) and port_free("127.0.0.1", port + 1):
                _HANDED.add(port)
                return port


def baresip_call(tmp: Path, target: str, caller_wav: Path, seconds: int, account_params: str = "") -> Path:
    """baresip dials `target`, streams `caller_wav`, records what it hears; returns that WAV.
    The caller hangs up after `seconds`; a call the far end ends sooner ends baresip then (it
    would otherwise sit out the rest of `seconds` with no call). `account_params`: more of
    the account's parameters (";mediaenc=srtp-mand": SRTP only)."""
    assert shutil.which("baresip"), "baresip is installed by `make test`"
    conf = tmp / "baresip"
    port = sip_port()
    account = f"<sip:+447700900002@127.0.0.1:{port}>;regint=0{account_params}"
    _baresip_conf(conf, port, caller_wav, account, extra="module srtp.so\n" if "mediaenc" in account else "")
    with open(conf / "baresip.log", "w") as log:
        proc = subprocess.Popen(
            ["baresip", "-f", str(conf), "-e", f"/dial {target}", "-t", str(seconds)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=conf,
        )
        try:
            wait_until(
                lambda: proc.poll() is not None or _ended(conf / "baresip.log"),
                seconds + 60,
                "baresip's call to end",
                interval_s=0.2,
            )
        finally:
            if proc.poll() is None:  # the call is over (its recording closed with it): no need to wait on
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    heard = sorted(conf.glob("dump-*-dec.wav"))
    assert heard, (conf / "baresip.log").read_text()[-2000:]
    return heard[-1]


def _ended(log: Path) -> bool:
    """baresip said each call it placed is over ("... terminated (duration: 12 secs)"; a REFER
    would have it place another)."""
    text = log.read_text(errors="replace")
    ended = text.count(" terminated (duration")
    return ended > 0 and ended >= text.count("call: connecting to")


class BaresipAgent:
    """An agent's phone: baresip answering automatically, speaking `wav` (it hangs up when the
    WAV ends) and recording what it hears."""

    def __init__(
        self,
        tmp: Path,
        wav: Path,
        seconds: int,
        register: tuple[str, str, int] | None = None,
        name: str = "agent",
        auto_answer: bool = True,
        host: str = "127.0.0.1",
        user: str = "agent",
        control: bool = False,
        tls_ca: Path | None = None,
        mediaenc: str = "",
        rtp_ports: tuple[int, int] | None = None,
        netns: str = "",
        registrar_host: str = "127.0.0.1",
        account_extra: str = "",
        config_extra: str = "",
        port: int = 0,
        also_users: tuple[str, ...] = (),
    ) -> None:
        """`register` = (user, password, registrar port): the phone signs in to Kamailio as
        sip:user@127.0.0.1 with a digest; else it only answers calls sent to its own port.
        `tls_ca`: it registers over TLS, trusting that certificate; `mediaenc`: "srtp" (SDES
        offered) or "srtp-mand" (SRTP only); `rtp_ports`: the range its audio uses."""
        assert shutil.which("baresip"), "baresip is installed by `make test`"
        self.conf = tmp / name
        self.port = port or sip_port()
        self.uri = f"sip:{user}@{host}:{self.port}"
        answer = ";answermode=auto" if auto_answer else ""  # else it rings and rings
        account = f"<{self.uri}>;regint=0{answer}"
        if register is not None:
            user, password, registrar = register
            self.uri = f"sip:{user}@{registrar_host}:{registrar}"
            transport = ";transport=tls" if tls_ca else ""
            account = f"<{self.uri}{transport}>;auth_pass={password};regint=60{answer}"
        account += account_extra
        for other in also_users:  # more accounts on the same port: calls to these users are answered too
            account += f"\n<sip:{other}@{host}:{self.port}>;regint=0{answer}"
        self.control_port = free_port() if control else 0
        extra = f"module cons.so\ncons_listen 127.0.0.1:{self.control_port}\n" if control else ""
        if tls_ca:
            extra += f"sip_cafile {tls_ca}\n"
        if mediaenc:
            account += f";mediaenc={mediaenc}"
            extra += "module srtp.so\n"
        if rtp_ports:
            extra += f"rtp_ports {rtp_ports[0]}-{rtp_ports[1]}\n"
        _baresip_conf(self.conf, self.port, wav, account, host, extra + config_extra)
        self.log = self.conf / "baresip.log"
        self.proc = subprocess.Popen(
            [
                *(["ip", "netns", "exec", netns] if netns else []),
                "baresip",
                "-f",
                str(self.conf),
                "-t",
                str(seconds),
            ],
            stdin=subprocess.DEVNULL,
            stdout=open(self.log, "w"),
            stderr=subprocess.STDOUT,
            cwd=self.conf,
        )
        wait_until(lambda: "baresip is ready" in self.log.read_text(errors="replace"), 30, "baresip agent")

    def send(self, command: str) -> None:
        """A command on the phone's control port (`control=True`), e.g. "/accept" picks up."""
        assert self.control_port, "made without control=True"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(f"{command}\n".encode(), ("127.0.0.1", self.control_port))

    def heard(self) -> Path:
        """What the agent heard (once its call has ended)."""
        wait_until(
            lambda: self.proc.poll() is not None or "terminated" in self.log.read_text(),
            120,
            "agent call end",
        )
        files = sorted(self.conf.glob("dump-*-dec.wav"))
        assert files, self.log.read_text()[-2000:]
        return files[-1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
