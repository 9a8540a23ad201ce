"""The speech service: the models of one machine, loaded once, shared by every worker.

`ivr serve` starts it (and restarts it if it dies); `ivr speech --listen PATH|HOST:PORT`
runs it alone. Connections are served by an asyncio loop; the model work runs on `lanes`
threads (one per core by default, one intra-op thread each: on this box two single-thread
decodes side by side beat one two-thread decode), which take their jobs from the
`Scheduler`. A bad frame closes that connection only; a failing job answers `error`.

Partial transcripts run apart, on a background lane with a whisper of its own whose decoding
thread runs at the lowest CPU priority (nice 19): partials use whatever CPU the finals,
prompts and embeddings leave, and a final that starts while a partial decodes gets the
core (the kernel gives a nice-0 thread ~98% against a nice-19 one) instead of sharing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from speech.asr import ASR_RATE, Decoded, WhisperRunner, pool_states
from speech.audio import resample
from speech.rescore import expected_words, rescore
from speech.service import auth, metrics
from speech.service.models import Models, ServiceSettings
from speech.service.protocol import Address, Message, ProtocolError, read_message
from speech.service.scheduler import Job, JobQueue, Kind, Priority, Scheduler
from speech.text import drop_echoed_ending

log = logging.getLogger("speech.service")

PRIORITIES = {"final": Priority.FINAL, "partial": Priority.PARTIAL, "prompt": Priority.PROMPT}
RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


class SpeechService:
    def __init__(self, settings: ServiceSettings | None = None, models: Models | None = None) -> None:
        self.settings = settings or ServiceSettings()
        self.models = models or Models(self.settings)
        lanes = self.settings.resolved_lanes()
        stale_s = self.settings.partial_stale_ms / 1000
        self.queue = JobQueue(Scheduler(lanes, self.settings.max_batch, stale_s), time.monotonic)
        self.partials = JobQueue(Scheduler(1, self.settings.max_batch, stale_s), time.monotonic)
        self._threads = [
            threading.Thread(target=self._lane, args=(self.queue,), name=f"speech-lane-{i}", daemon=True)
            for i in range(lanes)
        ]
        self._threads.append(
            threading.Thread(
                target=self._lane, args=(self.partials, True), name="speech-partials", daemon=True
            )
        )
        for t in self._threads:
            t.start()
        self._server: asyncio.AbstractServer | None = None
        self._address: Address | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self.refused = 0
        """Connections refused for not proving the secret."""

    # -- serving ---------------------------------------------------------------------
    async def start(self, address: Address) -> None:
        if address.path:
            path = Path(address.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a socket left by a dead service
            self._server = await asyncio.start_unix_server(self._connection, path=str(path), limit=65536)
        else:
            self._server = await asyncio.start_server(
                self._connection, address.host, address.port, limit=65536
            )
        self._address = address

    async def serve_forever(self, address: Address, stop: asyncio.Event) -> None:
        await self.start(address)
        try:
            await stop.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            if self._handlers:  # each ends at its connection's end of stream
                await asyncio.wait(list(self._handlers), timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        for job in self.queue.close() + self.partials.close():
            if job.on_dropped is not None:
                job.on_dropped("the speech service is stopping")
        for t in self._threads:
            t.join(timeout=5)
        if self._address is not None and self._address.path:
            with contextlib.suppress(FileNotFoundError):
                Path(self._address.path).unlink()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._writers.add(writer)
        me = asyncio.current_task()
        if me is not None:
            self._handlers.add(me)

        loop_thread = threading.get_ident()

        def send(msg: Message) -> None:  # from any thread; in order on this connection
            msg.data["load"] = self.load
            if threading.get_ident() == loop_thread:
                outbox.put_nowait(msg)
            else:
                loop.call_soon_threadsafe(outbox.put_nowait, msg)

        async def write_loop() -> None:
            while (msg := await outbox.get()) is not None:
                writer.write(msg.encode())
                await writer.drain()

        writing = asyncio.ensure_future(write_loop())
        try:
            if self._address is not None and self._address.needs_auth:
                if not await self._authenticate(reader, writer, send):
                    return
            while True:
                try:
                    msg = await read_message(reader)
                except ProtocolError as e:
                    log.warning("closing a connection that sent a bad frame: %s", e)
                    send(Message("error", 0, {"message": f"protocol error: {e}"}))
                    break
                if msg is None:
                    break
                try:
                    self._request(msg, send)
                except (ValueError, TypeError, KeyError) as e:
                    send(Message("error", msg.id, {"message": f"bad {msg.type} request: {e}"}))
                except RuntimeError as e:  # stopping
                    send(Message("error", msg.id, {"message": str(e)}))
        except (ConnectionError, OSError):
            pass
        finally:
            outbox.put_nowait(None)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(writing, 2)
            writing.cancel()
            self._writers.discard(writer)
            self._handlers.discard(me)
            writer.close()

    async def _authenticate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, send: Any
    ) -> bool:
        """A TCP client proves it holds the secret before anything else (`speech.service.auth`)."""
        assert self._address is not None
        peer = writer.get_extra_info("peername")
        hello = auth.challenge()
        send(hello)
        try:
            reply = await asyncio.wait_for(read_message(reader), auth.HANDSHAKE_S)
            send(auth.check_auth(self._address.secret, hello.data["nonce"], reply))
            return True
        except (TimeoutError, ProtocolError, auth.AuthError) as e:
            self.refused += 1
            log.warning("refused a client from %s: %s", peer, e or "no answer to the challenge")
            send(Message("error", 0, {"message": "not authenticated"}))
            return False

    def _request(self, msg: Message, send: Any) -> None:
        d = msg.data
        mid = msg.id

        def dropped(reason: str, mid: int = mid) -> None:
            send(Message("dropped", mid, {"reason": reason}))

        if msg.type == "ping":
            send(Message("pong", mid, {"lanes": len(self._threads) - 1, "models": self.models.names}))
        elif msg.type == "drop":
            key = _key(d)
            self.queue.drop(key)
            self.partials.drop(key)
        elif msg.type == "transcribe":
            rate = int(d.get("rate", 8000))
            if rate not in RATES:
                raise ValueError(f"rate {rate} is not one of {RATES}")
            if len(msg.payload) % 2:
                raise ValueError("the audio must be 16-bit PCM (an even number of bytes)")
            prefix = [int(t) for t in d.get("prefix", [])]
            hints = str(d.get("hints") or "")
            spelled = bool(d.get("spelled", False))
            expect = expected_words(d.get("expect"))
            priority = PRIORITIES[str(d.get("priority", "final"))]
            if priority is Priority.PROMPT:
                raise ValueError("a transcription is a final or a partial")
            if priority is Priority.FINAL and not self.models.finals_take_prefix:
                prefix = []  # the partials' tokens mean nothing to the finals' model
            pool = bool(d.get("pool", False)) and priority is Priority.FINAL
            job = Job(
                Kind.TRANSCRIBE,
                priority,
                _key(d, None),
                (msg.payload, rate, prefix, hints, spelled, expect, pool, mid, send),
                dropped,
                keep=bool(d.get("keep", False)),
            )
            target = self.partials if priority is Priority.PARTIAL else self.queue
            target.submit(job)
            metrics.ASR_QUEUE.labels(priority=priority.name.lower()).set(target.load)
        elif msg.type == "synthesize":
            rate = int(d.get("rate", 8000))
            if rate not in RATES:
                raise ValueError(f"rate {rate} is not one of {RATES}")
            text = d["text"]
            if not isinstance(text, str):
                raise TypeError("'text' must be a string")
            cached = self.models.tts.cached(" ".join(text.split()), rate)
            if cached is not None or not text.strip():  # no lane needed: answer at once
                pcm = _pcm16(cached) if cached is not None else b""
                send(Message("audio", mid, {"rate": rate, "last": True, "cached": True}, pcm))
                return
            stream = _timed_first(self.models.tts.stream(text, rate))
            job = Job(Kind.SYNTHESIZE, Priority.PROMPT, _key(d, None), (stream, rate, mid, send), dropped)
            self.queue.submit(job)
        elif msg.type == "embed":
            texts = d["texts"]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise TypeError("'texts' must be a list of strings")
            self.queue.submit(Job(Kind.EMBED, Priority.FINAL, None, (texts, mid, send), dropped))
        else:
            raise ValueError(f"unknown request type {msg.type!r}")

    # -- the lanes ---------------------------------------------------------------------
    @property
    def load(self) -> int:
        """Jobs queued or running, finals and partials."""
        return self.queue.load + self.partials.load

    def _lane(self, queue: JobQueue, background: bool = False) -> None:
        # the partial lane's Python thread keeps the normal priority: it holds the GIL while it
        # prepares features, and a nice-19 thread holding it would stall the other lanes (its
        # decodes run on CTranslate2's own thread of the partials' model, which is nice 19)
        asr = self.models.asr_partials if background else self.models.asr
        while (jobs := queue.get()) is not None:
            kind = jobs[0].kind
            try:
                if kind is Kind.TRANSCRIBE:
                    label = "partial" if background else "final"
                    t0 = time.perf_counter()
                    self._transcribe(jobs, asr, rescoring=not background and asr.settings.rescore_margin >= 0)
                    metrics.ASR_DECODE.labels(priority=label).observe(time.perf_counter() - t0)
                elif kind is Kind.SYNTHESIZE:
                    if self._synthesize_sentence(jobs[0]):
                        queue.requeue(jobs[0])
                        continue
                else:
                    self._embed(jobs[0])
            except Exception as e:  # a failing job answers error; the lane lives on
                log.exception("%s job failed", kind)
                for job in jobs:
                    send, mid = job.payload[-1], job.payload[-2]
                    send(Message("error", mid, {"message": f"{kind} failed: {e}"}))
            queue.done(jobs)
            if kind is Kind.TRANSCRIBE:
                metrics.ASR_QUEUE.labels(priority="partial" if background else "final").set(queue.load)

    def _transcribe(self, jobs: list[Job], asr: WhisperRunner, rescoring: bool) -> None:
        items, expects, pools = [], [], []
        for job in jobs:
            pcm, rate, prefix, hints, spelled, expect, pool, _, _ = job.payload
            audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            items.append((resample(audio, rate, ASR_RATE), prefix, hints, spelled))
            expects.append(expect)
            pools.append(pool)
        # the encoder's output is kept when a final is rescored or its states pooled (the
        # radar's encoder cues): the same encoder pass the decode makes, not a second one
        wanted = (rescoring and any(expects)) or any(pools)
        encoded: list[Any] | None = [None] * len(items) if wanted else None
        results = asr.decode_batch(items, encoded)
        for k, (job, item, expect, decoded) in enumerate(zip(jobs, items, expects, results, strict=True)):
            *_, mid, send = job.payload
            if encoded is not None and expect and rescoring:
                decoded = _rescored(asr, item, expect, decoded, encoded[k])
            pooled = b""
            if encoded is not None and pools[k] and encoded[k] is not None:
                pooled = pool_states(encoded[k][0], len(item[0])).astype("<f2").tobytes()
            send(
                Message(
                    "transcript",
                    mid,
                    {
                        "tokens": list(decoded.tokens),
                        "text": decoded.text,
                        "words": [list(w) for w in decoded.words],
                        "avg_logprob": decoded.avg_logprob,
                        "no_speech_prob": decoded.no_speech_prob,
                        "batch": len(jobs),
                        **({"heard_as": decoded.heard_as} if decoded.heard_as else {}),
                        **({"pooled": len(pooled) // 2} if pooled else {}),
                    },
                    pooled,
                )
            )

    def _synthesize_sentence(self, job: Job) -> bool:
        """Synthesise the next sentence; True if more follow."""
        stream: Iterator[np.ndarray]
        stream, rate, mid, send = job.payload
        chunk = next(stream, None)
        if chunk is None:
            send(Message("audio", mid, {"rate": rate, "last": True}))
            return False
        send(Message("audio", mid, {"rate": rate, "last": False}, _pcm16(chunk)))
        return True

    def _embed(self, job: Job) -> None:
        texts, mid, send = job.payload
        vectors = np.ascontiguousarray(self.models.embedder.embed(texts), dtype="<f4")
        rows, dim = (vectors.shape[0], vectors.shape[1]) if vectors.ndim == 2 else (0, 0)
        send(Message("embedding", mid, {"rows": rows, "dim": dim}, vectors.tobytes()))


def _rescored(
    asr: WhisperRunner, item: tuple[Any, ...], expect: dict[str, str], decoded: Decoded, encoded: Any
) -> Decoded:
    """The final with a word the step expects put in, when the audio bears it out."""
    if not decoded.text or asr.is_loop(decoded.text):
        return decoded
    audio = item[0]
    text = drop_echoed_ending(decoded.text)  # the sentence once, as the worker will take it
    # scored with no context: the dialplan's hints would be decoder input for every text scored
    # (~4x the time), and they would make the margin (the expected words' prior) count twice
    score = functools.partial(asr.log_probs, audio, hints="", encoded=encoded)
    better = rescore(text, expect, score, asr.settings.rescore_margin)
    if better is None:
        return decoded
    metrics.ASR_RESCORED.inc()
    return replace(asr.decoded_as(better, decoded), heard_as=decoded.text)


def _timed_first(stream: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The synthesis stream, observing the time to its first chunk."""
    t0 = time.perf_counter()
    first = True
    for chunk in stream:
        if first:
            metrics.TTS_FIRST_AUDIO.observe(time.perf_counter() - t0)
            first = False
        yield chunk


def _key(d: dict[str, Any], default: Any = ...) -> Any:
    key = d.get("key", default)
    if key is ...:
        raise KeyError("key")
    if key is not None and not isinstance(key, str):
        raise TypeError("'key' must be a string")
    return key


def _pcm16(audio: np.ndarray) -> bytes:
    return bytes((np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2").tobytes())


def run_service(settings: ServiceSettings, address: Address) -> None:
    """`ivr speech`: load the models, serve until SIGTERM/SIGINT."""
    import signal

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        started = time.monotonic()
        service = SpeechService(settings)
        await service.start(address)
        lanes = settings.resolved_lanes()
        print(
            f'{{"speech": "ready", "listen": "{address}", "lanes": {lanes}, '
            f'"load_s": {time.monotonic() - started:.1f}}}',
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await service.close()

    asyncio.run(main())
