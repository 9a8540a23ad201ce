"""RTP captures for sipp's play_pcap_audio: speech as G.711 mu-law, with RFC 2833 digits in
the same stream (continuous sequence numbers and one SSRC, as a phone sends them)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PT_PCMU = 0
PT_EVENT = 101
DTMF_CODES = {**{str(i): i for i in range(10)}, "*": 10, "#": 11}


def mulaw_encode(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to G.711 mu-law bytes."""
    x = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    pcm = (x * 32767).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    mag = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _packet(
    seq: int,
    ts: int,
    pt: int,
    payload: bytes,
    marker: bool = False,
    src: tuple[str, int] = ("127.0.0.1", 6000),
    dst: tuple[str, int] = ("127.0.0.1", 6002),
) -> bytes:
    rtp = (
        struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 0x1C0FFEE)
        + payload
    )
    udp_len = 8 + len(rtp)
    udp = struct.pack("!HHHH", src[1], dst[1], udp_len, 0) + rtp
    ip_src = bytes(int(p) for p in src[0].split("."))
    ip_dst = bytes(int(p) for p in dst[0].split("."))
    total = 20 + len(udp)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0, ip_src, ip_dst)
    checksum = 0
    for i in range(0, 20, 2):
        checksum += (header[i] << 8) + header[i + 1]
    checksum = (checksum & 0xFFFF) + (checksum >> 16)
    checksum = ~checksum & 0xFFFF
    header = header[:10] + struct.pack("!H", checksum) + header[12:]
    eth = b"\x00" * 12 + b"\x08\x00"
    return eth + header + udp


def write_rtp_pcap(
    path: str | Path, samples_8k: np.ndarray, digits: Sequence[tuple[float, str]] = (), digit_ms: int = 100
) -> float:
    """Write speech (8 kHz float) with digits (seconds, key) as an RTP pcap; returns seconds."""
    payload = mulaw_encode(samples_8k)
    n_frames = (len(payload) + 159) // 160
    payload += b"\xff" * (n_frames * 160 - len(payload))  # mu-law silence
    events = {round(t * 50): d for t, d in digits}
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    seq = 1000
    frame = 0
    t_us = 0

    def add(pkt: bytes) -> None:
        nonlocal t_us
        out.extend(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(pkt), len(pkt)))
        out.extend(pkt)

    while frame < n_frames:
        if frame in events:
            code = DTMF_CODES[events[frame]]
            start_ts = frame * 160
            steps = max(1, digit_ms // 20)
            for k in range(steps + 3):  # the tone, then the end packet three times
                end = k >= steps
                duration = min(k + 1, steps) * 160
                body = struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)
                add(_packet(seq, start_ts, PT_EVENT, body, marker=(k == 0)))
                seq += 1
                t_us += 20000
            frame += steps + 3
            continue
        add(_packet(seq, frame * 160, PT_PCMU, payload[frame * 160 : (frame + 1) * 160], marker=(frame == 0)))
        seq += 1
        frame += 1
        t_us += 20000
    Path(path).write_bytes(bytes(out))
    return t_us / 1e6
