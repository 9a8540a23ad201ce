"""One bounded pool of model workers shared by every call of the process.

Blocking model calls (whisper, piper) run here, off the event loop. Jobs have a
priority: final transcripts and prompts first, partial transcripts last. A partial that
is superseded before a worker takes it (a newer partial of the same utterance) is
dropped, and the pipeline only asks for a partial when a worker is idle, so under load
partial transcripts thin out before final ones slow down.

With `slots` (the machine's cores, shared by the worker processes: `speech/slots.py`) a
running job holds a core slot: finals wait for one, a partial only starts with a slot to
spare and is dropped otherwise, so the workers' finals keep the cores.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from enum import IntEnum
from typing import Any, TypeVar

from speech.slots import CoreSlots

T = TypeVar("T")


class Priority(IntEnum):
    FINAL = 0
    PROMPT = 1
    PARTIAL = 2


class Superseded(Exception):
    """A partial job was replaced by a newer one before it ran."""


class ModelPool:
    """A priority work queue with `workers` threads."""

    def __init__(self, workers: int = 1, name: str = "model", slots: CoreSlots | None = None) -> None:
        if workers < 1:
            raise ValueError("the model pool needs at least one worker")
        self._heap: list[tuple[int, int, Future[Any], Callable[[], Any]]] = []
        self._latest: dict[str, Future[Any]] = {}
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._closed = False
        self._slots = slots
        self._waiting: set[Future[Any]] = set()  # claimed, waiting for a core
        self._abandoned: set[Future[Any]] = set()  # ... and no longer wanted
        self.dropped = 0
        self.completed = 0
        self._running = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(
        self,
        fn: Callable[[], T],
        priority: Priority = Priority.FINAL,
        replace_key: str | None = None,
    ) -> Future[T]:
        """Queue `fn`. With `replace_key`, a still-queued job of the same key is dropped."""
        fut: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("model pool is closed")
            if replace_key is not None:
                self._supersede(self._latest.get(replace_key), replace_key)
                self._latest[replace_key] = fut
            heapq.heappush(self._heap, (int(priority), next(self._seq), fut, fn))
            self._cond.notify()
        return fut

    async def run(
        self,
        fn: Callable[[], T],
        priority: Priority = Priority.FINAL,
        replace_key: str | None = None,
    ) -> T:
        return await asyncio.wrap_future(self.submit(fn, priority, replace_key))

    def drop(self, replace_key: str) -> None:
        """Drop the still-queued job of `replace_key`, if any (its result is no longer wanted)."""
        with self._cond:
            self._supersede(self._latest.pop(replace_key, None), replace_key)

    def forget(self, replace_key: str) -> None:
        """Stop tracking `replace_key`; its job, if any, runs on (its result is wanted)."""
        with self._cond:
            self._latest.pop(replace_key, None)

    def _supersede(self, old: Future[Any] | None, key: str) -> None:
        """Fail a job that no worker has claimed yet, or that a worker holds while it waits
        for a core (call with the lock held)."""
        if old is None or old.done():
            return
        if old in self._waiting:
            self._abandoned.add(old)
        elif not old.running():
            old.set_running_or_notify_cancel()
            old.set_exception(Superseded(key))
            self.dropped += 1

    @property
    def idle(self) -> bool:
        """A worker is free and nothing waits: a job submitted now starts at once (and, with
        box-wide slots, no other process keeps the machine's cores busy)."""
        with self._cond:
            if self._running >= len(self._threads) or any(not f.done() for _, _, f, _ in self._heap):
                return False
        return self._slots is None or self._slots.free() >= self._slots.count

    @property
    def queued(self) -> int:
        with self._cond:
            return sum(1 for _, _, f, _ in self._heap if not f.done())

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if self._closed and not self._heap:
                    return
                priority, _, fut, fn = heapq.heappop(self._heap)
                # claimed under the lock, so _supersede never races a starting job
                if fut.done() or not fut.set_running_or_notify_cancel():
                    continue
                self._running += 1
                if self._slots is not None and priority == Priority.FINAL:
                    self._waiting.add(fut)  # still droppable while it waits for a core
            slot = None
            if self._slots is not None:
                # a final waits for a core; a prompt takes a free one or runs anyway (the
                # caller hears it at once, and piper is cheap next to whisper); a partial
                # needs a core to spare, or is dropped
                if priority == Priority.FINAL:
                    slot = self._slots.acquire(
                        cancelled=lambda fut=fut: fut in self._abandoned or self._closed
                    )
                    with self._cond:
                        self._waiting.discard(fut)
                        self._abandoned.discard(fut)
                elif priority == Priority.PROMPT:
                    slot = self._slots.try_acquire()
                else:
                    slot = self._slots.try_acquire(spare=self._slots.count - 1)
                if slot is None and priority != Priority.PROMPT:  # busy cores, or not wanted now
                    fut.set_exception(Superseded("no core to spare, or no longer wanted"))
                    with self._cond:
                        self._running -= 1
                        self.dropped += 1
                    continue
            try:
                result = fn()
            except BaseException as e:  # the caller sees the error, the worker lives on
                fut.set_exception(e)
            else:
                fut.set_result(result)
            finally:
                CoreSlots.release(slot)
            with self._cond:
                self._running -= 1
                self.completed += 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)
