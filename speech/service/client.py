"""The speech service's client: what a SIP worker, a replay or a chat holds instead of models.

One connection per process for the call path (`transcribe`, `synthesize`, `drop`), with
replies matched to requests by id. When the service goes away every request in flight
fails with `SpeechUnavailable`, and the client reconnects by itself (`wait_available()`
returns once it is back), so a caller's call survives a restart of the service. Prompts
are kept in a small local cache (and the fixed ones pinned), so the greeting and a menu
play at once and go on playing while the service restarts.

`embedder` is a blocking client for the intent matcher, which runs in threads (and once at
dialplan load, on the loop's own thread): a connection of its own per thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import numpy as np

from speech.asr import Decoded
from speech.service.auth import AuthError, client_handshake
from speech.service.embedder import BlockingEmbedder
from speech.service.protocol import Address, Message, ProtocolError, read_message
from speech.service.replies import SpeechError, SpeechUnavailable, check_reply, embeddings
from speech.service.scheduler import Priority

log = logging.getLogger("speech.client")


LOAD_FRESH_S = 0.3

_PRIORITY_NAMES = {Priority.FINAL: "final", Priority.PARTIAL: "partial", Priority.PROMPT: "prompt"}


class SpeechClient:
    def __init__(self, address: str | Address, cache_entries: int = 128) -> None:
        self.address = address if isinstance(address, Address) else Address.parse(address)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Message] | asyncio.Queue[Message]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._available = asyncio.Event()
        self._closed = False
        self._runner: asyncio.Task[None] | None = None
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._pinned: dict[tuple[str, int], bytes] = {}
        self._cache_entries = cache_entries
        self.load = 0
        """The service's queued + running jobs, as of its last reply."""
        self._load_at = 0.0
        self.protocol_error = ""
        """Set when the peer sent something that is not this protocol (a wrong address)."""
        self.outages = 0
        """How many times the connection was lost (a session apologises once per outage)."""
        self.embedder = BlockingEmbedder(self.address)

    # -- connection ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the connection and its reconnect loop (`available` once the service answers)."""
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())

    async def connect(self, timeout_s: float = 60.0) -> None:
        """Start the connection (and its reconnect loop); wait until the service answers."""
        self.start()
        deadline = time.monotonic() + timeout_s
        told = False
        while True:
            if not await self.wait_available(min(0.5, max(0.0, deadline - time.monotonic()))):
                if not told:
                    log.info("no speech service at %s yet: waiting up to %.0f s", self.address, timeout_s)
                    told = True
                if self.protocol_error:
                    raise SpeechUnavailable(
                        f"{self.address} does not answer as a speech service ({self.protocol_error}; "
                        "is IVR_SPEECH right?)"
                    )
                if time.monotonic() >= deadline:
                    raise SpeechUnavailable(f"no speech service at {self.address} after {timeout_s:.0f} s")
                continue
            try:  # something listens there: is it a speech service?
                await asyncio.wait_for(self.ping(), timeout=min(10.0, max(1.0, deadline - time.monotonic())))
                return
            except (TimeoutError, SpeechUnavailable, SpeechError, KeyError, ValueError):
                if self.protocol_error or time.monotonic() >= deadline:
                    raise SpeechUnavailable(
                        f"{self.address} does not answer as a speech service (is IVR_SPEECH right?)"
                    ) from None
                await asyncio.sleep(0.2)

    @property
    def available(self) -> bool:
        return self._available.is_set()

    @property
    def idle(self) -> bool:
        """Nothing queued or running in the service as of its last reply (a partial sent now
        would start at once). A figure older than LOAD_FRESH_S counts as idle: a quiet
        client hears no replies, and must not hold its partials back for ever."""
        if not self.available:
            return False
        return self.load == 0 or time.monotonic() - self._load_at > LOAD_FRESH_S

    async def wait_available(self, timeout_s: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._available.wait(), timeout_s)
        return self._available.is_set()

    async def _run(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                reader, writer = await self.address.open()
            except OSError:
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            # available once the peer answers a ping on this connection: a socket that accepts
            # is not yet a service that serves (it may be dying, starting, or something else)
            try:
                if self.address.needs_auth:
                    await client_handshake(reader, writer, self.address.secret)
                writer.write(Message("ping", 0).encode())
                hello = await asyncio.wait_for(read_message(reader), 10)
            except (TimeoutError, ProtocolError, ConnectionError, OSError) as e:
                if isinstance(e, ProtocolError | AuthError):
                    self.protocol_error = str(e)
                    log.warning("speech service %s: %s", self.address, e)
                writer.close()
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            if hello is None or hello.type != "pong":
                self.protocol_error = self.protocol_error or (
                    "it asks for a secret (set IVR_SPEECH_SECRET)"
                    if hello is not None and hello.type == "challenge"
                    else f"answered a ping with {hello and hello.type!r}"
                )
                writer.close()
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            delay = 0.05
            self._writer = writer
            self._available.set()
            try:
                while (msg := await read_message(reader)) is not None:
                    self._deliver(msg)
            except ProtocolError as e:
                self.protocol_error = str(e)
                log.warning("%s does not speak the speech service's protocol: %s", self.address, e)
                await asyncio.sleep(delay)  # not a tight reconnect loop against a wrong peer
            except (ConnectionError, OSError) as e:
                log.warning("speech service connection lost: %s", e)
            finally:
                self._available.clear()
                self._writer = None
                writer.close()
                if not self._closed:
                    self.outages += 1
                self._fail_pending()

    def _deliver(self, msg: Message) -> None:
        if "load" in msg.data:
            self.load = int(msg.data["load"])
            self._load_at = time.monotonic()
        target = self._pending.get(msg.id)
        if target is None:
            return  # a reply to a request no longer wanted
        if isinstance(target, asyncio.Queue):
            target.put_nowait(msg)
            if msg.type != "audio" or msg.data.get("last"):
                self._pending.pop(msg.id, None)
        else:
            self._pending.pop(msg.id, None)
            if not target.done():
                target.set_result(msg)

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        gone = Message("unavailable", 0, {"message": f"the speech service at {self.address} went away"})
        for target in pending.values():
            if isinstance(target, asyncio.Queue):
                target.put_nowait(gone)
            elif not target.done():
                target.set_result(gone)

    def _send(self, msg: Message) -> None:
        if self._writer is None:
            raise SpeechUnavailable(f"the speech service at {self.address} is not reachable")
        self._writer.write(msg.encode())

    async def _ask(self, type_: str, data: dict[str, Any], payload: bytes = b"") -> Message:
        mid = next(self._ids)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[mid] = fut
        try:
            self._send(Message(type_, mid, data, payload))
            reply = await fut
        finally:
            self._pending.pop(mid, None)
        return check_reply(reply)

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self._fail_pending()
        self.embedder.close()

    # -- requests -----------------------------------------------------------------------
    async def ping(self) -> dict[str, Any]:
        reply = await self._ask("ping", {})
        if reply.type != "pong":
            raise SpeechError(f"{self.address} answered a ping with {reply.type!r}")
        return reply.data

    async def transcribe(
        self,
        pcm16: bytes,
        rate: int,
        prefix: Sequence[int] = (),
        priority: Priority = Priority.FINAL,
        key: str | None = None,
        hints: str = "",
        spelled: bool = False,
        expect: Sequence[str] = (),
        keep: bool = False,
        pool: bool = False,
    ) -> Decoded:
        """Transcribe s16le mono PCM at `rate`; raises Superseded when the service dropped it.
        `hints`: words the caller is likely to say (the dialplan's `asr_hints`); `spelled`:
        numbers as words, never numerals (a caller saying digits); `expect`: the words the step
        expects (a final with a sound-alike of one is rescored against the audio); `keep`: a
        partial is run even when it waited past its staleness (a replay wants every one);
        `pool`: a final comes with its encoder states pooled (`Decoded.pooled`, the radar's cues)."""
        data: dict[str, Any] = {"rate": rate, "prefix": list(prefix), "priority": _PRIORITY_NAMES[priority]}
        if key is not None:
            data["key"] = key
        if hints:
            data["hints"] = hints
        if spelled:
            data["spelled"] = True
        if expect:
            data["expect"] = list(expect)
        if keep:  # a partial the service must run however late (a replay's)
            data["keep"] = True
        if pool:
            data["pool"] = True
        reply = await self._ask("transcribe", data, pcm16)
        d = reply.data
        return Decoded(
            tuple(d["tokens"]),
            d["text"],
            float(d["avg_logprob"]),
            float(d["no_speech_prob"]),
            tuple((int(i), str(w)) for i, w in d["words"]),
            str(d.get("heard_as", "")),
            reply.payload if d.get("pooled") else b"",
        )

    def drop(self, key: str) -> None:
        """Drop a still-queued request of `key` (its result is no longer wanted)."""
        with contextlib.suppress(SpeechUnavailable):
            self._send(Message("drop", 0, {"key": key}))

    def cached(self, text: str, rate: int) -> bytes | None:
        key = (" ".join(text.split()), rate)
        hit = self._pinned.get(key)
        if hit is None:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        return hit

    def _store(self, text: str, rate: int, pcm: bytes) -> None:
        key = (" ".join(text.split()), rate)
        if key in self._pinned:
            return
        self._cache[key] = pcm
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)

    async def pin(self, text: str, rate: int, wait_s: float = 120.0) -> bytes:
        """Synthesise a fixed prompt once and keep it for the life of the process (a service
        that restarts meanwhile is waited for, up to `wait_s`)."""
        pcm = await synthesize_when_back(self, text, rate, wait_s)
        self._pinned[(" ".join(text.split()), rate)] = pcm
        self._cache.pop((" ".join(text.split()), rate), None)
        return pcm

    async def synthesize_stream(self, text: str, rate: int) -> AsyncGenerator[bytes, None]:
        """s16le PCM at `rate`, one chunk a sentence (a cached prompt comes whole). Stopping
        the iteration early tells the service to stop synthesising."""
        text = " ".join(text.split())
        if not text:
            return
        hit = self.cached(text, rate)
        if hit is not None:
            yield hit
            return
        mid = next(self._ids)
        key = f"tts#{id(self)}#{mid}"
        replies: asyncio.Queue[Message] = asyncio.Queue()
        self._pending[mid] = replies
        parts: list[bytes] = []
        complete = False
        try:
            self._send(Message("synthesize", mid, {"text": text, "rate": rate, "key": key}))
            while True:
                msg = check_reply(await replies.get())
                if msg.payload:
                    parts.append(msg.payload)
                    yield msg.payload
                if msg.data.get("last"):
                    complete = True
                    break
        finally:
            self._pending.pop(mid, None)
            if complete:
                self._store(text, rate, b"".join(parts))
            else:
                self.drop(key)

    async def synthesize(self, text: str, rate: int) -> bytes:
        return b"".join([chunk async for chunk in self.synthesize_stream(text, rate)])

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embeddings(await self._ask("embed", {"texts": list(texts)}))


async def synthesize_when_back(speech: Any, text: str, rate: int, wait_s: float) -> bytes:
    """`speech.synthesize`, waiting (up to `wait_s`) for a service that is away to come back."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return bytes(await speech.synthesize(text, rate))
        except SpeechUnavailable:
            left = deadline - time.monotonic()
            if left <= 0 or not await speech.wait_available(left):
                raise
            await asyncio.sleep(0.05)  # not a tight loop while a connection flaps
