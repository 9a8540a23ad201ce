"""The supervisor of `ivr serve` (`ivr.app.serve`).

It starts and supervises, in this order: the speech service (the machine's
models, on DATA_DIR/run/speech.sock), the SIP workers (thin: pjsua2 and the call sessions,
sized to the machine), and Kamailio (the hotline's SIP address, dispatching calls to the
workers).

A child that dies is started again (a worker's calls, or the service's restart, touch no
other process's calls); a worker whose SIP port another program took is moved to a free
one. The children run in sessions of their own and die with this process (PDEATHSIG), so
a signal to the terminal's process group reaches only `ivr serve`, which stops them all in
order and restarts nothing while it stops.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ivr.acd.engine import Acd
from ivr.analytics.multiprocess import process_died
from ivr.app.children import EXIT_PORT_TAKEN, WorkerProc, die_with_parent, reap_group, spawn
from ivr.app.edge import TrunkWatch
from ivr.app.tls import Tls, self_signed
from ivr.call.record import HOST
from ivr.settings import SPEECH_HOSTS, Settings
from ivr.telephony import kamailio, rtpengine, webrtc
from ivr.telephony.capacity import auto_workers
from ivr.telephony.kamailio import dispatcher_state
from speech.service.protocol import Address

log = logging.getLogger("ivr.serve")


def ivr_command() -> list[str]:
    exe = Path(sys.executable).with_name("ivr")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ivr.cli"]


def port_free(host: str, port: int) -> bool:
    """Both UDP and TCP `port` can be bound now (SIP listens on both)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def default_speech_socket(run_dir: Path) -> str:
    """DATA_DIR/run/speech.sock, or a short name in the temp folder when that path is longer
    than a Unix socket's name may be (108 bytes on Linux)."""
    path = str(run_dir / "speech.sock")
    if len(path.encode()) < 100:
        return path
    import hashlib
    import tempfile

    digest = hashlib.sha1(str(run_dir).encode()).hexdigest()[:12]
    return str(Path(tempfile.gettempdir()) / f"ivr-speech-{digest}.sock")


