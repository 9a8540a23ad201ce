"""One metrics folder for all of a serve's processes (prometheus-client's multiprocess mode).

Kept apart from `metrics` so that serve can set the folder up before prometheus_client is
imported: the client picks in-memory or file-backed values when it is imported.
"""

from __future__ import annotations

import os
from pathlib import Path


def multiprocess_dir() -> Path | None:
    d = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(d) if d else None


def prepare_multiprocess(directory: Path) -> None:
    """Start a serve's metrics afresh (before any process of it writes one). Must run before
    prometheus_client is imported in this process."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in directory.glob("*.db"):
        f.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def process_died(pid: int) -> None:
    """A child is gone: its live gauges (calls active, queue depth) stop counting."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
