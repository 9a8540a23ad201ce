"""Box-wide model slots: the worker processes of one machine share its cores.

Each worker process has its own model pool, but the cores are the machine's. Turns end
in bursts, and a partial transcript decoding in one worker slows a final transcript in
another. `CoreSlots` is one lock file per core in a directory every worker opens: a
running model job holds a slot (an exclusive `flock`), so any worker can see how many
cores are busy. A partial only starts with a slot to spare (on 2 cores: when nothing else
decodes anywhere), and is dropped otherwise. Finals wait for a free slot: with 8 workers a
burst of turns would otherwise run 8 decodes at once on 2 cores, each 4-8x slower, where
one after another each is done in ~110 ms. Prompts take a free slot or run anyway. The
kernel drops the locks of a process that dies, so a crashed worker cannot leak a slot.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path


class CoreSlots:
    def __init__(self, directory: str | os.PathLike[str], count: int | None = None) -> None:
        self.count = max(1, count or os.cpu_count() or 1)
        self._paths = [Path(directory) / f"slot-{i}" for i in range(self.count)]
        Path(directory).mkdir(parents=True, exist_ok=True)
        for p in self._paths:
            p.touch(exist_ok=True)

    def _try(self, i: int) -> int | None:
        """An fd holding slot i, or None if another job holds it (a lock is per open file,
        so two threads of one process exclude each other too)."""
        fd = os.open(self._paths[i], os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def try_acquire(self, spare: int = 0) -> int | None:
        """Take a free slot, provided `spare` more stay free after it; the held fd, or None."""
        held: list[int] = []
        try:
            for i in range(self.count):
                fd = self._try(i)
                if fd is not None:
                    held.append(fd)
                    if len(held) > spare:
                        break
            if len(held) <= spare:
                return None
            mine = held.pop(0)
            return mine
        finally:
            for fd in held:
                self.release(fd)

    def acquire(self, cancelled: Callable[[], bool] = lambda: False, poll_s: float = 0.005) -> int | None:
        """Take the first slot to come free (the held fd), or None once `cancelled()`. It looks
        again every `poll_s` (a job lasts ~100 ms): a blocking lock on one slot would wait for
        that slot even when another frees first, and forever behind a job that hangs."""
        wait = threading.Event()
        while not cancelled():
            fd = self.try_acquire()
            if fd is not None:
                return fd
            wait.wait(poll_s)
        return None

    def free(self) -> int:
        """How many slots no job holds now (a snapshot)."""
        n = 0
        for i in range(self.count):
            fd = self._try(i)
            if fd is not None:
                n += 1
                self.release(fd)
        return n

    @staticmethod
    def release(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the file drops its lock
