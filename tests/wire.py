"""What is on the loopback wire: a tshark capture started and stopped around a call, its RTP
packets (plain or SRTP: the header is in clear either way), and which process owns each UDP
port (`ss`), so a test or a benchmark can tell the caller's leg from a browser's."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Rtp:
    t: float
    src: int
    dst: int
    pt: int
    seq: int
    ts: int
    ssrc: int
    payload: bytes
    """The audio; for SRTP its encrypted bytes."""
    srtp_tag: bytes = b""
    """SRTP's authentication tag: tshark decodes a stream as SRTP when the SDP that set it up
    (seen in clear on a UDP leg) offered keys (a=crypto)."""


class Capture:
    """tshark on `lo` writing `pcap` from __enter__ (returns once tshark is capturing) to
    __exit__ (SIGINT, so the file is complete)."""

    def __init__(self, pcap: Path, bpf: str = "udp") -> None:
        self.pcap, self.bpf = pcap, bpf
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Capture:
        exe = shutil.which("tshark")
        assert exe, "tshark is installed by `make test` (Debian tshark)"
        self.proc = subprocess.Popen(
            [exe, "-i", "lo", "-f", self.bpf, "-w", str(self.pcap)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                lines.append(line)
                if "Capturing on" in line:
                    started.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        started.wait(30)
        assert self.proc.poll() is None, "tshark did not start: " + "".join(lines)[-500:]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def rtp_packets(pcap: Path, ports: set[int] | None = None) -> list[Rtp]:
    """Every RTP (or SRTP) packet in `pcap` (tshark's RTP heuristic; RTCP and STUN/DTLS left
    out), optionally only those from or to `ports`."""
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp && !rtcp", "-T", "fields",
         "-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "rtp.p_type",
         "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "rtp.ssrc", "-e", "rtp.payload",
         "-e", "srtp.enc_payload", "-e", "srtp.auth_tag"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    packets = []
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 8 or not f[3]:
            continue
        src, dst = int(f[1]), int(f[2])
        if ports is not None and src not in ports and dst not in ports:
            continue
        f += [""] * (10 - len(f))
        payload = bytes.fromhex((f[7] or f[8]).replace(":", ""))
        tag = bytes.fromhex(f[9].replace(":", ""))
        packets.append(
            Rtp(float(f[0]), src, dst, int(f[3]), int(f[4]), int(f[5]), int(f[6], 16), payload, tag)
        )
    return packets


def udp_owners() -> dict[int, str]:
    """UDP port on 127.0.0.1 -> the name of the process bound to it (ours only)."""
    out = subprocess.run(["ss", "-uanpH"], capture_output=True, text=True, check=True).stdout
    owners = {}
    for line in out.splitlines():
        m = re.search(r"127\.0\.0\.1:(\d+)\s.*users:\(\(\"([^\"]+)\"", line)
        if m:
            owners[int(m.group(1))] = m.group(2)
    return owners


# G.711 mu-law -> linear, as numpy (audioop leaves the standard library in 3.13)
_U = np.arange(256, dtype=np.uint8) ^ 0xFF
_MAG = (((_U & 0x0F).astype(np.int32) << 3) + 0x84) << ((_U & 0x70) >> 4).astype(np.int32)
ULAW = np.where(_U & 0x80, 0x84 - _MAG, _MAG - 0x84).astype(np.float32) / 32768.0


def pcmu(payload: bytes) -> np.ndarray:
    return ULAW[np.frombuffer(payload, np.uint8)]
