"""`ivr serve`: the hotline on its embedded defaults, on one box.

Marks what the last run left in flight, starts the supervisor (the speech service, the SIP
workers, Kamailio: `ivr.app.supervisor`), the retention purge and the QA screener, then runs
the HTTP API and the console until a signal; then stops everything it started, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from ivr.acd.engine import Acd
from ivr.api import create_app
from ivr.api.softphone import Softphone
from ivr.app import roles
from ivr.app import tls as app_tls
from ivr.app.hosts import Hosts
from ivr.app.speech_hosts import HostsEmbedder
from ivr.app.supervisor import Supervisor
from ivr.dialplan import DialplanError, check_dialplan
from ivr.dialplan.manager import DialplanManager
from ivr.privacy.redact import install_log_filter
from ivr.qa.config import QaConfigError, load_qa_config
from ivr.qa.screen import Screener
from ivr.records import Store, StoreError
from ivr.settings import HOST_NAME, SPEECH_HOSTS, Settings
from ivr.telephony.numbers import check_numbers, line_problems
from speech.service.embedder import BlockingEmbedder
from speech.service.protocol import Address
from speech.service.replies import SpeechUnavailable

log = logging.getLogger("ivr.serve")


GRACE_S = 3
"""How long a stop waits for the API's requests in flight."""


class _Server(uvicorn.Server):
    """uvicorn, told that a stop has begun before it handles the signal: no child is restarted
    from then on."""

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self._stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # SIGINT / SIGTERM
        self._stopping.set()
        super().handle_exit(sig, frame)


def _with_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    if args.dialplan:
        settings = replace(settings, dialplan=args.dialplan)
    if getattr(args, "numbers", None):
        settings = replace(settings, numbers=args.numbers)
    if getattr(args, "sip_port", None):
        settings = replace(settings, sip_port=args.sip_port)
    if getattr(args, "sip_workers", None) is not None:
        settings = replace(settings, sip_workers=args.sip_workers)
    if getattr(args, "rtp_port", None):
        settings = replace(settings, rtp_port=args.rtp_port)
    if getattr(args, "role", None):
        settings = replace(settings, role=args.role)
    return settings


def _softphone(settings: Settings, run_dir: Path, secure: bool) -> Softphone | None:
    """Where browsers register, when Kamailio listens for SIP over WebSocket (WSS with TLS)."""
    port = settings.websocket_port
    if not port or settings.sip_workers == 0:
        return None
    return Softphone(f"{'wss' if secure else 'ws'}://{settings.sip_host}:{port}", settings.sip_host, run_dir)


