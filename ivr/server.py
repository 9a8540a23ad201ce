"""`ivr serve`: the hotline on its embedded defaults.

Kamailio takes the hotline's SIP address (sip:hotline@127.0.0.1:5060) and dispatches calls
to worker processes of at most 4 calls each; this process supervises them (a crashed
worker is restarted; the others' calls are untouched), runs the HTTP API with the demo
billing backend the dialplan looks things up in, and watches the dialplan file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ivr.settings import Settings

log = logging.getLogger("ivr.serve")


@dataclass
class WorkerProc:
    index: int
    sip_port: int
    rtp_port: int
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0

    def status(self) -> dict:
        alive = self.proc is not None and self.proc.poll() is None
        return {
            "index": self.index,
            "sip_port": self.sip_port,
            "rtp_port": self.rtp_port,
            "pid": self.proc.pid if self.proc else None,
            "alive": alive,
            "restarts": self.restarts,
        }


class Supervisor:
    """Starts Kamailio and the workers, and restarts any worker that dies."""

    def __init__(self, settings: Settings, dialplan: str, api_base: str) -> None:
        self.settings = settings
        self.dialplan = dialplan
        self.api_base = api_base
        self.run_dir = Path(settings.data_dir).resolve() / "run"  # Kamailio changes directory
        self.workers = [
            WorkerProc(i, settings.sip_port + 1 + i, settings.rtp_port + 200 * i)
            for i in range(settings.sip_workers)
        ]
        self.kamailio: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        # one whisper thread per decode: on this box a second thread does not make a tiny.en
        # decode faster (111 vs 127 ms measured alone) and oversubscribes the cores when two
        # workers decode at once; the workers share the cores through box-wide slots
        self.asr_threads = 1

    def start(self) -> None:
        from ivr.sip import kamailio

        self.run_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        cfg = kamailio.write_config(
            self.run_dir, s.sip_host, s.sip_port, [(s.sip_host, w.sip_port) for w in self.workers]
        )
        kamailio.check_config(cfg)
        for w in self.workers:
            self._spawn(w)
        log_path = self.run_dir / "kamailio.log"
        self.kamailio = kamailio.start(cfg, log_path, self.run_dir)
        # a taken port must be a clear error at start, not a restart loop
        deadline = time.monotonic() + 15
        while not kamailio.answering(self.run_dir):
            if self.kamailio.poll() is not None or time.monotonic() > deadline:
                lines = log_path.read_text(errors="replace").strip().splitlines()
                errors = [x for x in lines if "ERROR" in x] or lines[-3:]
                raise RuntimeError(
                    f"kamailio did not start on {s.sip_host}:{s.sip_port}: {errors[-1].strip()}"
                )
            time.sleep(0.1)
        self._thread.start()

    def _spawn(self, w: WorkerProc) -> None:
        exe = Path(sys.executable).with_name("ivr")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ivr.cli"]
        # one model job at a time per worker: queued jobs stay droppable (a speculation the
        # caller talked over never runs); two per worker measured no better (8 calls: 379-456
        # vs 371-413 ms p50; 16: worse). IVR_ASR_WORKERS overrides
        env = {
            "IVR_ASR_THREADS": str(self.asr_threads),
            "IVR_CORE_SLOTS": str(self.run_dir / "slots"),
            **os.environ,
            "PYTHONUNBUFFERED": "1",
        }
        w.proc = subprocess.Popen(
            [
                *cmd,
                "worker",
                "--host",
                self.settings.sip_host,
                "--sip-port",
                str(w.sip_port),
                "--rtp-port",
                str(w.rtp_port),
                "--dialplan",
                self.dialplan,
                "--data-dir",
                self.settings.data_dir,
                "--api-base",
                self.api_base,
            ],
            stdout=open(self.run_dir / f"worker-{w.index}.log", "a"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        w.started_at = time.time()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for w in self.workers:
                if w.proc is not None and w.proc.poll() is not None:
                    log.warning(
                        "worker %d (port %d) exited with %s: restarting",
                        w.index,
                        w.sip_port,
                        w.proc.returncode,
                    )
                    w.restarts += 1
                    self._spawn(w)
            if self.kamailio is not None and self.kamailio.poll() is not None:
                log.error("kamailio exited with %s: restarting", self.kamailio.returncode)
                from ivr.sip import kamailio

                self.kamailio = kamailio.start(
                    self.run_dir / "kamailio.cfg", self.run_dir / "kamailio.log", self.run_dir
                )

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        procs = [w.proc for w in self.workers if w.proc] + ([self.kamailio] if self.kamailio else [])
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    def status(self) -> dict:
        from ivr.sip.kamailio import dispatcher_state

        alive = self.kamailio is not None and self.kamailio.poll() is None
        dispatch = dispatcher_state(self.run_dir) if alive else {}
        workers = []
        for w in self.workers:
            row = w.status()
            row["dispatcher"] = dispatch.get(f"sip:{self.settings.sip_host}:{w.sip_port}", "unknown")
            workers.append(row)
        return {
            "sip": f"sip:hotline@{self.settings.sip_host}:{self.settings.sip_port}",
            "kamailio_alive": alive,
            "workers": workers,
        }


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from ivr.api import create_app
    from ivr.dialplan import DialplanError
    from ivr.dialplan.manager import DialplanManager
    from ivr.intents import Embedder

    if args.dialplan:
        settings = replace(settings, dialplan=args.dialplan)
    if getattr(args, "sip_port", None):
        settings = replace(settings, sip_port=args.sip_port)
    if getattr(args, "sip_workers", None) is not None:
        settings = replace(settings, sip_workers=args.sip_workers)
    if getattr(args, "rtp_port", None):
        settings = replace(settings, rtp_port=args.rtp_port)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        manager = DialplanManager(settings.dialplan, Embedder())
    except DialplanError as e:
        print(f"ivr: error: {settings.dialplan}: the dialplan has errors:\n{e}", file=sys.stderr)
        return 2
    supervisor = Supervisor(settings, str(Path(settings.dialplan).resolve()), f"http://{host}:{port}")
    app = create_app(manager, status=supervisor.status)

    @app.on_event("startup")
    async def _startup() -> None:
        app.state.watcher = asyncio.create_task(manager.watch())

    if supervisor.workers:
        try:
            supervisor.start()
        except RuntimeError as e:
            print(f"ivr: error: {e}", file=sys.stderr)
            supervisor.stop()
            return 2
    sip = (
        f"sip:hotline@{settings.sip_host}:{settings.sip_port} ({len(supervisor.workers)} workers)"
        if supervisor.workers
        else "no SIP"
    )
    print(
        f"ivr serve: dialplan {settings.dialplan} ({manager.active.dialplan.name}); {sip}; API on http://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        supervisor.stop()
    return 0
