"""The one writer of a process: call records go to the store in batches, off the event loop.

A call's events are handed over as they happen (`submit` never blocks and never touches the
database); a thread takes whatever has queued and writes it in one transaction. Under load
that is many calls' events in a commit; on a quiet line a single event is written within
milliseconds. When the store refuses (locked past the busy timeout, PostgreSQL down) the
batch is kept and tried again: a record is late, never lost, while the process lives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ivr.store.engine import write_tx
from ivr.store.tables import call_events, calls

log = logging.getLogger("ivr.store")

MAX_BATCH = 2000


@dataclass(frozen=True, slots=True)
class CallStarted:
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallEvents:
    rows: list[dict[str, Any]]  # call_id, seq, t_ms, type, data


@dataclass(frozen=True, slots=True)
class CallUpdated:
    call_id: str
    values: dict[str, Any]


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


Op = CallStarted | CallEvents | CallUpdated


@dataclass(slots=True)
class WriterStats:
    batches: int = 0
    ops: int = 0
    events: int = 0
    retries: int = 0
    last_error: str = ""
    commit_s: list[float] = field(default_factory=list)  # the last commits' durations (for /metrics, bench)


class StoreWriter:
    def __init__(self, engine: Engine, retry_s: float = 0.5) -> None:
        self.engine = engine
        self._q: queue.SimpleQueue[Op | _Flush | None] = queue.SimpleQueue()
        self._retry_s = retry_s
        self._closed = False
        self.stats = WriterStats()
        self.observe: Callable[[float], None] | None = None
        """Told each commit's duration in seconds (the worker's /metrics histogram)."""
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
        return self._q.qsize()

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            batch: list[Op | _Flush | None] = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            ops = [o for o in batch if isinstance(o, CallStarted | CallEvents | CallUpdated)]
            stop = any(o is None for o in batch)
            if ops:
                self._write_until_done(ops)
            for o in batch:
                if isinstance(o, _Flush):
                    o.done.set()

    def _write_until_done(self, ops: list[Op]) -> None:
        while True:
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
                return
            except IntegrityError as e:
                # one bad op (a duplicate id) must not hold back every other call's record
                log.error("store: a batch was refused (%s); writing its operations one by one", e.orig)
                for op in ops:
                    try:
                        self._write([op])
                    except SQLAlchemyError as e1:
                        log.error(
                            "store: dropped an operation the store refuses: %s (%s)", type(op).__name__, e1
                        )
                return
            except SQLAlchemyError as e:
                self.stats.retries += 1
                self.stats.last_error = str(e)
                log.error("store: write failed, retrying in %.1f s: %s", self._retry_s, e)
                time.sleep(self._retry_s)

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
