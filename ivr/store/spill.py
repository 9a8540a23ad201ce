"""The writer's overflow while the store is away: the oldest operations on disk, in order.

A JSON line per operation, appended and flushed to the OS (a killed process loses nothing
written; a machine's power cut may lose the last lines). The writer reads them back from
the front, a batch at a time, before what it holds in memory; a file that is read to its
end is removed. A process that died with a file left is someone else's to replay: the
next writer on the machine adopts files whose process is gone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ivr.store.ops import CallEvents, CallStarted, CallUpdated, Op

log = logging.getLogger("ivr.store")

PREFIX = "store-spill-"


def encode(op: Op) -> str:
    if isinstance(op, CallStarted):
        return json.dumps({"op": "start", "row": op.row}, default=str)
    if isinstance(op, CallEvents):
        return json.dumps({"op": "events", "rows": op.rows}, default=str)
    return json.dumps({"op": "update", "call_id": op.call_id, "values": op.values}, default=str)


def decode(line: str) -> Op:
    d: dict[str, Any] = json.loads(line)
    if d["op"] == "start":
        return CallStarted(d["row"])
    if d["op"] == "events":
        return CallEvents(d["rows"])
    return CallUpdated(d["call_id"], d["values"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SpillFile:
    """The on-disk part of a writer's backlog (FIFO): `push` the oldest out of memory, `peek`
    and `pop` them back in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / f"{PREFIX}{os.getpid()}.jsonl"
        self._queue: list[Path] = []  # files to replay, oldest first (adopted ones, then our own)
        self._offset = 0  # bytes of the first file already written to the store
        self.count = 0
        """Operations on disk, not yet written."""
        self._out: IO[str] | None = None
        for orphan in sorted(folder.glob(f"{PREFIX}*.jsonl")):
            pid = int(orphan.stem[len(PREFIX) :]) if orphan.stem[len(PREFIX) :].isdigit() else 0
            if pid != os.getpid() and not _alive(pid):
                n = sum(1 for _ in orphan.open(encoding="utf-8"))
                log.warning("store: %d operation(s) left on disk by process %d: writing them first", n, pid)
                self._queue.append(orphan)
                self.count += n

    def push(self, ops: list[Op]) -> None:
        if not ops:
            return
        if self._out is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._out = open(self.path, "a", encoding="utf-8")
            if self.path not in self._queue:
                self._queue.append(self.path)
        self._out.write("".join(encode(op) + "\n" for op in ops))
        self._out.flush()
        self.count += len(ops)

    def peek(self, limit: int) -> tuple[list[Op], int]:
        """Up to `limit` of the oldest operations, and where the next read starts."""
        if not self._queue:
            return [], 0
        ops: list[Op] = []
        with open(self._queue[0], encoding="utf-8") as f:
            f.seek(self._offset)
            for line in _lines(f, limit):
                ops.append(decode(line))
            return ops, f.tell()

    def pop(self, n: int, offset: int) -> None:
        """The `n` operations `peek` gave are in the store."""
        self.count -= n
        self._offset = offset
        first = self._queue[0]
        if offset >= first.stat().st_size:  # read to its end: gone
            if first == self.path and self._out is not None:
                self._out.close()
                self._out = None
            first.unlink(missing_ok=True)
            self._queue.pop(0)
            self._offset = 0

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _lines(f: IO[str], limit: int) -> Iterator[str]:
    for _ in range(limit):
        line = f.readline()
        if not line.endswith("\n"):  # the end, or a line still being written
            return
        yield line
