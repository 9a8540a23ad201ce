"""The shared model pool: priorities and superseded partials. Category: unit."""

from __future__ import annotations

import threading

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
