"""rtpengine (Debian `rtpengine-daemon`, userspace: no kernel module) between a browser's media
(ICE, DTLS-SRTP, rtcp-mux, what every WebRTC page speaks) and a worker's plain RTP (the pjsua2
wheel has no DTLS-SRTP). Kamailio asks it to convert only on the legs to and from a WebSocket
client; the worker stays in the media path, so recording, transcripts, the radar and monitoring
see a browser's call as any other. `ivr serve` starts it, restarts it and stops it with
Kamailio."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

PORTS = 200
"""Media ports rtpengine may use (two a call leg with rtcp-mux: 50 calls to browsers)."""

# worker -> browser: the worker's RTP offer becomes a browser's (ICE, DTLS-SRTP, rtcp-mux, a=mid)
TO_BROWSER = (
    "trust-address replace-origin replace-session-connection ICE=force DTLS=passive "
    "UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid SDES-off"
)
# ... and the browser's answer back to plain RTP for the worker
FROM_BROWSER = "trust-address replace-origin replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux"
# a browser's own offer in the call (a re-INVITE: hold, take back) to the worker's plain RTP,
# and the worker's answer back to the browser's DTLS-SRTP
FROM_BROWSER_OFFER = (
    "trust-address replace-origin replace-session-connection ICE=remove DTLS=off SDES-off "
    "RTP/AVP rtcp-mux-demux"
)
TO_BROWSER_ANSWER = (
    "trust-address replace-origin replace-session-connection ICE=force UDP/TLS/RTP/SAVPF rtcp-mux-accept"
)


def binary() -> str | None:
    """rtpengine's path, or None when it is not installed."""
    exe = shutil.which("rtpengine") or "/usr/bin/rtpengine"
    return exe if Path(exe).exists() else None


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def command(exe: str, host: str, ng_port: int, first_port: int) -> list[str]:
    return [
        exe,
        "--config-file=none",
        f"--interface={host}",
        f"--listen-ng={host}:{ng_port}",
        f"--port-min={first_port}",
        f"--port-max={first_port + PORTS - 1}",
        "--table=-1",  # userspace forwarding: no kernel module
        "--foreground",
        "--log-stderr",
        "--log-level=5",
        "--delete-delay=0",
    ]


def answering(host: str, ng_port: int, timeout_s: float = 0.5) -> bool:
    """True when rtpengine answers a ping on its control port (the ng protocol: a cookie, then
    bencode)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(b"ivr1 d7:command4:pinge", (host, ng_port))
            reply = s.recv(256)
        except OSError:
            return False
    return reply.startswith(b"ivr1 ") and b"pong" in reply


def start(cmd: list[str], log: Path, preexec_fn: Any = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        stdout=open(log, "a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec_fn,
    )
