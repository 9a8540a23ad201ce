"""`ivr serve --role`: what each machine of a hotline on several hosts runs.

- `all` (the default): everything on one box (`ivr.app.serve`).
- `edge`: Kamailio (dispatching to the media hosts announced in the store), the API and
  console, the QA screener, and the clean-up of lost hosts.
- `api`: the API and console (and the clean-up) without Kamailio.
- `media`: the SIP workers; they take calls from the edge and decode on the speech hosts.
- `speech`: the speech service on TCP, for every media host.

Media and speech hosts announce themselves with a heartbeat (`ivr.app.hosts`); a role that
lacks a setting it needs stops at once with one line naming it.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from typing import Any

from ivr.acd.engine import Acd
from ivr.app.hosts import HostsWatch
from ivr.app.supervisor import Supervisor
from ivr.records import Store
from ivr.settings import HOST_NAME, SPEECH_HOSTS, Settings
from speech.service.auth import client_handshake_blocking
from speech.service.protocol import Address, Message, read_message_blocking

log = logging.getLogger("ivr.serve")

NEEDS: dict[str, list[tuple[str, str]]] = {
    "media": [("store_url", "IVR_STORE_URL"), ("edge_sip", "IVR_EDGE_SIP"), ("api_url", "IVR_API_URL")],
    "speech": [("store_url", "IVR_STORE_URL"), ("speech_listen", "IVR_SPEECH_LISTEN")],
    "edge": [("store_url", "IVR_STORE_URL")],
    "api": [("store_url", "IVR_STORE_URL")],
}
"""The settings each role cannot run without (`all` needs none)."""


def missing(settings: Settings) -> str | None:
    """One line naming what this role lacks, or None."""
    role = settings.role
    for field_name, env in NEEDS.get(role, []):
        if not getattr(settings, field_name):
            return f"--role {role} needs {env} (see README: Running on several machines)"
    if role != "all" and settings.store.startswith("sqlite"):
        return f"--role {role} needs IVR_STORE_URL to be the hosts' shared PostgreSQL, not a SQLite file"
    speech_tcp = role == "speech" or (
        role in ("media", "edge", "api") and settings.speech in ("", SPEECH_HOSTS)
    )
    if speech_tcp and not settings.speech_secret:
        return f"--role {role} needs IVR_SPEECH_SECRET (the speech hosts ask every client for it)"
    return None


def _wait_for_signal(stopping: threading.Event) -> None:
    prev = {sig: signal.signal(sig, lambda s, f: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stopping.wait()
    finally:
        for sig, handler in prev.items():
            signal.signal(sig, handler)


def _tidy_own(store: Store) -> None:
    """What this host's last run left (if no survivor has cleaned it up yet)."""
    cut = store.calls.mark_interrupted(HOST_NAME, reason="this host stopped during the call")
    queue = Acd(store.engine, {}).worker_gone(HOST_NAME, call_back=True)
    if cut or any(queue.values()):
        log.warning("left by this host's last run: %d call(s) marked interrupted; queue %s", len(cut), queue)


def serve_media(settings: Settings, store: Store) -> int:
    """The SIP workers, announced to the edge by a heartbeat until a signal."""
    _tidy_own(store)
    supervisor = Supervisor(settings, settings.dialplan, settings.api_url, store)
    if not supervisor.workers:
        print("ivr: error: --role media with no workers (IVR_WORKERS=0)", file=sys.stderr)
        return 2
    supervisor.start()

    def beat() -> tuple[str, list[int], int, int]:
        # only workers taking calls: the edge must not send calls to one still starting
        ports = [w.sip_port for w in supervisor.workers if w.taking_calls(supervisor.run_dir)]
        return settings.sip_host, ports, 4 * len(ports), watch.hosts.live_calls(HOST_NAME)

    watch = HostsWatch(
        store, HOST_NAME, "media", beat=beat, on_state=lambda s: log.warning("this host is %s", s)
    )
    watch.start()
    speech = (
        "the speech hosts in the store"
        if supervisor.speech_address == SPEECH_HOSTS
        else supervisor.speech_address
    )
    ports = ", ".join(str(w.sip_port) for w in supervisor.workers)
    print(f"ivr serve: media host {HOST_NAME}: {len(supervisor.workers)} workers on {settings.sip_host} "
          f"(ports {ports}), edge {settings.edge_sip}, speech {speech}", file=sys.stderr, flush=True)  # fmt: skip
    try:
        _wait_for_signal(supervisor.stopping)
    finally:
        watch.stop()  # no new calls first: the edge takes it out at once
        supervisor.stop()
        try:  # a call a worker could not close in its grace: not left live for ever
            _tidy_own(store)
        except Exception as e:
            log.error("could not close this host's calls (the next start does): %s", e)
    return 0


def _service_load(address: Address) -> int:
    """The local speech service's queued + running jobs (its pong says)."""
    with socket.create_connection((address.host, address.port), timeout=2) as sock:
        buffer = bytearray()
        if address.needs_auth:
            client_handshake_blocking(sock, buffer, address.secret)
        sock.sendall(Message("ping", 1).encode())
        return int(read_message_blocking(sock, buffer).data.get("load", 0))


def serve_speech(settings: Settings, store: Store) -> int:
    """The speech service on TCP (restarted if it dies), announced by a heartbeat."""
    supervisor = Supervisor(settings, settings.dialplan, "", store)
    try:
        supervisor.start_speech(settings.speech_wait_s)
    except RuntimeError as e:
        print(f"ivr: error: {e}", file=sys.stderr)
        return 2
    supervisor.start()
    address = Address.parse(settings.speech_listen, settings.speech_secret)
    lanes = settings.speech_service().resolved_lanes()

    def beat() -> tuple[str, list[int], int, int]:
        return address.host, [address.port], lanes, _service_load(address)  # a dead service: no beat

    watch = HostsWatch(store, HOST_NAME, "speech", beat=beat)
    watch.start()
    print(f"ivr serve: speech host {HOST_NAME} on {address} ({lanes} lanes)", file=sys.stderr, flush=True)
    try:
        _wait_for_signal(supervisor.stopping)
    finally:
        watch.stop()
        supervisor.stop()
    return 0


def edge_watch(settings: Settings, store: Store, supervisor: Supervisor | None) -> HostsWatch | None:
    """On the edge and API hosts: the clean-up of lost hosts, and the edge's dispatcher set."""
    if settings.role not in ("edge", "api"):
        return None
    on_media: Any = supervisor.set_targets if supervisor is not None and settings.role == "edge" else None
    return HostsWatch(store, HOST_NAME, settings.role, reap=True, on_media=on_media)
