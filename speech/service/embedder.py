"""Sentence embeddings from the speech service for threads (the intent matcher, the
knowledge base): a blocking client with its own connection per thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from speech.service.auth import AuthError, client_handshake_blocking
from speech.service.protocol import Address, Message, ProtocolError, read_message_blocking
from speech.service.replies import SpeechUnavailable, check_reply, embeddings


class BlockingEmbedder:
    """`embed(texts)` for threads (the intent matcher): one blocking connection per thread,
    recent texts cached. A request that finds the service away waits for it (up to
    `wait_s`), then raises SpeechUnavailable."""

    def __init__(self, address: Address, cache: int = 4096, wait_s: float = 30.0) -> None:
        self.address = address
        self._local = threading.local()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()
        self._socks: list[Any] = []
        self.wait_s = wait_s

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [" ".join(t.lower().split()) for t in texts]
        with self._lock:
            hits = [self._cache.get(k) for k in keys]
        todo = sorted({k for k, h in zip(keys, hits, strict=True) if h is None})
        if todo:
            fresh = dict(zip(todo, self._request(todo), strict=True))
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            hits = [h if h is not None else fresh[k] for k, h in zip(keys, hits, strict=True)]
        if not hits:
            return np.zeros((0, 384), np.float32)
        return np.stack(hits)  # type: ignore[arg-type]

    def _request(self, texts: list[str]) -> np.ndarray:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                sock, buffer = self._connection()
                sock.sendall(Message("embed", 1, {"texts": texts}).encode())
                return embeddings(check_reply(read_message_blocking(sock, buffer)))
            except AuthError as e:  # a wrong or missing secret does not mend by waiting
                self._reset()
                raise SpeechUnavailable(f"the speech service at {self.address}: {e}") from None
            except (OSError, ConnectionError, ProtocolError) as e:
                self._reset()
                if time.monotonic() > deadline:
                    raise SpeechUnavailable(f"the speech service at {self.address}: {e}") from None
                time.sleep(0.2)

    def _connection(self) -> tuple[Any, bytearray]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            sock = self.address.connect_blocking(timeout_s=30.0)
            conn = (sock, bytearray())
            if self.address.needs_auth:
                try:
                    client_handshake_blocking(sock, conn[1], self.address.secret)
                except BaseException:
                    sock.close()
                    raise
            self._local.conn = conn
            with self._lock:
                self._socks.append(sock)
        return conn

    def _reset(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn[0].close()

    def close(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()