def _tidy_last_run(store: Store) -> None:
    """What the last run left: its calls in flight are interrupted, its live callers leave the
    queue (callbacks stay queued)."""
    cut = store.calls.mark_interrupted(HOST_NAME, reason="ivr serve stopped during the call")
    if cut:
        log.warning("%d call(s) left in flight by the last run: marked interrupted", len(cut))
    queue = Acd(store.engine, {}).worker_gone(HOST_NAME)
    if any(queue.values()):
        log.warning("the queue left by the last run: %s", queue)
    if not any(u["role"] == "admin" for u in store.users.list()):
        log.warning("no admin user yet: the API and console need one (ivr users add NAME --role admin)")


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """Run the hotline until SIGINT or SIGTERM; the exit code (2: could not start)."""
    settings = _with_flags(settings, args)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()
    run_dir = Path(settings.data_dir).resolve() / "run"  # its metrics folder is ready (ivr.cli.serve)
    if (problem := roles.missing(settings)) is not None:
        print(f"ivr: error: {problem}", file=sys.stderr)
        return 2
    try:
        store = Store(settings.store)
        qa_config = load_qa_config(settings.qa_config)
    except (StoreError, QaConfigError) as e:
        print(f"ivr: error: {e}", file=sys.stderr)
        return 2
    if settings.role in ("media", "speech"):
        try:
            return (roles.serve_media if settings.role == "media" else roles.serve_speech)(settings, store)
        finally:
            store.close()
    try:
        tls = app_tls.for_serve(
            settings.tls_cert, settings.tls_key, settings.data_dir, [host, settings.sip_host]
        )
    except app_tls.TlsError as e:
        print(f"ivr: error: {e}", file=sys.stderr)
        store.close()
        return 2
    _tidy_last_run(store)
    api = f"{'https' if tls else 'http'}://{host}:{port}"
    supervisor = Supervisor(settings, str(Path(settings.dialplan).resolve()), api, store, tls)
    watch = roles.edge_watch(settings, store, supervisor)
    prev = {
        sig: signal.signal(sig, lambda s, f: supervisor.stopping.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        try:
            app = _start(settings, supervisor, store, qa_config, run_dir, api)
        except _StartError as e:
            print(f"ivr: error: {e}", file=sys.stderr)
            return 2
        if supervisor.stopping.is_set():
            return 130
        for sig, handler in prev.items():
            signal.signal(sig, handler)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
            # an idle TLS keep-alive (a worker's, a browser's) is not waited for: asyncio would
            # wait 30 s for its close_notify before the stop could go on
            timeout_graceful_shutdown=GRACE_S,
        )
        if watch is not None:
            watch.start()
        _Server(config, supervisor.stopping).run()
    finally:
        if watch is not None:
            watch.stop()
        supervisor.stop()
        store.close()
    return 0


class _StartError(Exception):
    """What stops `ivr serve` from starting (said in one line)."""


def _start(
    settings: Settings, supervisor: Supervisor, store: Store, qa_config: Any, run_dir: Path, api: str
) -> FastAPI:
    """The speech service, the dialplan, the retention purge and the QA screener, the workers
    and Kamailio; the API's app to run."""
    if settings.numbers:  # refused at start with where, before the workers try it
        numbers, issues = check_numbers(settings.numbers)
        if numbers is None:
            raise _StartError(
                f"{settings.numbers}: the numbers file has errors:\n" + "\n".join(map(str, issues))
            )
        for name, file in numbers.dialplans.items():  # as `ivr validate` checks them
            plan, issues = check_dialplan(file)
            if plan is None:
                errors = [str(i) for i in issues if i.severity == "error"]
                raise _StartError(
                    f"{file}: dialplan {name} (in {settings.numbers}) has errors:\n" + "\n".join(errors)
                )
            if problems := line_problems(numbers, name, plan):
                raise _StartError("\n".join(problems))
    try:
        supervisor.start_speech()
        embedder: BlockingEmbedder | HostsEmbedder = (
            HostsEmbedder(Hosts(store.engine), settings.speech_secret, settings.speech_wait_s)
            if supervisor.speech_address == SPEECH_HOSTS
            else BlockingEmbedder(Address.parse(supervisor.speech_address, settings.speech_secret))
        )
        manager = DialplanManager(settings.dialplan, embedder)
    except DialplanError as e:
        raise _StartError(f"{settings.dialplan}: the dialplan has errors:\n{e}") from None
    except (RuntimeError, SpeechUnavailable) as e:
        raise _StartError(str(e)) from None
    app = create_app(
        manager,
        status=supervisor.status,
        store=store,
        token_ttl_s=settings.token_ttl_s,
        metrics_public=settings.metrics_public,
        run_dir=run_dir,
        embedder=embedder,
        qa_config=qa_config,
        softphone=_softphone(settings, run_dir, api.startswith("https")),
    )
    if supervisor.stopping.is_set():
        return app
    threading.Thread(target=_purge_daily, args=(store, settings, supervisor.stopping), daemon=True).start()
    # QA of every call as it ends: here, not in the worker, so a call a dead worker left is screened too
    screener = Screener(store, qa_config).loop
    threading.Thread(target=screener, args=(supervisor.stopping,), name="qa-screener", daemon=True).start()

    @app.on_event("startup")
    async def _startup() -> None:
        app.state.watcher = asyncio.create_task(manager.watch())

    if supervisor.workers or settings.role == "edge":
        try:
            supervisor.start()
        except RuntimeError as e:
            raise _StartError(str(e)) from None
    n = len(supervisor.workers)
    sip = (
        f"sip:hotline@{settings.sip_host}:{settings.sip_port} ({n} workers, {4 * n} calls)" if n else "no SIP"
    )
    if settings.role == "edge":
        sip = f"edge sip:hotline@{settings.sip_host}:{settings.sip_port} (to the media hosts in the store)"
    if n and supervisor.tls is not None and settings.tls_sip_port:
        sip += f", SIP over TLS on {settings.sip_host}:{settings.tls_sip_port} (SRTP {supervisor.srtp})"
    if n and settings.websocket_port:
        ws = "wss" if api.startswith("https") else "ws"
        sip += f", browsers' phones on {ws}://{settings.sip_host}:{settings.websocket_port}"
    print(
        f"ivr serve: dialplan {settings.dialplan} ({manager.active.dialplan.name}); {sip}; "
        f"speech service {supervisor.speech_address}; API on {api}",
        file=sys.stderr,
        flush=True,
    )
    if supervisor.tls is not None and supervisor.tls.made:
        print(f"ivr serve: a self-signed certificate ({supervisor.tls.cert}); its SHA-256 fingerprint, for "
              f"browsers to check: {supervisor.tls.fingerprint}", file=sys.stderr, flush=True)  # fmt: skip
    return app


def _purge_daily(store: Any, settings: Settings, stopping: threading.Event) -> None:
    """Retention: recordings and transcripts past their days are forgotten at start, then daily."""
    while not stopping.is_set():
        try:
            counts = store.calls.purge(settings.recordings_days, settings.transcripts_days, settings.data_dir)
            if any(counts.values()):
                log.info(
                    "retention purge: %(recordings)d recording(s), %(transcripts)d transcript(s)", counts
                )
        except Exception as e:  # the store is away: tried again tomorrow
            log.error("retention purge failed: %s", e)
        stopping.wait(24 * 3600)
