"""The one writer of a process: call records go to the store in batches, off the event loop.

A call's events are handed over as they happen (`submit` never blocks and never touches the
database); a thread takes whatever has queued and writes it in one transaction. Under load
that is many calls' events in a commit; on a quiet line a single event is written within
milliseconds. When the store refuses (locked past the busy timeout, PostgreSQL restarting)
the backlog is kept and tried again every `retry_s`, in order: a record is late, never lost.
At most `memory_ops` operations wait in memory; older ones wait on disk (`ivr.store.spill`),
where a process that dies leaves them for the next one. A batch that committed although its
acknowledgement was lost is not written twice: the store refuses the repeat (unique keys) and
the writer counts it as written.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from ivr.store.engine import write_tx
from ivr.store.ops import CallEvents, CallStarted, CallUpdated, Op
from ivr.store.spill import SpillFile
from ivr.store.tables import call_events, calls

__all__ = ["CallEvents", "CallStarted", "CallUpdated", "StoreWriter"]

log = logging.getLogger("ivr.store")

MAX_BATCH = 2000
MEMORY_OPS = 50_000
"""Operations a writer holds in memory while the store is away (~25 MB); older ones go to disk."""


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class WriterStats:
    batches: int = 0
    ops: int = 0
    events: int = 0
    retries: int = 0
    repeats: int = 0  # operations already in the store (a commit whose answer was lost)
    last_error: str = ""
    commit_s: list[float] = field(default_factory=list)  # the last commits' durations (for /metrics, bench)


class StoreWriter:
    def __init__(
        self,
        engine: Engine,
        retry_s: float = 0.5,
        spill_dir: Path | None = None,
        memory_ops: int = MEMORY_OPS,
    ) -> None:
        self.engine = engine
        self._q: queue.SimpleQueue[Op | _Flush | None] = queue.SimpleQueue()
        self._retry_s = retry_s
        self._closed = False
        self.stats = WriterStats()
        self.observe: Callable[[float], None] | None = None
        """Told each commit's duration in seconds (the worker's /metrics histogram)."""
        self._backlog: deque[Op] = deque()
        self._flushes: list[_Flush] = []
        self._memory_ops = memory_ops
        self._spill = SpillFile(spill_dir) if spill_dir is not None else None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> None:
        if self._closed:
            raise RuntimeError("the store writer is closed")
        self._q.put(op)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything submitted before is committed (False on timeout)."""
        marker = _Flush()
        self._q.put(marker)
        return marker.done.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._q.put(None)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error(
                "store: closing with records not yet written (%s); the store did not take them",
                self.stats.last_error,
            )

    @property
    def pending(self) -> int:
        """Operations not yet written: queued, in memory and on disk."""
        return self._q.qsize() + len(self._backlog) + (self._spill.count if self._spill else 0)

    # -- the thread -------------------------------------------------------------------------
    def _take(self, block: bool) -> bool:
        """Move what has been submitted into the backlog (flush markers to `_flushes`); whether
        to stop."""
        stop = False
        first = True
        while True:
            try:
                item = self._q.get() if block and first else self._q.get_nowait()
            except queue.Empty:
                break
            first = False
            if item is None:
                stop = True
            elif isinstance(item, _Flush):
                self._flushes.append(item)
            else:
                self._backlog.append(item)
        if self._spill is not None and len(self._backlog) > self._memory_ops:
            out = [self._backlog.popleft() for _ in range(len(self._backlog) - self._memory_ops)]
            self._spill.push(out)
        return stop

    def _run(self) -> None:
        stop = False
        while not stop:
            stop = self._take(block=not self._has_backlog())
            stop = self._write_backlog(stop) or stop
            if not self._has_backlog():  # everything submitted before each marker is written
                for f in self._flushes:
                    f.done.set()
                self._flushes.clear()
        if self._spill is not None:
            self._spill.close()

    def _has_backlog(self) -> bool:
        return bool(self._backlog) or bool(self._spill and self._spill.count)

    def _write_backlog(self, stopping: bool) -> bool:
        """Write everything held, oldest first: the disk's, then memory's; while the store is away,
        keep taking submissions (into memory, the oldest to disk) and try again. Whether the stop
        came meanwhile."""
        while self._has_backlog():
            from_disk = bool(self._spill and self._spill.count)
            if from_disk:
                assert self._spill is not None
                ops, offset = self._spill.peek(MAX_BATCH)
            else:
                ops = [self._backlog[i] for i in range(min(MAX_BATCH, len(self._backlog)))]
            if self._write_until_done(ops, stopping):
                if from_disk:
                    assert self._spill is not None
                    self._spill.pop(len(ops), offset)
                else:
                    for _ in ops:
                        self._backlog.popleft()
            elif stopping and self._spill is not None:  # away as the process stops: the rest to disk
                self._spill.push(list(self._backlog))
                self._backlog.clear()
                return True
            elif self._take(block=False):
                stopping = True  # closing while the store is away: try once more, then to disk
        return stopping

    def _write_until_done(self, ops: list[Op], stopping: bool) -> bool:
        """Write `ops` in one transaction; False when the store is away (tried again later)."""
        try:
            t0 = time.perf_counter()
            self._write(ops)
            took = time.perf_counter() - t0
            self.stats.commit_s.append(took)
            if self.observe is not None:
                self.observe(took)
            del self.stats.commit_s[:-1000]
            self.stats.batches += 1
            self.stats.ops += len(ops)
            return True
        except IntegrityError as e:
            # one op the store refuses (a repeat of a commit whose answer was lost, a duplicate id)
            # must not hold back every other call's record
            log.warning("store: a batch was refused (%s); writing its operations one by one", e.orig)
            for op in ops:
                try:
                    self._write([op])
                except IntegrityError:
                    self.stats.repeats += 1  # already there
                except (OperationalError, InterfaceError) as e1:  # away meanwhile: the batch again later
                    return self._away(e1, stopping)
                except SQLAlchemyError as e1:
                    log.error("store: dropped an operation the store refuses: %s (%s)", type(op).__name__, e1)
            return True
        except SQLAlchemyError as e:
            return self._away(e, stopping)

    def _away(self, e: Exception, stopping: bool) -> bool:
        """The store did not take a batch: count it, say so, and wait before the next try (not
        when stopping with a disk to keep the rest on). Always False."""
        self.stats.retries += 1
        self.stats.last_error = str(e).splitlines()[0]
        log.error("store: write failed (%d waiting), retrying in %.1f s: %s", self.pending, self._retry_s,
                  self.stats.last_error)  # fmt: skip
        if not (stopping and self._spill is not None):
            time.sleep(self._retry_s)  # the store's own pace: not a race, a back-off
        return False

    def _write(self, ops: list[Op]) -> None:
        starts = [o.row for o in ops if isinstance(o, CallStarted)]
        events = [r for o in ops if isinstance(o, CallEvents) for r in o.rows]
        with write_tx(self.engine) as conn:
            if starts:
                conn.execute(insert(calls), starts)
            if events:
                conn.execute(insert(call_events), events)
            for o in ops:
                if isinstance(o, CallUpdated) and o.values:
                    conn.execute(update(calls).where(calls.c.id == o.call_id).values(**o.values))
        self.stats.events += len(events)
