"""The shared model pool: priorities and superseded partials. Category: unit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from speech.pool import ModelPool, Priority, Superseded

pytestmark = pytest.mark.unit


def test_finals_overtake_queued_partials_and_stale_partials_are_dropped():
    pool = ModelPool(1)
    gate = threading.Event()
    order: list[str] = []
    blocker = pool.submit(lambda: gate.wait(10))  # occupies the only worker
    p1 = pool.submit(lambda: order.append("p1"), Priority.PARTIAL, replace_key="call#1")
    p2 = pool.submit(lambda: order.append("p2"), Priority.PARTIAL, replace_key="call#1")
    final = pool.submit(lambda: order.append("final"), Priority.FINAL)
    with pytest.raises(Superseded):
        p1.result(timeout=1)
    gate.set()
    blocker.result(timeout=5)
    final.result(timeout=5)
    p2.result(timeout=5)
    assert order == ["final", "p2"]
    assert pool.dropped == 1
    pool.close()


def test_dropping_a_running_job_leaves_it_alone():
    pool = ModelPool(1)
    started, gate = threading.Event(), threading.Event()

    def job():
        started.set()
        gate.wait(10)
        return 42

    fut = pool.submit(job, Priority.PARTIAL, replace_key="k")
    assert started.wait(5)
    pool.drop("k")  # already running: it finishes normally
    pool.submit(lambda: 1, Priority.PARTIAL, replace_key="k")
    gate.set()
    assert fut.result(timeout=5) == 42
    pool.close()


def test_a_failing_job_does_not_kill_the_worker():
    pool = ModelPool(1)
    bad = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bad.result(timeout=5)
    assert pool.submit(lambda: "alive").result(timeout=5) == "alive"
    pool.close()


def test_core_slots_are_shared_between_processes_and_freed_when_one_dies(tmp_path):
    import subprocess
    import sys

    from speech.slots import CoreSlots

    slots = CoreSlots(tmp_path, 2)
    assert slots.free() == 2
    holder = subprocess.Popen(  # another worker process holding one core
        [
            sys.executable,
            "-c",
            "import sys; from speech.slots import CoreSlots; "
            f"fd = CoreSlots({str(tmp_path)!r}, 2).try_acquire(); print(fd is not None, flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,  # the repository, wherever pytest starts
    )
    try:
        assert holder.stdout.readline().strip() == "True"
        assert slots.free() == 1
        assert slots.try_acquire(spare=1) is None  # no core to spare
        mine = slots.try_acquire()
        assert mine is not None and slots.free() == 0
        assert slots.try_acquire() is None
        CoreSlots.release(mine)
        holder.kill()  # kill -9: the kernel drops its lock, no slot is lost
        holder.wait(timeout=10)
        assert slots.free() == 2
    finally:
        holder.kill()


def test_partials_yield_the_cores_to_another_workers_final(tmp_path):
    from speech.slots import CoreSlots

    other = ModelPool(1, slots=CoreSlots(tmp_path, 2))  # another worker process's pool
    pool = ModelPool(1, slots=CoreSlots(tmp_path, 2))
    started, gate = threading.Event(), threading.Event()
    busy = other.submit(lambda: (started.set(), gate.wait(10)))
    assert started.wait(5)
    assert not pool.idle  # the pipeline asks for no partial now
    with pytest.raises(Superseded):
        pool.submit(lambda: "partial", Priority.PARTIAL).result(timeout=5)
    assert pool.submit(lambda: "final", Priority.FINAL).result(timeout=5) == "final"  # a free core
    gate.set()
    busy.result(timeout=5)
    assert pool.idle
    assert pool.submit(lambda: "partial", Priority.PARTIAL).result(timeout=5) == "partial"
    assert pool.dropped == 1
    pool.close()
    other.close()


def test_a_final_waits_for_a_core_and_a_prompt_does_not(tmp_path):
    from speech.slots import CoreSlots

    others = [ModelPool(1, slots=CoreSlots(tmp_path, 2)) for _ in range(2)]  # both cores busy
    gates = [threading.Event() for _ in others]
    started = [threading.Event() for _ in others]
    for other, go, began in zip(others, gates, started, strict=True):
        other.submit(lambda go=go, began=began: (began.set(), go.wait(10)))
    assert all(s.wait(5) for s in started)
    pool = ModelPool(1, slots=CoreSlots(tmp_path, 2))
    voice = ModelPool(1, slots=CoreSlots(tmp_path, 2))
    assert voice.submit(lambda: "prompt", Priority.PROMPT).result(timeout=5) == "prompt"
    final = pool.submit(lambda: "final", Priority.FINAL)
    with pytest.raises(TimeoutError):
        final.result(timeout=0.3)  # still waiting: no core is free
    gates[1].set()  # one core frees
    assert final.result(timeout=5) == "final"
    gates[0].set()
    for p in (*others, pool, voice):
        p.close()


def test_a_speculation_waiting_for_a_core_is_dropped_when_the_caller_speaks_on(tmp_path):
    from speech.slots import CoreSlots

    other = ModelPool(1, slots=CoreSlots(tmp_path, 1))  # the only core is busy
    started, gate = threading.Event(), threading.Event()
    other.submit(lambda: (started.set(), gate.wait(10)))
    assert started.wait(5)
    pool = ModelPool(1, slots=CoreSlots(tmp_path, 1))
    ran: list[str] = []
    waiting = pool.submit(lambda: ran.append("old"), Priority.FINAL, replace_key="call#1#speculation")
    with pytest.raises(TimeoutError):
        waiting.result(timeout=0.3)  # claimed by the worker, waiting for the core
    pool.drop("call#1#speculation")
    with pytest.raises(Superseded):
        waiting.result(timeout=5)
    gate.set()
    assert pool.submit(lambda: ran.append("new") or "new", Priority.FINAL).result(timeout=5) == "new"
    assert ran == ["new"]  # the dropped one never decoded
    pool.close()
    other.close()


def test_forgetting_a_key_keeps_its_job_and_bounds_the_tracking():
    pool = ModelPool(1)
    gate = threading.Event()
    pool.submit(lambda: gate.wait(10))
    futures = [
        pool.submit(lambda i=i: i, Priority.FINAL, replace_key=f"call#{i}#speculation") for i in range(50)
    ]
    for i in range(50):
        pool.forget(f"call#{i}#speculation")  # the utterance took its final from it
    pool.drop("call#7#speculation")  # no longer tracked: nothing is dropped
    gate.set()
    assert [f.result(timeout=5) for f in futures] == list(range(50))
    assert not pool._latest  # one entry per utterance would grow for the life of the worker
    pool.close()


def test_closing_the_pool_stops_a_final_that_waits_for_a_core(tmp_path):
    from speech.slots import CoreSlots

    other = ModelPool(1, slots=CoreSlots(tmp_path, 1))  # another process holds the only core
    started, gate = threading.Event(), threading.Event()
    other.submit(lambda: (started.set(), gate.wait(30)))
    assert started.wait(5)
    pool = ModelPool(1, slots=CoreSlots(tmp_path, 1))
    waiting = pool.submit(lambda: "final", Priority.FINAL)
    with pytest.raises(TimeoutError):
        waiting.result(timeout=0.3)
    pool.close()  # the worker shuts down: it does not wait for the other process's job
    with pytest.raises(Superseded):
        waiting.result(timeout=1)
    gate.set()
    other.close()
