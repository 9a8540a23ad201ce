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
from ivr.analytics.report import report
from ivr.telephony.kamailio import kamcmd

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
        out = kamcmd(self.run_dir, "stats.get_statistics", "ivr_rejected") or ""
        m = re.search(r"ivr_rejected\s*=\s*(\d+)", out)
        if m:
            c = CounterMetricFamily("ivr_sip_rejected", "Calls Kamailio answered 503 (no worker free).")
            c.add_metric([], float(m.group(1)))
            yield c


class LiveFigures:
    """The report's headline figures for today so far (the QA config's time zone), from the
    store at each scrape, kept 15 s so a busy scraper costs one report a quarter-minute."""

    def __init__(self, engine: Any, tz: str = "UTC", keep_s: float = 15.0) -> None:
        self.engine, self.tz, self.keep_s = engine, tz, keep_s
        self._cached: tuple[float, dict[str, Any]] | None = None

    def figures(self) -> dict[str, Any]:
        import time
        from datetime import datetime
        from zoneinfo import ZoneInfo

        now = time.time()
        if self._cached is None or now - self._cached[0] > self.keep_s:
            midnight = (
                datetime.now(ZoneInfo(self.tz)).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            )
            self._cached = (now, report(self.engine, midnight, now + 1, self.tz))
        return self._cached[1]

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        try:
            r = self.figures()
        except Exception:  # the store is away: this scrape has no figures, the others still do
            return

        def g(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> Any:
            m = GaugeMetricFamily(name, doc, labels=list(labels or {}))
            m.add_metric(list((labels or {}).values()), float(value))
            return m

        yield g("ivr_today_calls", "Calls ended today.", r["calls"])
        yield g(
            "ivr_today_containment_ratio", "Share of today's calls the AI resolved alone.", r["containment"]
        )
        yield g(
            "ivr_today_containment_redial_corrected_ratio",
            "Containment less calls re-dialled within a day.",
            r["containment_redial_corrected"],
        )
        tiers = GaugeMetricFamily(
            "ivr_today_tier_ratio", "Today's tier split (target 80/15/5).", labels=["tier"]
        )
        for t, v in r["tiers"].items():
            tiers.add_metric([t], v)
        yield tiers
        yield g(
            "ivr_today_abandon_ratio",
            "Share of today's queued callers who hung up waiting.",
            r["abandon_rate"],
        )
        yield g(
            "ivr_today_escalation_ratio", "Share of today's calls the radar escalated.", r["escalation_rate"]
        )
        yield g("ivr_qa_review_queue", "Today's calls waiting for a QA review.", r["qa"]["queued"])


def exposition(run_dir: Path | None = None, figures: LiveFigures | None = None) -> bytes:
    """The text a scrape gets: every process's metrics, summed."""
    d = multiprocess_dir()
    if d is None:
        from prometheus_client import REGISTRY

        registry: Any = REGISTRY
    else:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(d))
    out = generate_latest(registry)
    if run_dir is not None or figures is not None:
        extra = CollectorRegistry()
        if run_dir is not None:
            extra.register(KamailioRejects(run_dir))
        if figures is not None:
            extra.register(figures)
        out += generate_latest(extra)
    return out
