"""The speech service's wire format: one JSON header line, then a binary payload.

The shape of the wyoming protocol: `{"type": ..., "id": ..., "data": {...}, "payload": N}\n`
followed by N bytes (PCM audio, embeddings). The same frames go over a Unix domain socket
(the default, one machine) or TCP (another host).

Requests (client -> service) and their replies (same `id`):

| request | data | payload | replies |
|---|---|---|---|
| `transcribe` | `rate`, `prefix` (token ids), `priority` (`final`/`partial`), [`key`] | s16le mono PCM | `transcript` or `dropped` |
| `synthesize` | `text`, `rate`, [`key`] | - | `audio` chunks (one a sentence; `last` on the final one) or `dropped` |
| `embed` | `texts` | - | `embedding` (`rows`, `dim`; float32 payload) |
| `drop` | `key` | - | none: a queued job of that key is dropped (its request gets `dropped`) |
| `ping` | - | - | `pong` (`load`, `lanes`, `models`) |

Any request may be answered with `error` (`message`). Every reply carries `load`: the jobs
queued or running in the service when it was sent, so a client can hold back work that
would only be dropped (partial transcripts) while the service is busy.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

MAX_HEADER_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024  # 30 minutes of 16 kHz PCM: more is a broken peer


class ProtocolError(Exception):
    """A frame that is not of this protocol (the connection is closed, nothing else)."""


@dataclass(slots=True)
class Message:
    type: str
    id: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""

    def encode(self) -> bytes:
        header = {"type": self.type, "id": self.id, "data": self.data, "payload": len(self.payload)}
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + self.payload


def parse_header(line: bytes) -> tuple[Message, int]:
    """A header line -> the message (without its payload) and the payload's length."""
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"not a JSON header line ({e})") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("a header must be an object with a string 'type'")
    mid, data, size = header.get("id", 0), header.get("data", {}), header.get("payload", 0)
    if not isinstance(mid, int) or not isinstance(data, dict) or not isinstance(size, int):
        raise ProtocolError("'id' and 'payload' must be integers and 'data' an object")
    if not 0 <= size <= MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {size} bytes is out of range")
    return Message(header["type"], mid, data), size


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message, or None at a clean end of stream."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise ProtocolError("the stream ended inside a header") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"a header longer than {MAX_HEADER_BYTES} bytes") from None
    msg, size = parse_header(line)
    if size:
        try:
            msg.payload = await reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise ProtocolError("the stream ended inside a payload") from None
    return msg


def read_message_blocking(sock: socket.socket, buffer: bytearray) -> Message:
    """The next message from a blocking socket (`buffer` keeps bytes read past it)."""

    def fill() -> None:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the speech service closed the connection")
        buffer.extend(chunk)

    while b"\n" not in buffer:
        if len(buffer) > MAX_HEADER_BYTES:
            raise ProtocolError(f"a header longer than {MAX_HEADER_BYTES} bytes")
        fill()
    end = buffer.index(b"\n")
    msg, size = parse_header(bytes(buffer[:end]))
    del buffer[: end + 1]
    while len(buffer) < size:
        fill()
    msg.payload = bytes(buffer[:size])
    del buffer[:size]
    return msg


@dataclass(frozen=True, slots=True)
class Address:
    """Where the service listens: a Unix socket path, or host:port."""

    path: str = ""
    host: str = ""
    port: int = 0
    secret: str = field(default="", repr=False, compare=False)
    """The shared secret a TCP service asks for (`speech.service.auth`); never shown."""

    @property
    def needs_auth(self) -> bool:
        return bool(self.host and self.secret)

    @classmethod
    def parse(cls, text: str, secret: str = "") -> Address:
        text = text.strip()
        if text.startswith("unix:"):
            text = text[5:]
        if not text:
            raise ValueError("an empty speech service address")
        if "/" in text or ":" not in text:
            return cls(path=text, secret=secret)
        host, _, port = text.rpartition(":")
        if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r}: expected a socket path or HOST:PORT")
        return cls(host=host.strip("[]") or "127.0.0.1", port=int(port), secret=secret)

    def __str__(self) -> str:
        return self.path if self.path else f"{self.host}:{self.port}"

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.path:
            return await asyncio.open_unix_connection(self.path, limit=MAX_HEADER_BYTES)
        return await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES)

    def connect_blocking(self, timeout_s: float) -> socket.socket:
        if self.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout_s)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            return sock
        return socket.create_connection((self.host, self.port), timeout=timeout_s)
