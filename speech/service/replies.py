"""The speech service's replies as a client reads them: what each failure means to the caller
of a request (away, superseded, refused), and embeddings out of their payload."""

from __future__ import annotations

import numpy as np

from speech.service.protocol import Message


class SpeechUnavailable(Exception):
    """The speech service cannot be reached (down or restarting); the request was not served."""


class Superseded(Exception):
    """The service dropped the request unrun (a newer one replaced it, or it went stale)."""


class SpeechError(Exception):
    """The service answered the request with an error."""


def check_reply(reply: Message) -> Message:
    if reply.type == "unavailable":
        raise SpeechUnavailable(str(reply.data.get("message")))
    if reply.type == "dropped":
        raise Superseded(str(reply.data.get("reason")))
    if reply.type == "error":
        raise SpeechError(str(reply.data.get("message")))
    return reply


def embeddings(reply: Message) -> np.ndarray:
    rows, dim = int(reply.data["rows"]), int(reply.data["dim"])
    return np.frombuffer(reply.payload, dtype="<f4").reshape(rows, dim).copy()
