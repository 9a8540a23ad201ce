"""Hosts: media and speech machines announce themselves in the store, and the survivors clean
up after one that stops.

Every `BEAT_S` a media host writes its row (address, its workers' SIP ports, calls it can
hold and holds) and a speech host its own (TCP port, lanes, jobs queued). The edge builds
Kamailio's dispatcher set from the fresh media rows; workers build their speech pool from
the fresh speech rows; nobody edits a list. A row older than `LOST_AFTER_S` is a host lost:
one survivor (the update that marks it `lost` is the claim, so two edges never both act)
closes its calls' records as `interrupted`, puts its queued callers on the callback list,
frees its agents and gives its claimed callbacks back to the queue. A host that stops cleanly
says `stopped`; `ivr drain` marks one `draining`: no new calls, its calls finish.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from ivr.acd.engine import Acd
from ivr.store.engine import UserError, write_tx
from ivr.store.tables import calls, hosts

log = logging.getLogger("ivr.hosts")

BEAT_S = 1.0
"""How often a host writes its heartbeat."""
LOST_AFTER_S = 5.0
"""A host whose heartbeat is older than this is lost (five beats missed): its records are closed."""
ROUTE_AFTER_S = 3.0
"""A media host whose heartbeat is older than this gets no new calls (undone at its next beat)."""
LIVE = ("up", "draining")


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    role: str
    address: str
    ports: list[int]
    capacity: int
    load: int
    state: str
    pid: int
    started_at: float
    heartbeat_at: float
    lost_at: float | None
    note: str

    def shown(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name, "role": self.role, "address": self.address, "ports": self.ports,
            "capacity": self.capacity, "load": self.load, "state": self.state, "pid": self.pid,
            "heartbeat_age_s": round(max(0.0, now - self.heartbeat_at), 1), "note": self.note,
        }  # fmt: skip


def _host(row: Any) -> Host:
    return Host(
        row.name, row.role, row.address, [int(p) for p in json.loads(row.ports or "[]")], row.capacity,
        row.load, row.state, row.pid, row.started_at, row.heartbeat_at, row.lost_at, row.note,
    )  # fmt: skip


class Hosts:
    """The hosts table's queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def beat(
        self, name: str, role: str, address: str, ports: list[int], capacity: int, load: int, pid: int,
        now: float | None = None,
    ) -> str:  # fmt: skip
        """Write this host's heartbeat; its state (`draining` when an admin drained it)."""
        now = time.time() if now is None else now
        values = {"role": role, "address": address, "ports": json.dumps(ports), "capacity": capacity,
                  "load": load, "pid": pid, "heartbeat_at": now}  # fmt: skip
        with write_tx(self.engine) as conn:
            row = conn.execute(
                select(hosts.c.state, hosts.c.pid, hosts.c.heartbeat_at).where(hosts.c.name == name)
            ).first()
            if row is None:
                conn.execute(insert(hosts).values(name=name, state="up", started_at=now, **values))
                return "up"
            if row.state in LIVE and row.pid == pid:
                conn.execute(update(hosts).where(hosts.c.name == name).values(**values))
                return str(row.state)
            if row.state in LIVE and now - row.heartbeat_at < BEAT_S:
                log.error("another process (pid %d) beats as host %s: give each machine its own "
                          "IVR_HOST_NAME", row.pid, name)  # fmt: skip
            # a new start (or back after being taken for lost): up again, a drain kept
            state = "draining" if row.state == "draining" else "up"
            if row.state == "lost":
                log.warning("host %s is back after being taken for lost", name)
            conn.execute(
                update(hosts).where(hosts.c.name == name)
                .values(state=state, started_at=now, lost_at=None, note="", **values)
            )  # fmt: skip
            return state

    def stopped(self, name: str) -> None:
        """A clean stop: its calls ended with it; nothing for the survivors to do."""
        with write_tx(self.engine) as conn:
            conn.execute(
                update(hosts).where(hosts.c.name == name, hosts.c.state.in_(LIVE)).values(state="stopped")
            )

    def list(self) -> builtins.list[Host]:
        with self.engine.connect() as conn:
            return [_host(r) for r in conn.execute(select(hosts).order_by(hosts.c.role, hosts.c.name)).all()]

    def get(self, name: str) -> Host | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(hosts).where(hosts.c.name == name)).first()
        return _host(row) if row is not None else None

    def drain(self, name: str, draining: bool = True) -> Host:
        """No new calls to `name` (its calls go on); `draining=False` takes it back."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(hosts.c.state).where(hosts.c.name == name)).first()
            if row is None:
                raise UserError(f"no host {name!r} (ivr hosts lists them)")
            if row.state not in LIVE:
                raise UserError(f"host {name!r} is {row.state}, not up")
            conn.execute(
                update(hosts).where(hosts.c.name == name).values(state="draining" if draining else "up")
            )
        host = self.get(name)
        assert host is not None
        return host

    def remove(self, name: str) -> None:
        """Forget a host that is not running (stopped or lost)."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(hosts.c.state).where(hosts.c.name == name)).first()
            if row is None:
                raise UserError(f"no host {name!r}")
            if row.state in LIVE:
                raise UserError(f"host {name!r} is {row.state}: stop it (or drain it) first")
            conn.execute(delete(hosts).where(hosts.c.name == name))

    def fresh(
        self,
        role: str,
        states: tuple[str, ...] = ("up",),
        now: float | None = None,
        within_s: float = LOST_AFTER_S,
    ) -> builtins.list[Host]:
        """Hosts of `role` in `states` that beat in the last `within_s`, least loaded first."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(hosts).where(
                    hosts.c.role == role,
                    hosts.c.state.in_(states),
                    hosts.c.heartbeat_at >= now - within_s,
                )
            ).all()
        return sorted((_host(r) for r in rows), key=lambda h: (h.load / max(h.capacity, 1), h.name))

    def live_calls(self, name: str) -> int:
        with self.engine.connect() as conn:
            q = select(func.count()).select_from(calls).where(calls.c.status == "live", calls.c.host == name)
            return int(conn.execute(q).scalar_one())

    def claim_lost(self, now: float | None = None) -> builtins.list[Host]:
        """Hosts whose heartbeat stopped, marked `lost` by this caller (whoever marks one acts)."""
        now = time.time() if now is None else now
        stale = [hosts.c.state.in_(LIVE), hosts.c.heartbeat_at < now - LOST_AFTER_S,
                 hosts.c.role.in_(["media", "speech"])]  # fmt: skip
        claimed = []
        with self.engine.connect() as conn:
            names = [r.name for r in conn.execute(select(hosts.c.name).where(*stale)).all()]
        for name in names:
            with write_tx(self.engine) as conn:
                done = conn.execute(
                    update(hosts).where(hosts.c.name == name, *stale).values(state="lost", lost_at=now)
                ).rowcount
            if done and (host := self.get(name)) is not None:
                claimed.append(host)
        return claimed

    def noted(self, name: str, note: str) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(update(hosts).where(hosts.c.name == name).values(note=note))


def clean_up_lost(store: Any, host: Host, now: float | None = None) -> str:
    """What the survivors do for a lost media host; what they did, in words."""
    now = time.time() if now is None else now
    if host.role != "media":
        return f"speech host {host.name} lost: the workers' pools dropped it"
    silent = now - host.heartbeat_at
    reason = f"host {host.name} was lost (no heartbeat for {silent:.0f} s): the caller was cut off"
    cut = store.calls.mark_interrupted(host.name, None, reason)
    queue = Acd(store.engine, {}).worker_gone(host.name, call_back=True)
    note = (
        f"{len(cut)} call(s) closed interrupted, {queue['called_back']} queued caller(s) to be called "
        f"back, {queue['agents']} agent(s) freed, {queue['callbacks']} callback(s) given back"
    )
    Hosts(store.engine).noted(host.name, note)
    return f"media host {host.name} lost: {note}"


class HostsWatch:
    """A thread: this host's heartbeat (`beat` gives its row's changing part), and on the edge
    and API hosts the clean-up of lost hosts and `on_media` told the media hosts' targets
    whenever they change (Kamailio's dispatcher set; it says False when they did not take)."""

    def __init__(
        self,
        store: Any,
        name: str,
        role: str,
        beat: Callable[[], tuple[str, list[int], int, int]] | None = None,
        reap: bool = False,
        on_media: Callable[[list[tuple[str, int]]], bool] | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.store, self.name, self.role = store, name, role
        self.hosts = Hosts(store.engine)
        self._beat, self._reap, self._on_media, self._on_state = beat, reap, on_media, on_state
        self._targets: list[tuple[str, int]] | None = None
        self._reachable_since: float | None = None
        self.state = "up"
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hosts", daemon=True)

    def start(self) -> None:
        self.tick()
        self._thread.start()

    def tick(self) -> None:
        """One round: beat, reap, sync the dispatcher set (each survives the store being away)."""
        if self._beat is not None:
            try:
                address, ports, capacity, load = self._beat()
                state = self.hosts.beat(self.name, self.role, address, ports, capacity, load, os.getpid())
                if state != self.state and self._on_state is not None:
                    self._on_state(state)
                self.state = state
            except Exception as e:  # the store is away: beat again next round
                log.warning("heartbeat not written: %s", e)
        if not self._reap and self._on_media is None:
            return
        try:
            # the others' heartbeats count only once the store has been reachable for as long as
            # they take: after an outage (or at a start) every heartbeat is old until the next beat
            if self._reachable_since is None:
                self.hosts.list()
                self._reachable_since = time.monotonic()
            settled_s = time.monotonic() - self._reachable_since
            if self._reap and settled_s > LOST_AFTER_S + BEAT_S:
                for host in self.hosts.claim_lost():
                    log.warning(clean_up_lost(self.store, host))
            if self._on_media is not None:
                fresh = self.hosts.fresh("media", within_s=ROUTE_AFTER_S)
                targets = sorted((h.address, p) for h in fresh for p in h.ports)
                if settled_s <= ROUTE_AFTER_S + BEAT_S:  # only add: the silent may not be silent
                    targets = sorted(set(targets) | set(self._targets or []))
                if targets != self._targets:
                    log.info("media hosts' workers: %s", ", ".join(f"{a}:{p}" for a, p in targets) or "none")
                    if self._on_media(targets):  # else tried again next round
                        self._targets = targets
        except Exception as e:  # the store is away: keep dispatching to the hosts we know
            self._reachable_since = None
            log.warning("could not read the hosts: %s", e)

    def _run(self) -> None:
        while not self.stopping.wait(BEAT_S):
            self.tick()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._beat is not None:
            try:
                self.hosts.stopped(self.name)
            except Exception as e:
                log.warning("could not say this host stopped: %s", e)
