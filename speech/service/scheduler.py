"""What the speech service runs next: the one place on a machine that decides.

Sans-IO: jobs go in, `take()` says which job (or batch of transcriptions) a free lane runs
now; no threads, no models, no clock of its own (the caller passes `now_s`). `JobQueue`
wraps it for the service's lane threads.

Policy:
- **finals before prompts before partials.** A final transcript ends a caller's turn; a
  prompt is what the caller hears next; a partial only refreshes a live transcript.
  Embeddings (intent matching at the end of a turn) rank with finals: they are small and on
  the same critical path.
- **a job with a `key` supersedes** a still-queued job of the same key (a newer partial of
  the same utterance), and `drop(key)` removes one (the caller spoke on over a speculative
  final). A running job is never interrupted.
- **partials thin out first under load**: a partial starts only while a lane stays free for
  a final (on 2 lanes: when nothing else runs), and one that waited longer than
  `partial_stale_s` is dropped (a newer one is on its way).
- **batching**: a lane that takes a transcription also takes the others of the same
  priority waiting at that moment, up to `max_batch`, decoded in one model call.
  A synthesis runs one sentence at a time and goes back in the queue in its place, so a
  long answer never holds a lane while a final waits.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Priority(IntEnum):
    FINAL = 0
    PROMPT = 1
    PARTIAL = 2


class Kind(StrEnum):
    TRANSCRIBE = "transcribe"
    SYNTHESIZE = "synthesize"
    EMBED = "embed"


@dataclass(eq=False)
class Job:
    kind: Kind
    priority: Priority
    key: str | None = None
    payload: Any = None
    """What the lane needs to run it (audio, text...)."""
    on_dropped: Callable[[str], None] | None = None
    """Called (outside the scheduler's lock) with the reason when the job is dropped unrun."""
    submitted_s: float = 0.0
    keep: bool = False
    """A partial never dropped as stale (a replay's: the same call gives the same words at
    any load, since the final's decode starts from the partials' committed words)."""
    seq: int = 0
    state: str = "new"  # queued, running, done, dropped

    def sort_key(self) -> tuple[int, int]:
        return (int(self.priority), self.seq)


@dataclass
class Scheduler:
    lanes: int = 2
    max_batch: int = 4
    partial_stale_s: float = 0.4
    _heap: list[tuple[tuple[int, int], Job]] = field(default_factory=list)
    _keys: dict[str, Job] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    running: int = 0
    dropped: int = 0
    completed: int = 0
    batches: dict[int, int] = field(default_factory=dict)
    """How many transcription batches of each size ran (for the figures)."""

    def submit(self, job: Job, now_s: float) -> list[Job]:
        """Queue `job`; returns the jobs it superseded (dropped)."""
        dropped = []
        if job.key is not None:
            old = self._keys.get(job.key)
            if old is not None and old.state == "queued":
                old.state = "dropped"
                self.dropped += 1
                dropped.append(old)
            self._keys[job.key] = job
        job.seq = next(self._seq)
        job.submitted_s = now_s
        job.state = "queued"
        heapq.heappush(self._heap, (job.sort_key(), job))
        return dropped

    def requeue(self, job: Job) -> None:
        """A synthesis with more sentences to go goes back in its place (its old seq)."""
        self.running -= 1
        if job.state == "dropped":  # dropped while its sentence was synthesised
            return
        job.state = "queued"
        heapq.heappush(self._heap, (job.sort_key(), job))

    def drop(self, key: str) -> Job | None:
        job = self._keys.pop(key, None)
        if job is None:
            return None
        if job.state == "queued":
            job.state = "dropped"
            self.dropped += 1
            return job
        if job.state == "running" and job.kind is Kind.SYNTHESIZE:
            job.state = "dropped"  # its next sentence is not wanted: not requeued
        return None

    @property
    def queued(self) -> int:
        return sum(1 for _, j in self._heap if j.state == "queued")

    @property
    def load(self) -> int:
        return self.queued + self.running

    def _partial_may_start(self) -> bool:
        return self.running < max(1, self.lanes - 1)

    def take(self, now_s: float) -> tuple[list[Job], list[Job]]:
        """(what a free lane runs now, possibly empty; stale partials dropped meanwhile)."""
        stale: list[Job] = []
        skipped: list[tuple[tuple[int, int], Job]] = []
        chosen: list[Job] = []
        while self._heap:
            sort_key, job = heapq.heappop(self._heap)
            if job.state != "queued":
                continue
            if job.priority is Priority.PARTIAL:
                if not job.keep and now_s - job.submitted_s > self.partial_stale_s:
                    job.state = "dropped"
                    self.dropped += 1
                    stale.append(job)
                    continue
                if not self._partial_may_start():
                    skipped.append((sort_key, job))
                    continue
            chosen = [job]
            break
        if chosen and chosen[0].kind is Kind.TRANSCRIBE:
            first = chosen[0]
            rest: list[tuple[tuple[int, int], Job]] = []
            while self._heap and len(chosen) < self.max_batch:
                sort_key, job = heapq.heappop(self._heap)
                if job.state != "queued":
                    continue
                if job.kind is Kind.TRANSCRIBE and job.priority is first.priority:
                    chosen.append(job)
                else:
                    rest.append((sort_key, job))
                    if job.priority > first.priority:
                        break  # the heap is ordered: nothing of this priority is left
            for item in rest:
                heapq.heappush(self._heap, item)
        for item in skipped:
            heapq.heappush(self._heap, item)
        for job in chosen:
            job.state = "running"
            if job.key is not None and self._keys.get(job.key) is job and job.kind is not Kind.SYNTHESIZE:
                del self._keys[job.key]
        if chosen:
            self.running += 1
            if chosen[0].kind is Kind.TRANSCRIBE:
                self.batches[len(chosen)] = self.batches.get(len(chosen), 0) + 1
        return chosen, stale

    def done(self, jobs: list[Job]) -> None:
        """A lane finished `jobs` (one take)."""
        self.running -= 1
        for job in jobs:
            if job.state == "running":
                job.state = "done"
            if job.key is not None and self._keys.get(job.key) is job:
                del self._keys[job.key]
            self.completed += 1


class JobQueue:
    """The scheduler behind a lock, for lane threads: `get()` blocks until there is work."""

    def __init__(self, scheduler: Scheduler, clock: Callable[[], float]) -> None:
        self._s = scheduler
        self._clock = clock
        self._cond = threading.Condition()
        self._closed = False

    @property
    def scheduler(self) -> Scheduler:
        return self._s

    @property
    def load(self) -> int:
        with self._cond:
            return self._s.load

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the speech service is stopping")
            dropped = self._s.submit(job, self._clock())
            self._cond.notify()
        _notify_dropped(dropped, "superseded by a newer request")

    def drop(self, key: str) -> None:
        with self._cond:
            job = self._s.drop(key)
        if job is not None:
            _notify_dropped([job], "dropped by the client")

    def get(self) -> list[Job] | None:
        """The next jobs for this lane; None once closed."""
        while True:
            with self._cond:
                if self._closed:
                    return None
                jobs, stale = self._s.take(self._clock())
                if not jobs and not stale:
                    # nothing runnable: wait for work, or for a waiting partial to go stale
                    self._cond.wait(timeout=0.05 if self._s.queued else None)
            _notify_dropped(stale, "stale: the service was busy")
            if jobs:
                return jobs

    def requeue(self, job: Job) -> None:
        with self._cond:
            self._s.requeue(job)
            self._cond.notify()

    def done(self, jobs: list[Job]) -> None:
        with self._cond:
            self._s.done(jobs)
            self._cond.notify_all()  # a partial may start now

    def close(self) -> list[Job]:
        """Stop; returns the jobs still queued (their requests get an error)."""
        with self._cond:
            self._closed = True
            left = [j for _, j in self._s._heap if j.state == "queued"]
            self._s._heap.clear()
            self._cond.notify_all()
        return left


def _notify_dropped(jobs: list[Job], reason: str) -> None:
    for job in jobs:
        if job.on_dropped is not None:
            job.on_dropped(reason)
