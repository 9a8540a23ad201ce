"""How many SIP workers a machine holds: sized to its cores and memory.

A worker holds at most 4 calls (the pjsua2 wheel), costs ~100-150 MB (no models: those are
the speech service's) and, with calls, some CPU for frames, VAD and the radar. Measured on
this 2-core box: 32 connected calls cost ~18% of it in the workers, and the speech service's
decodes are what runs out first. So: 4 workers per core (16 calls a core) unless memory is
shorter, keeping room for the speech service and the rest of the machine.
"""

from __future__ import annotations

import os

CALLS_PER_WORKER = 4
WORKERS_PER_CORE = 4
WORKER_MB = 250  # a worker with 4 calls and their buffers, with room to spare
SPEECH_SERVICE_MB = 1500  # whisper, piper, MiniLM and their arenas under load
RESERVE_MB = 1024  # the API, Kamailio, the page cache


def available_mb() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 4096


def auto_workers(cores: int | None = None, memory_mb: int | None = None) -> int:
    """Workers for this machine: at least 1, at most what its cores and memory carry."""
    cores = cores or os.cpu_count() or 1
    memory_mb = available_mb() if memory_mb is None else memory_mb
    by_memory = (memory_mb - SPEECH_SERVICE_MB - RESERVE_MB) // WORKER_MB
    return max(1, min(WORKERS_PER_CORE * cores, by_memory))
