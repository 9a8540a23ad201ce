"""Hosts in the store: heartbeats, drain, and what the survivors do when one stops beating
(on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from ivr.acd.engine import Acd
from ivr.acd.policy import AgentState, QueueRules
from ivr.app.hosts import LOST_AFTER_S, Hosts, HostsWatch, clean_up_lost
from ivr.store.engine import UserError
from ivr.store.tables import calls, queue_entries

pytestmark = pytest.mark.unit

RULES = {"billing": QueueRules("billing", frozenset({"billing"}), max_missed=2, wrap_up_s=0)}
T0 = 1_800_000_000.0


def _live_call(store, call_id: str, host: str, caller: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(calls).values(id=call_id, host=host, pid=7, caller=caller, status="live", started_at=T0)
        )


def _entry_host(store, call_id: str, host: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            queue_entries.update().where(queue_entries.c.call_id == call_id).values(host=host, pid=7)
        )


def test_heartbeats_drain_and_the_fresh_hosts_least_loaded_first(store):
    hosts = Hosts(store.engine)
    assert hosts.beat("media-a", "media", "10.0.0.2", [5062, 5063], 8, 6, 100, now=T0) == "up"
    hosts.beat("media-b", "media", "10.0.0.3", [5062], 4, 1, 200, now=T0)
    hosts.beat("speech-a", "speech", "10.0.0.4", [7100], 2, 0, 300, now=T0)
    assert [h.name for h in hosts.fresh("media", now=T0 + 1)] == ["media-b", "media-a"]  # 1/4 before 6/8
    assert hosts.fresh("media", now=T0 + LOST_AFTER_S + 1) == []  # a stale row is no target
    assert hosts.drain("media-a").state == "draining"
    assert hosts.beat("media-a", "media", "10.0.0.2", [5062, 5063], 8, 5, 100, now=T0 + 1) == "draining"
    assert [h.name for h in hosts.fresh("media", now=T0 + 1)] == ["media-b"]  # no new calls to it
    assert hosts.drain("media-a", draining=False).state == "up"
    with pytest.raises(UserError, match="no host 'nope'"):
        hosts.drain("nope")
    with pytest.raises(UserError, match="stop it"):
        hosts.remove("media-b")
    shown = hosts.get("media-a").shown(T0 + 3)
    assert shown["heartbeat_age_s"] == 2.0 and shown["ports"] == [5062, 5063] and shown["load"] == 5
    hosts.stopped("media-b")
    assert hosts.get("media-b").state == "stopped" and hosts.claim_lost(now=T0 + 60) != []
    hosts.remove("media-b")
    assert hosts.get("media-b") is None


def test_a_lost_media_host_is_cleaned_up_once_by_the_survivors(store):
    hosts = Hosts(store.engine)
    acd = Acd(store.engine, RULES)
    store.agents.add("ann", "correct horse", ["billing"])
    store.agents.set_state("ann", AgentState.AVAILABLE)
    hosts.beat("media-a", "media", "10.0.0.2", [5062], 4, 2, 100, now=T0)
    hosts.beat("media-b", "media", "10.0.0.3", [5062], 4, 0, 200, now=T0 + 9)
    for call_id, caller in (("talking", "+447700900001"), ("queued", "+447700900002"), ("anonymous", "")):
        _live_call(store, call_id, "media-a", caller)
    acd.join("talking", "billing", 0)
    acd.join("queued", "billing", 0)
    acd.join("anonymous", "billing", 0)
    for call_id in ("talking", "queued", "anonymous"):
        _entry_host(store, call_id, "media-a")
    assert acd.claim("talking").name == "ann"  # ann rings for a caller on the host that dies
    lost = hosts.claim_lost(now=T0 + 9)
    assert [h.name for h in lost] == ["media-a"]  # media-b beat recently
    assert hosts.claim_lost(now=T0 + 9) == []  # claimed once: a second edge does nothing
    said = clean_up_lost(store, lost[0], now=T0 + 9)
    assert "3 call(s) closed interrupted, 2 queued caller(s) to be called back, 1 agent(s) freed" in said
    with store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(calls)).all()}
        entries = {r.call_id: r for r in conn.execute(select(queue_entries)).all()}
    assert {r.status for r in rows.values()} == {"ended"}
    assert {r.outcome for r in rows.values()} == {"interrupted"}
    assert "host media-a was lost" in rows["queued"].end_reason
    assert (entries["queued"].state, entries["queued"].callback) == ("callback", "+447700900002")
    assert entries["talking"].state == "callback"  # ann was only ringing: still a caller waiting
    assert entries["anonymous"].state == "left"  # no number to call back
    assert store.agents.get("ann").state is AgentState.WRAP_UP
    assert hosts.get("media-a").state == "lost" and "1 agent(s) freed" in hosts.get("media-a").note
    # the caller gets a call back (from whichever host's worker claims it)
    assert acd.claim_callback()[0]["call_id"] in ("talking", "queued")
    # the host comes back (a restart): up again, its note cleared
    assert hosts.beat("media-a", "media", "10.0.0.2", [5062], 4, 0, 101, now=T0 + 20) == "up"
    assert hosts.get("media-a").note == ""


def test_the_watch_reaps_only_once_the_store_has_been_up_a_whole_loss_interval(store, monkeypatch):
    """After PostgreSQL restarts every heartbeat is old: the hosts must get to beat again
    before anyone is taken for lost."""
    import ivr.app.hosts as hosts_mod

    hosts = Hosts(store.engine)
    import time

    hosts.beat("media-a", "media", "10.0.0.2", [5062], 4, 0, 100, now=time.time() - 60)  # before the outage
    clock = [1000.0]
    monkeypatch.setattr(hosts_mod.time, "monotonic", lambda: clock[0])
    edge = HostsWatch(store, "edge", "edge", reap=True)
    edge.tick()  # the store just came back (or the edge just started)
    assert hosts.get("media-a").state == "up"
    clock[0] += LOST_AFTER_S + 2
    edge.tick()
    assert hosts.get("media-a").state == "lost"


def test_the_watch_beats_reaps_and_keeps_the_dispatcher_set_in_step(store, monkeypatch):
    import ivr.app.hosts as hosts_mod

    clock = [1000.0]
    monkeypatch.setattr(hosts_mod.time, "monotonic", lambda: clock[0])
    hosts = Hosts(store.engine)
    sets: list[list[tuple[str, int]]] = []
    beat = ("10.0.0.2", [5062, 5063], 8, 0)
    media = HostsWatch(store, "media-a", "media", beat=lambda: beat)
    edge = HostsWatch(store, "edge", "edge", reap=True, on_media=lambda t: sets.append(t) is None)
    media.tick()
    edge.tick()
    edge.tick()  # nothing changed: no reload
    assert sets == [[("10.0.0.2", 5062), ("10.0.0.2", 5063)]]
    hosts.drain("media-a")
    edge.tick()
    assert sets[-1] != []  # the edge has just (re)connected: it only adds until heartbeats are due
    clock[0] += 5
    edge.tick()
    assert sets[-1] == []  # drained: Kamailio sends it nothing new
    media.stop()  # a clean stop is not a loss
    assert hosts.get("media-a").state == "stopped"
    assert hosts.claim_lost() == []


def test_the_workers_speech_pool_follows_the_speech_hosts_least_loaded_first(store, monkeypatch):
    import time

    import ivr.app.speech_hosts as speech_hosts_mod
    from ivr.app.speech_hosts import speech_members

    clock = [1000.0]
    monkeypatch.setattr(speech_hosts_mod.time, "monotonic", lambda: clock[0])
    hosts = Hosts(store.engine)
    now = time.time()
    hosts.beat("speech-a", "speech", "10.0.0.4", [7100], 2, 3, 100, now=now)
    hosts.beat("speech-b", "speech", "10.0.0.5", [7100], 2, 0, 200, now=now)
    hosts.beat("speech-c", "speech", "10.0.0.6", [7100], 2, 0, 300, now=now - 60)  # silent: not a member
    members = speech_members(hosts, "s3cret")
    # the store just (re)connected: a host that has not beaten lately still counts, for now
    assert [a.host for a in members()] == ["10.0.0.5", "10.0.0.6", "10.0.0.4"]
    clock[0] += 10
    assert [(a.host, a.port) for a in members()] == [("10.0.0.5", 7100), ("10.0.0.4", 7100)]
    assert all(a.secret == "s3cret" for a in members())
    hosts.drain("speech-b")  # drained: the pools drop it (a decode in flight there is sent elsewhere)
    assert [a.host for a in members()] == ["10.0.0.4"]
