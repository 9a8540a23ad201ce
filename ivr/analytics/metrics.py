"""The IVR's Prometheus metrics, served at /metrics by `ivr serve`.

Every process of a serve (the workers, the speech service, serve itself) writes its samples
to one PROMETHEUS_MULTIPROC_DIR (serve sets it for its children before they start); the
exposition sums them, so one scrape sees the whole box. A process alone (a replay, a lone
worker) keeps its metrics in memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

from ivr.analytics.multiprocess import multiprocess_dir

CALLS_ACTIVE = Gauge("ivr_calls_active", "Calls in progress.", multiprocess_mode="livesum")
CALLS = Counter("ivr_calls", "Calls ended, by outcome.", ["outcome"])
RESPONSE = Histogram(
    "ivr_response_seconds",
    "The end of the caller's speech to the IVR's first audio of its answer (audio clock, in the worker).",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0),
)
STORE_COMMIT = Histogram(
    "ivr_store_commit_seconds",
    "One batch of call-record writes, committed.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


def call_started() -> None:
    CALLS_ACTIVE.inc()


def call_ended(outcome: str, summary: Any) -> None:
    CALLS_ACTIVE.dec()
    CALLS.labels(outcome=outcome).inc()


def response_ms(waited_ms: int) -> None:
    RESPONSE.observe(waited_ms / 1000)


class KamailioRejects:
    """ivr_sip_rejected_total: INVITEs Kamailio answered 503 (no worker could take the call),
    read from its statistics over the control socket at each scrape."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def collect(self) -> Any:
        from ivr.telephony.kamailio import kamcmd

        out = kamcmd(self.run_dir, "stats.get_statistics", "ivr_rejected") or ""
        m = re.search(r"ivr_rejected\s*=\s*(\d+)", out)
        if m:
            c = CounterMetricFamily("ivr_sip_rejected", "Calls Kamailio answered 503 (no worker free).")
            c.add_metric([], float(m.group(1)))
            yield c


def exposition(run_dir: Path | None = None) -> bytes:
    """The text a scrape gets: every process's metrics, summed."""
    d = multiprocess_dir()
    if d is None:
        from prometheus_client import REGISTRY

        registry: Any = REGISTRY
    else:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(d))
    if run_dir is not None:
        extra = CollectorRegistry()
        extra.register(KamailioRejects(run_dir))  # type: ignore[arg-type]
        return generate_latest(registry) + generate_latest(extra)
    return generate_latest(registry)
