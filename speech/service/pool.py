"""Several speech services as one: what a worker holds when speech runs on other hosts.

The pool keeps a `SpeechClient` per live service (the members come from a list, or from a
function the caller gives: the store's heartbeats, read every `refresh_s`) and sends each
request to the least loaded one that is connected: the load its last reply reported plus
what this process has in flight there. A request whose service goes away before it answered
(the host died mid-decode) is sent again to another, so the caller does not notice; only
when none is left does the request fail with `SpeechUnavailable` (the session's apology).
Prompts already synthesised are kept by the pool, whichever service made them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from speech.asr import Decoded
from speech.service.client import SpeechClient, synthesize_when_back
from speech.service.embedder import BlockingEmbedder
from speech.service.protocol import Address
from speech.service.replies import SpeechUnavailable
from speech.service.scheduler import Priority

log = logging.getLogger("speech.pool")

T = TypeVar("T")

Members = Callable[[], Sequence[Address]]


class SpeechPool:
    """`SpeechClient`'s interface over every live speech service."""

    def __init__(self, members: Sequence[Address] | Members, refresh_s: float = 1.0) -> None:
        self._members: Members = (lambda: list(members)) if isinstance(members, Sequence) else members
        self._refresh_s = refresh_s
        self.clients: dict[Address, SpeechClient] = {}
        self._inflight: dict[Address, int] = {}
        self._pinned: dict[tuple[str, int], bytes] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._closed = False
        self._outage_open = False
        self.outages = 0
        """Times every service was away at once (a session apologises once per outage)."""
        self.retried = 0
        """Requests sent again to another service after theirs went away."""
        self.embedder = PoolEmbedder(self)

    # -- membership -----------------------------------------------------------------------
    async def connect(self, timeout_s: float = 60.0) -> None:
        """Read the members and wait until one of them answers."""
        await self._refresh()
        if self._refresher is None:
            self._refresher = asyncio.ensure_future(self._refresh_loop())
        if not await self.wait_available(timeout_s):
            names = ", ".join(str(a) for a in self.clients) or "none listed"
            errors = "; ".join(c.protocol_error for c in self.clients.values() if c.protocol_error)
            raise SpeechUnavailable(
                f"no speech service answered in {timeout_s:.0f} s ({names}){': ' + errors if errors else ''}"
            )

    async def _refresh(self) -> None:
        try:
            wanted = list(await asyncio.to_thread(self._members))
        except Exception as e:  # the membership's source is away: keep the services we have
            log.warning("speech pool: cannot read the members (%s): keeping %d", e, len(self.clients))
            return
        for address in wanted:
            if address not in self.clients:
                log.info("speech pool: %s joins", address)
                client = SpeechClient(address)
                client.start()
                self.clients[address] = client
                self._inflight.setdefault(address, 0)
        for address in [a for a in self.clients if a not in wanted]:
            log.info("speech pool: %s leaves", address)
            client = self.clients.pop(address)
            self._inflight.pop(address, None)
            await client.close()

    async def _refresh_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._refresh_s)
            await self._refresh()

    async def close(self) -> None:
        self._closed = True
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for client in list(self.clients.values()):
            await client.close()
        self.embedder.close()

    # -- state ----------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return any(c.available for c in self.clients.values())

    @property
    def idle(self) -> bool:
        return any(c.idle for c in self.clients.values())

    @property
    def load(self) -> int:
        return min((c.load for c in self.clients.values() if c.available), default=0)

    async def wait_available(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.available:
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                return False
            waits: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(c.wait_available(left)) for c in self.clients.values()
            ]
            # a member may join meanwhile: look again at least every refresh
            waits.append(asyncio.ensure_future(asyncio.sleep(min(left, self._refresh_s))))
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
        return True

    def pick(self, exclude: set[Address] = frozenset()) -> SpeechClient | None:  # type: ignore[assignment]
        """The least loaded connected service not in `exclude` (None: none left)."""
        live = [(a, c) for a, c in self.clients.items() if c.available and a not in exclude]
        if not live:
            return None
        return min(live, key=lambda ac: (ac[1].load + self._inflight.get(ac[0], 0), str(ac[0])))[1]

    def _unavailable(self, tried: set[Address]) -> SpeechUnavailable:
        if not self._outage_open:
            self._outage_open = True
            self.outages += 1
        names = ", ".join(str(a) for a in tried) or "none connected"
        return SpeechUnavailable(f"no speech service is reachable (tried: {names})")

    async def _on_any(self, ask: Callable[[SpeechClient], Awaitable[T]]) -> T:
        """`ask` on the least loaded service; on another when that one goes away mid-request."""
        tried: set[Address] = set()
        while (client := self.pick(tried)) is not None:
            self._outage_open = False
            tried.add(client.address)
            self._inflight[client.address] = self._inflight.get(client.address, 0) + 1
            try:
                return await ask(client)
            except SpeechUnavailable as e:
                log.warning("speech pool: %s went away mid-request (%s): trying another", client.address, e)
                self.retried += 1
            finally:
                if client.address in self._inflight:
                    self._inflight[client.address] -= 1
        raise self._unavailable(tried)

    # -- requests -------------------------------------------------------------------------
    async def ping(self) -> dict[str, Any]:
        return await self._on_any(lambda c: c.ping())

    async def transcribe(
        self, pcm16: bytes, rate: int, prefix: Sequence[int] = (), priority: Priority = Priority.FINAL,
        key: str | None = None, **options: Any,
    ) -> Decoded:  # fmt: skip
        """As `SpeechClient.transcribe`, retried on another service if its own goes away."""
        return await self._on_any(lambda c: c.transcribe(pcm16, rate, prefix, priority, key, **options))

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await self._on_any(lambda c: c.embed(texts))

    def drop(self, key: str) -> None:
        for client in self.clients.values():  # the one that has it drops it; the others ignore it
            client.drop(key)

    def cached(self, text: str, rate: int) -> bytes | None:
        hit = self._pinned.get((" ".join(text.split()), rate))
        if hit is not None:
            return hit
        for client in self.clients.values():
            if (hit := client.cached(text, rate)) is not None:
                return hit
        return None

    async def pin(self, text: str, rate: int, wait_s: float = 120.0) -> bytes:
        pcm = await synthesize_when_back(self, text, rate, wait_s)
        self._pinned[(" ".join(text.split()), rate)] = pcm
        return pcm

    async def synthesize_stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        """As `SpeechClient.synthesize_stream`; a service lost before its first sentence is
        replaced by another (after it, the prompt fails like a single service's)."""
        hit = self.cached(text, rate)
        if hit is not None:
            yield hit
            return
        tried: set[Address] = set()
        while (client := self.pick(tried)) is not None:
            self._outage_open = False
            tried.add(client.address)
            started = False
            chunks = client.synthesize_stream(text, rate)
            try:
                async for pcm in chunks:
                    started = True
                    yield pcm
                return
            except SpeechUnavailable:
                if started:
                    raise
                self.retried += 1
            finally:
                await chunks.aclose()
        raise self._unavailable(tried)

    async def synthesize(self, text: str, rate: int) -> bytes:
        return b"".join([chunk async for chunk in self.synthesize_stream(text, rate)])


class PoolEmbedder:
    """`embed(texts)` for threads, on the least loaded live service of the pool."""

    def __init__(self, pool: SpeechPool, wait_s: float = 30.0) -> None:
        self._pool = pool
        self._by_address: dict[Address, BlockingEmbedder] = {}
        self.wait_s = wait_s

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        deadline = time.monotonic() + self.wait_s
        tried: set[Address] = set()
        while True:
            client = self._pool.pick(tried) or self._pool.pick()
            if client is None:
                if time.monotonic() > deadline:
                    raise SpeechUnavailable("no speech service is reachable for embeddings")
                time.sleep(0.2)  # a thread with no event loop of its own: poll the pool's state
                continue
            embedder = self._by_address.get(client.address)
            if embedder is None:
                embedder = self._by_address[client.address] = BlockingEmbedder(client.address, wait_s=1.0)
            try:
                return embedder.embed(texts)
            except SpeechUnavailable:
                tried.add(client.address)
                if time.monotonic() > deadline:
                    raise

    def close(self) -> None:
        for embedder in self._by_address.values():
            embedder.close()


Speech = SpeechClient | SpeechPool
"""What a call's services hold: one speech service, or a pool of them."""
