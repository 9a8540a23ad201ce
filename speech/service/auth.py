"""Who may use a speech service over TCP: a shared secret, proven by a challenge.

On a TCP connection to a service that has a secret (IVR_SPEECH_SECRET), the service speaks
first with `challenge` (a fresh random nonce). The client answers `auth` with
HMAC-SHA256(secret, "client:" + nonce) and a nonce of its own; the service answers `welcome`
with HMAC-SHA256(secret, "service:" + the client's nonce), so each side knows the other holds
the secret and a recorded exchange cannot be replayed. Anything else is refused, logged and
the connection closed. The secret never crosses the wire. A Unix socket needs no secret (the
file's permissions decide); the audio itself is not encrypted: keep the speech hosts on a
private network.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import socket

from speech.service.protocol import Message, ProtocolError, read_message, read_message_blocking

HANDSHAKE_S = 5.0
"""How long either side waits for the other's next handshake message."""


class AuthError(ConnectionError):
    """The peer did not prove it holds the secret (or asked for one this side lacks)."""


def mac(secret: str, role: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"{role}:{nonce}".encode(), hashlib.sha256).hexdigest()


def challenge() -> Message:
    return Message("challenge", 0, {"nonce": secrets.token_hex(16)})


def answer(secret: str, msg: Message | None) -> tuple[Message, str]:
    """The client's `auth` to a `challenge`, and the nonce its `welcome` must prove."""
    if msg is None or msg.type != "challenge" or not isinstance(msg.data.get("nonce"), str):
        got = "nothing" if msg is None else repr(msg.type)
        raise AuthError(f"expected the service's challenge (a secret is set), got {got}")
    mine = secrets.token_hex(16)
    return Message("auth", 0, {"mac": mac(secret, "client", msg.data["nonce"]), "nonce": mine}), mine


def check_auth(secret: str, nonce: str, msg: Message | None) -> Message:
    """The service's `welcome` to a client's `auth`; AuthError if it does not prove the secret."""
    if msg is None or msg.type != "auth":
        raise AuthError("no secret given (IVR_SPEECH_SECRET)" if msg else "closed before authenticating")
    given, theirs = msg.data.get("mac"), msg.data.get("nonce")
    if not isinstance(given, str) or not isinstance(theirs, str) or not theirs:
        raise AuthError("a malformed auth message")
    if not hmac.compare_digest(given, mac(secret, "client", nonce)):
        raise AuthError("a wrong secret")
    return Message("welcome", 0, {"mac": mac(secret, "service", theirs)})


def check_welcome(secret: str, mine: str, msg: Message | None) -> None:
    if msg is None:
        raise AuthError("the speech service refused the secret (closed the connection)")
    if msg.type == "error":
        raise AuthError(f"the speech service refused: {msg.data.get('message', '')}")
    if msg.type != "welcome" or not hmac.compare_digest(
        str(msg.data.get("mac", "")), mac(secret, "service", mine)
    ):
        raise AuthError("the speech service did not prove it holds the secret")


async def client_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: str) -> None:
    try:
        hello = await asyncio.wait_for(read_message(reader), HANDSHAKE_S)
        reply, mine = answer(secret, hello)
        writer.write(reply.encode())
        check_welcome(secret, mine, await asyncio.wait_for(read_message(reader), HANDSHAKE_S))
    except (TimeoutError, ProtocolError) as e:
        raise AuthError(f"no handshake from the speech service ({e or 'timed out'})") from None


def client_handshake_blocking(sock: socket.socket, buffer: bytearray, secret: str) -> None:
    try:
        reply, mine = answer(secret, read_message_blocking(sock, buffer))
        sock.sendall(reply.encode())
        check_welcome(secret, mine, read_message_blocking(sock, buffer))
    except (TimeoutError, ProtocolError) as e:
        raise AuthError(f"no handshake from the speech service ({e or 'timed out'})") from None