class Supervisor:
    """Starts the speech service, the workers and Kamailio, and restarts what dies."""

    def __init__(
        self, settings: Settings, dialplan: str, api_base: str, store: Any = None, tls: Tls | None = None
    ) -> None:
        self.settings = settings
        self.tls = tls
        """HTTPS and WSS (`ivr.app.tls`): Kamailio's WSS port, and the workers trust the API's certificate."""
        self.store = store
        self.dialplan = dialplan
        self.api_base = api_base
        self.run_dir = Path(settings.data_dir).resolve() / "run"  # Kamailio changes directory
        self.role = settings.role
        self.runs_edge = self.role in ("all", "edge")
        """Kamailio (and rtpengine) here: one box, or the edge of several."""
        if self.role == "speech":
            self.own_speech, self.speech_address = True, settings.speech_listen
        else:
            self.own_speech = self.role == "all" and not settings.speech
            self.speech_address = settings.speech or (
                SPEECH_HOSTS if self.role != "all" else default_speech_socket(self.run_dir)
            )
        n = auto_workers() if settings.sip_workers is None else settings.sip_workers
        n = n if self.role in ("all", "media") else 0
        self.workers = [
            WorkerProc(i, settings.sip_port + 2 + i, settings.rtp_port + 200 * i) for i in range(n)
        ]
        self.kamailio: subprocess.Popen | None = None
        self.rtpengine: subprocess.Popen | None = None
        self.rtpengine_cmd: list[str] = []
        self.speech: subprocess.Popen | None = None
        self.trunks: TrunkWatch | None = None
        self.srtp = settings.srtp or ("optional" if tls else "off")
        """SDES-SRTP in the workers: offered wherever signalling can be TLS."""
        self.speech_restarts = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    # -- start ---------------------------------------------------------------------------
    def start_speech(self, timeout_s: float = 180.0) -> None:
        """Start the speech service and wait until it answers (the models take a few s)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.own_speech:
            return
        self._spawn_speech()

        address = Address.parse(self.speech_address)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.speech is not None and self.speech.poll() is not None:
                tail = (self.run_dir / "speech.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"the speech service did not start: {' | '.join(tail)}")
            try:
                address.connect_blocking(1.0).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the speech service did not answer on {address} in {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.1)

    def start(self) -> None:
        """Start the workers (media, all) and Kamailio (edge, all), and supervise them."""
        s = self.settings
        for w in self.workers:
            if not port_free(s.sip_host, w.sip_port):
                w.sip_port = self._free_port()
        if not self.runs_edge:
            for w in self.workers:
                self._spawn(w)
            self._thread.start()
            return
        ws_port = s.websocket_port
        ng_port = self._start_rtpengine() if ws_port else 0
        self.trunks = TrunkWatch(s.numbers, self.run_dir)
        cfg = kamailio.write_config(
            self.run_dir,
            s.sip_host,
            s.sip_port,
            self.local_targets(),
            store_url=s.store,
            ws_port=ws_port,
            ws_secret=webrtc.load_secret(self.run_dir, create=True) if ws_port else None,
            rtpengine_ng=ng_port,
            ws_tls=self._kamailio_tls(),
            trunks=self.trunks.trunks,
            tls_port=s.tls_sip_port if self.tls else 0,
        )
        kamailio.check_config(cfg)
        for w in self.workers:
            self._spawn(w)
        log_path = self.run_dir / "kamailio.log"
        self.kamailio = kamailio.start(cfg, log_path, self.run_dir, preexec_fn=die_with_parent)
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

    def local_targets(self) -> list[tuple[str, int]]:
        """This box's workers, as Kamailio's dispatcher set (an edge's come from the store)."""
        return [(self.settings.sip_host, w.sip_port) for w in self.workers]

    def set_targets(self, targets: list[tuple[str, int]]) -> bool:
        """The edge's dispatcher set, from the media hosts' heartbeats: reloaded, not restarted,
        with the new-calls limit sized to the workers now behind it. False: not reloaded yet."""
        kamailio.write_dispatcher_list(self.run_dir, targets)
        if self.kamailio is None or self.kamailio.poll() is not None:
            return True  # read at Kamailio's (re)start
        if kamailio.kamcmd(self.run_dir, "dispatcher.reload") is None:
            return False
        kamailio.set_max_cps(self.run_dir, len(targets))
        return True

    def _kamailio_tls(self) -> tuple[Path, Path] | None:
        """Kamailio's certificate: the console's; or, with none, a self-signed one when a trunk is
        reached over TLS (its tls module needs one even to dial out)."""
        if self.tls is not None:
            return self.tls.cert, self.tls.key
        if self.trunks is not None and any("transport=tls" in t.proxy for t in self.trunks.trunks.values()):
            own = self_signed(self.run_dir / "tls-trunks", [self.settings.sip_host])
            return own.cert, own.key
        return None

    def _start_rtpengine(self) -> int:
        """Start rtpengine for browsers' media; its control port, or 0 when it is not installed."""
        exe = rtpengine.binary()
        if exe is None:
            log.warning(
                "rtpengine is not installed (Debian rtpengine-daemon; `make setup` installs it): "
                "browsers' phones register but cannot take calls"
            )
            return 0
        ng_port = rtpengine.free_udp_port(self.settings.sip_host)
        first = self.settings.rtp_port + 200 * len(self.workers)
        self.rtpengine_cmd = rtpengine.command(exe, self.settings.sip_host, ng_port, first)
        self.rtpengine = rtpengine.start(self.rtpengine_cmd, self.run_dir / "rtpengine.log", die_with_parent)
        deadline = time.monotonic() + 10  # Kamailio pings it once at start: it must answer by then
        while not rtpengine.answering(self.settings.sip_host, ng_port):
            if self.rtpengine.poll() is not None or time.monotonic() > deadline:
                log.warning("rtpengine did not start (see rtpengine.log): browsers' phones cannot take calls")
                return 0
            time.sleep(0.05)
        return ng_port

    def _free_port(self) -> int:
        used = {w.sip_port for w in self.workers} | {self.settings.sip_port, self.settings.tls_sip_port}
        port = max(used) + 1
        while port in used or not port_free(self.settings.sip_host, port):
            port += 1
        return port

    def _spawn_speech(self) -> None:
        # two malloc arenas, not one per lane thread: 720 -> 620 MB PSS after a burst here
        env = {"MALLOC_ARENA_MAX": "2", **os.environ, "PYTHONUNBUFFERED": "1"}
        self.speech = spawn(
            [*ivr_command(), "speech", "--listen", self.speech_address], self.run_dir / "speech.log", env
        )

    def _spawn(self, w: WorkerProc) -> None:
        # two malloc arenas, as for the speech service: a worker's threads (pjsua2's, the store
        # writer's, asyncio's executor) each grew an arena of their own over a long soak
        env = {
            "MALLOC_ARENA_MAX": "2",
            **os.environ,
            "IVR_SPEECH": self.speech_address,
            "PYTHONUNBUFFERED": "1",
            **({"IVR_API_CA": str(self.tls.cert)} if self.tls else {}),  # else a media host's own
            "IVR_SRTP": self.srtp,
        }
        w.proc = spawn(
            [
                *ivr_command(),
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
                self.settings.api_url if self.role == "media" else self.api_base,
                "--hotline",
                self.settings.edge_sip
                if self.role == "media"
                else f"{self.settings.sip_host}:{self.settings.sip_port}",
                *(["--numbers", self.settings.numbers] if self.settings.numbers else []),
            ],
            self.run_dir / f"worker-{w.index}.log",
            env,
        )
        w.started_at = time.time()

    # -- supervision -----------------------------------------------------------------------
    def _watch(self) -> None:
        while not self.stopping.wait(0.5):
            with self._lock:
                if self.stopping.is_set():
                    return
                if self.trunks is not None:
                    self.trunks.poll()
                if self.speech is not None and self.speech.poll() is not None:
                    log.warning("the speech service exited with %s: restarting", self.speech.returncode)
                    process_died(self.speech.pid)
                    self.speech_restarts += 1
                    self._spawn_speech()
                moved = False
                for w in self.workers:
                    if w.proc is not None and w.proc.poll() is not None:
                        code = w.proc.returncode
                        self._worker_died(w, code)
                        if code == EXIT_PORT_TAKEN:
                            old, w.sip_port = w.sip_port, self._free_port()
                            log.warning(
                                "worker %d: SIP port %d is taken: moving it to %d", w.index, old, w.sip_port
                            )
                            moved = True
                        else:
                            log.warning(
                                "worker %d (port %d) exited with %s: restarting", w.index, w.sip_port, code
                            )
                        w.restarts += 1
                        self._spawn(w)
                if moved and self.role == "all":  # a media host's new ports go with its heartbeat
                    kamailio.write_dispatcher_list(self.run_dir, self.local_targets())
                    kamailio.kamcmd(self.run_dir, "dispatcher.reload")
                if self.rtpengine is not None and self.rtpengine.poll() is not None:
                    log.error("rtpengine exited with %s: restarting", self.rtpengine.returncode)
                    self.rtpengine = rtpengine.start(
                        self.rtpengine_cmd, self.run_dir / "rtpengine.log", die_with_parent
                    )
                if self.kamailio is not None and self.kamailio.poll() is not None:
                    log.error("kamailio exited with %s: restarting", self.kamailio.returncode)
                    self.kamailio = kamailio.start(
                        self.run_dir / "kamailio.cfg",
                        self.run_dir / "kamailio.log",
                        self.run_dir,
                        preexec_fn=die_with_parent,
                    )

    def _worker_died(self, w: WorkerProc, code: int) -> None:
        """A dead worker's calls are cut: their records say so (`interrupted`), its gauges stop."""
        assert w.proc is not None
        process_died(w.proc.pid)
        if self.store is None:
            return
        try:
            cut = self.store.calls.mark_interrupted(
                HOST, [w.proc.pid], f"worker {w.index} died (exit {code})"
            )
        except Exception as e:  # the store is away: serve's next start marks them
            log.error("could not mark worker %d's calls interrupted: %s", w.index, e)
            return
        if cut:
            log.warning("worker %d died with %d call(s): marked interrupted", w.index, len(cut))
        try:
            queue = Acd(self.store.engine, {}).worker_gone(HOST, [w.proc.pid])
        except Exception as e:
            log.error("could not clear worker %d's queue entries: %s", w.index, e)
            return
        if any(queue.values()):
            log.warning("worker %d's queue: %s", w.index, queue)

    def stop(self) -> None:
        """Stop everything this process started, restarting nothing meanwhile."""
        self.stopping.set()
        with self._lock:  # the watcher is not between a death and a restart
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        # Kamailio first (no new calls), then the workers (their calls end), then the service
        groups = [[self.kamailio, self.rtpengine], [w.proc for w in self.workers], [self.speech]]
        for group in groups:
            procs = [p for p in group if p is not None]
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        if self.kamailio is not None:  # its forked children too: the hotline's port is free
            reap_group(self.kamailio.pid)

    def status(self) -> dict:
        alive = self.kamailio is not None and self.kamailio.poll() is None
        dispatch = dispatcher_state(self.run_dir) if alive else {}
        workers = []
        for w in self.workers:
            row = w.status()
            row["dispatcher"] = dispatch.get(f"sip:{self.settings.sip_host}:{w.sip_port}", "unknown")
            workers.append(row)
        speech_alive = self.speech is not None and self.speech.poll() is None
        return {
            "sip": f"sip:hotline@{self.settings.sip_host}:{self.settings.sip_port}",
            "kamailio_alive": alive,
            "rtpengine_alive": self.rtpengine is not None and self.rtpengine.poll() is None,
            "speech": {
                "address": self.speech_address,
                "supervised": self.own_speech,
                "alive": speech_alive if self.own_speech else None,
                "pid": self.speech.pid if self.speech else None,
                "restarts": self.speech_restarts,
            },
            "workers": workers,
        }
