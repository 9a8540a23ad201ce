"""The speech hosts announced in the store, as a worker's pool members and as a blocking
embedder for the edge's and API's threads (the dialplan's intents, the knowledge base)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from ivr.app.hosts import BEAT_S, LOST_AFTER_S, Hosts
from ivr.store.engine import open_engine
from speech.service.embedder import BlockingEmbedder
from speech.service.protocol import Address
from speech.service.replies import SpeechUnavailable

log = logging.getLogger("ivr.hosts")

SETTLING_WINDOW_S = 24 * 3600.0
"""While the store has just come back, a speech host counts if it beat today and is not lost."""


def speech_members(hosts: Hosts, secret: str) -> Callable[[], list[Address]]:
    """The live speech hosts' addresses, least loaded first; a drained one is left out (a decode
    in flight on it when it leaves is sent to another)."""

    reachable_since: list[float | None] = [None]

    def members() -> list[Address]:
        try:
            # just after the store came back (or at a start) every heartbeat is old: until the
            # hosts have had time to beat, every host not taken for lost counts
            since = reachable_since[0]
            if since is None:
                hosts.list()
                since = reachable_since[0] = time.monotonic()
            settled = time.monotonic() - since > LOST_AFTER_S + BEAT_S
            fresh = hosts.fresh("speech", within_s=LOST_AFTER_S if settled else SETTLING_WINDOW_S)
        except Exception:
            reachable_since[0] = None
            raise  # the pool keeps the services it has
        return [Address(host=h.address, port=h.ports[0], secret=secret) for h in fresh if h.ports]

    return members


def store_speech_members(store_url: str, secret: str) -> Callable[[], list[Address]]:
    """`speech_members` over a store of its own (a worker's, before its records are open)."""
    return speech_members(Hosts(open_engine(store_url)), secret)


class HostsEmbedder:
    """`embed(texts)` for threads, on the least loaded live speech host (another when it fails);
    waits up to `wait_s` for one to be announced."""

    def __init__(self, hosts: Hosts, secret: str, wait_s: float = 120.0) -> None:
        self._members = speech_members(hosts, secret)
        self._by_address: dict[Address, BlockingEmbedder] = {}
        self.wait_s = wait_s

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        deadline = time.monotonic() + self.wait_s
        told = False
        while True:
            try:
                members = self._members()
            except Exception as e:  # the store is away: the hosts we know
                log.warning("cannot read the speech hosts (%s)", e)
                members = list(self._by_address)
            for address in members:
                embedder = self._by_address.get(address)
                if embedder is None:
                    embedder = self._by_address[address] = BlockingEmbedder(address, wait_s=1.0)
                try:
                    return embedder.embed(texts)
                except SpeechUnavailable as e:
                    log.warning("speech host %s: %s", address, e)
            if time.monotonic() > deadline:
                raise SpeechUnavailable(
                    f"no speech host answered in {self.wait_s:.0f} s (ivr hosts lists them)"
                )
            if not told:
                log.info("waiting for a speech host to announce itself (ivr serve --role speech)")
                told = True
            time.sleep(0.5)  # a thread: the next heartbeat is what it waits for

    def close(self) -> None:
        for embedder in self._by_address.values():
            embedder.close()
