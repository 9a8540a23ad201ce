"""The store, on SQLite and on PostgreSQL: migrations, the directory, call records written as
the call happens, listing, export, a dead process's calls, retention, users and tokens."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import pytest

from ivr.call.record import HOST, CallRecord
from ivr.events import EventType as T
from ivr.events import make
from ivr.records import Store, UserError
from ivr.store.engine import _head, current_revision
from tests.sip_helpers import wait_until

CARD = "4111111111111111"

pytestmark = pytest.mark.unit  # SQLite and, under `make test`, PostgreSQL: no model


def a_call(store: Store, call_id: str, end: bool = True, card: bool = False, **record_kw) -> CallRecord:
    rec = CallRecord(
        call_id,
        store.writer,
        caller={"number": "+447700900001", "name": "Ada", "tier": "gold", "known": True},
        dialplan="hotline",
        dialplan_version="v1",
        **record_kw,
    )
    rec(make(call_id, 0, T.CALL_START, sample_rate=8000, caller="+447700900001"))
    rec(make(call_id, 0, T.NODE, name="menu"))
    rec(make(call_id, 0, T.SAY, text="How can I help?"))
    rec(make(call_id, 2000, T.FINAL_TRANSCRIPT, text="what's my balance"))
    rec(make(call_id, 2000, T.AFFECT, anger=0.2, anxiety=0.1, level="calm"))
    rec(
        make(
            call_id,
            2000,
            T.INTENT,
            name="check_balance",
            confidence=0.81,
            text="what's my balance",
            node="menu",
        )
    )
    if card:
        rec(make(call_id, 3000, T.FINAL_TRANSCRIPT, text=f"my card is {CARD[:8]}"))
        rec(make(call_id, 4000, T.FINAL_TRANSCRIPT, text=CARD[8:]))
        for i, d in enumerate(CARD):
            rec(make(call_id, 5000 + 100 * i, T.DTMF, digit=d))
    rec(make(call_id, 6000, T.NODE, name="balance"))
    rec(make(call_id, 6000, T.SAY, text="Your balance is 12 pounds."))
    if end:
        rec(make(call_id, 8000, T.HANGUP, reason="resolved"))
        rec(make(call_id, 8000, T.CALL_END, duration_ms=8000))
    return rec


def test_migrations_are_alembics_and_idempotent(store, store_url):
    head = _head()
    assert head and current_revision(store.engine) == head
    a_call(store, "kept")
    store.users.add("ann", "admin", "correct horse battery")
    store.writer.flush()
    again = Store(store_url)  # a second process starting: nothing to do, nothing broken
    try:
        assert current_revision(again.engine) == head
        # what an admin sees after the restart: the call and the user are still there
        kept = again.calls.get("kept")
        assert kept is not None and kept["outcome"] == "ai_resolved" and kept["caller_name"] == "Ada"
        assert [(u["user"], u["role"]) for u in again.users.list()] == [("ann", "admin")]
    finally:
        again.close()


def test_many_processes_opening_a_new_store_at_once(store_url):
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            Store(store_url).close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_directory(store):
    assert store.directory.upsert([{"number": "+44 7700 900001", "name": "Ada", "tier": "gold"}]) == 1
    assert store.directory.upsert([{"number": "+447700900001", "name": "Ada L", "tier": "vip"}]) == 1
    assert store.directory.caller("sip:+447700900001@host")["name"] == "Ada L"
    assert store.directory.caller("+1") is None and store.directory.count() == 1
    # a number kept as dialled nationally is found by the caller's E.164 form from a trunk
    store.directory.upsert([{"number": "07700 900002", "name": "Bea"}])
    assert store.directory.caller("447700900002", "+447700900002", "07700900002")["name"] == "Bea"
    assert store.directory.caller("447700900003", "+447700900003", "07700900003") is None


def test_a_call_record_is_written_as_the_call_happens(store):
    rec = a_call(store, "c1", end=False)
    assert store.writer.flush()
    live = store.calls.get("c1")
    assert live["status"] == "live" and live["path"] == ["menu", "balance"]
    assert live["intents"][0]["name"] == "check_balance" and live["caller_name"] == "Ada"
    rec(make("c1", 8000, T.HANGUP, reason="resolved"))
    rec(make("c1", 8000, T.CALL_END, duration_ms=8000))
    assert store.writer.flush()
    call = store.calls.get("c1")
    assert call["status"] == "ended" and call["outcome"] == "ai_resolved" and call["duration_ms"] == 8000
    assert call["turns"] == 1 and call["affect_level"] == "calm" and call["anger_max"] == pytest.approx(0.2)
    assert [t["speaker"] for t in call["transcript"]] == ["ivr", "caller", "ivr"]
    assert call["radar"] == [{"t_ms": 2000, "anger": 0.2, "anxiety": 0.1, "level": "calm"}]
    assert [e["type"] for e in call["events"]][:3] == ["call_start", "node", "say"]
    assert call["dialplan_version"] == "v1" and call["host"] == HOST


def test_card_numbers_never_reach_the_store(store):
    a_call(store, "c2", card=True)
    assert store.writer.flush()
    dump = json.dumps(store.calls.get("c2"))
    digits = "".join(ch if ch.isdigit() else " " for ch in dump.replace(" ", "").replace('"},{"', ""))
    assert CARD not in dump and CARD[:8] not in dump
    assert not any(len(run) >= 13 for run in digits.split())
    keyed = [e["digit"] for e in store.calls.get("c2")["events"] if e["type"] == "dtmf"]
    assert keyed == ["X"] * 12 + list(CARD[-4:])


def test_list_pages_filters_and_export(store):
    for i in range(7):
        a_call(store, f"p{i}")
    assert store.writer.flush()
    seen, cursor = [], None
    while True:
        page = store.calls.list(limit=3, cursor=cursor)
        seen += [c["id"] for c in page.calls]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == [f"p{i}" for i in range(7)] and len(set(seen)) == 7
    assert store.calls.list(outcome="transferred").calls == []
    assert len(store.calls.list(outcome="ai_resolved", since=time.time() - 60).calls) == 7
    buf = io.StringIO()
    assert store.calls.export_csv(buf) == 7
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert rows[0]["outcome"] == "ai_resolved" and rows[0]["path"] == "menu>balance"
    assert rows[0]["intents"] == "check_balance:0.81" and rows[0]["duration_s"] == "8.0"


def test_a_dead_process_calls_become_interrupted(store):
    a_call(store, "done")
    a_call(store, "cut", end=False)
    assert store.writer.flush()
    assert store.calls.mark_interrupted("another-host") == []
    assert store.calls.mark_interrupted(HOST, reason="serve died") == ["cut"]
    cut, done = store.calls.get("cut"), store.calls.get("done")
    assert (
        cut["outcome"] == "interrupted" and cut["duration_ms"] == 6000 and cut["end_reason"] == "serve died"
    )
    assert done["outcome"] == "ai_resolved" and len(done["events"]) == 10


def test_one_bad_operation_does_not_hold_back_the_others(store):
    a_call(store, "dup")
    assert store.writer.flush()
    a_call(store, "dup")  # the same id again: refused, and logged
    a_call(store, "after")
    assert store.writer.flush()
    assert store.calls.get("after")["outcome"] == "ai_resolved"


def test_retention_purge(store, tmp_path):
    recording = tmp_path / "calls" / "old.wav"
    recording.parent.mkdir()
    recording.write_bytes(b"RIFF")
    outside = tmp_path.parent / f"{tmp_path.name}-source.wav"
    outside.write_bytes(b"RIFF")
    a_call(store, "old", recording=recording)
    a_call(store, "replayed", recording=outside)
    a_call(store, "new")
    assert store.writer.flush()
    from ivr.acd.engine import Acd

    acd = Acd(store.engine, {})
    acd.join("old", "billing", 0, context={"transcript": ["my card is ..."]})
    acd.leave("old", "answered")
    acd.join("waiting", "billing", 0)  # still in the queue: kept, however old
    later = time.time() + 400 * 86400
    counts = store.calls.purge(90, 365, str(tmp_path), now=later)
    assert counts == {"recordings": 2, "transcripts": 3, "queue_entries": 1}
    assert acd.place("waiting").position == 1
    assert not recording.exists() and outside.exists()  # only what the IVR wrote is deleted
    old = store.calls.get("old")
    assert old["events"] == [] and old["transcript_purged"] and old["recording_path"] == ""
    assert old["outcome"] == "ai_resolved"  # the CDR row stays
    assert store.calls.purge(0, 0, str(tmp_path), now=later) == {"recordings": 0, "transcripts": 0}


def test_users_and_tokens(store):
    store.users.add("ada", "admin", "correct horse")
    with pytest.raises(UserError, match="exists"):
        store.users.add("ada", "agent", "another one")
    with pytest.raises(UserError, match="role"):
        store.users.add("bob", "root", "correct horse")
    with pytest.raises(UserError, match="8 characters"):
        store.users.add("bob", "agent", "short")
    assert store.users.login("ada", "wrong", 60) is None and store.users.login("nobody", "x", 60) is None
    token = store.users.login("ada", "correct horse", 60)
    p = store.users.authenticate(token)
    assert p.user == "ada" and p.can("supervisor") and p.can("agent")
    assert store.users.authenticate(token + "x") is None
    assert store.users.authenticate(store.users.login("ada", "correct horse", -1)) is None  # expired
    with store.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT token_hash FROM tokens").first()
    assert token not in str(row)  # only a hash is kept
    store.users.add("ada", "agent", "new password", replace=True)
    assert store.users.authenticate(token) is None  # a changed user's old sessions end
    assert store.users.remove("ada") and not store.users.remove("ada")


def test_a_locked_store_delays_records_and_loses_none(tmp_path, monkeypatch):
    import sqlite3

    from ivr.store import engine as engine_mod
    from ivr.store.writer import StoreWriter

    monkeypatch.setattr(engine_mod, "BUSY_TIMEOUT_MS", 50)
    url = f"sqlite:///{tmp_path / 'locked.sqlite3'}"
    store = Store(url)
    writer = StoreWriter(store.engine, retry_s=0.01)
    other = sqlite3.connect(tmp_path / "locked.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    rec = CallRecord("held", writer)
    rec(make("held", 0, T.CALL_START, sample_rate=8000))
    rec(make("held", 10, T.CALL_END, duration_ms=10))
    wait = time.monotonic() + 30
    while writer.stats.retries < 2:  # the writer was refused and is trying again
        assert time.monotonic() < wait
        time.sleep(0.01)
    other.execute("ROLLBACK")
    other.close()
    assert writer.flush()
    assert store.calls.get("held")["outcome"] == "caller_hung_up"
    writer.close()
    store.close()


def test_agents(store):
    from ivr.acd.agents import ha1
    from ivr.acd.policy import AgentState

    store.agents.add("ann", "correct horse", ["billing", "general"], level=2)
    ann = store.agents.get("ann")
    assert ann.skills == {"billing", "general"} and ann.level == 2 and ann.state is AgentState.LOGGED_OUT
    assert store.users.authenticate(store.users.login("ann", "correct horse", 60)).role == "agent"
    with store.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT ha1 FROM agents WHERE name = 'ann'").first()
    assert row[0] == ha1("ann", "127.0.0.1", "correct horse")[0]  # what Kamailio checks
    assert store.agents.set_state("ann", AgentState.AVAILABLE).state is AgentState.AVAILABLE
    assert store.agents.set_state("ann", AgentState.AWAY, "lunch").reason == "lunch"
    with pytest.raises(UserError, match="follows the calls"):
        store.agents.set_state("ann", AgentState.ON_CALL)
    with pytest.raises(UserError, match="exists"):
        store.agents.add("ann", "another password", ["sales"])
    with pytest.raises(UserError, match="level"):
        store.agents.add("bob", "correct horse", ["sales"], level=7)
    store.agents.add("ann", "another password", ["sales"], replace=True)
    assert store.agents.get("ann").skills == {"sales"} and [a.name for a in store.agents.list()] == ["ann"]


def test_a_long_outage_spills_the_oldest_to_disk_and_loses_or_repeats_nothing(tmp_path, monkeypatch):
    import sqlite3

    from sqlalchemy import func, select

    from ivr.store import engine as engine_mod
    from ivr.store.ops import CallEvents, CallStarted
    from ivr.store.spill import SpillFile, encode
    from ivr.store.tables import call_events
    from ivr.store.writer import StoreWriter

    monkeypatch.setattr(engine_mod, "BUSY_TIMEOUT_MS", 50)
    url = f"sqlite:///{tmp_path / 'away.sqlite3'}"
    store = Store(url)
    spill = tmp_path / "run"
    # a process that died in an earlier outage left two operations on disk
    spill.mkdir()
    orphan = [
        CallStarted({"id": "orphan", "started_at": 1.0}),
        CallEvents([{"call_id": "orphan", "seq": 0, "t_ms": 0, "type": "call_start", "data": "{}"}]),
    ]
    (spill / "store-spill-999999999.jsonl").write_text("".join(encode(o) + "\n" for o in orphan))
    other = sqlite3.connect(tmp_path / "away.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the store is away
    writer = StoreWriter(store.engine, retry_s=0.01, spill_dir=spill, memory_ops=5)
    for i in range(20):
        rec = CallRecord(f"c{i}", writer)
        rec(make(f"c{i}", 0, T.CALL_START, sample_rate=8000))
        rec(make(f"c{i}", 10, T.CALL_END, duration_ms=10))
    wait_until(
        lambda: writer.pending >= 40 and writer.stats.retries >= 2, 30, "the writer holding all, refused"
    )
    on_disk = sorted(spill.glob("store-spill-*.jsonl"))
    assert len(on_disk) == 2 and writer.pending >= 40
    other.execute("ROLLBACK")
    other.close()
    assert writer.flush()
    assert not list(spill.glob("store-spill-*.jsonl"))  # read back and removed
    got = {c["id"]: c for c in store.calls.list(limit=100).calls}
    assert set(got) == {f"c{i}" for i in range(20)} | {"orphan"}
    assert all(got[f"c{i}"]["outcome"] == "caller_hung_up" for i in range(20))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(call_events)).scalar_one() == 41
    # a batch committed whose answer was lost comes again: refused as a repeat, not doubled
    writer.submit(CallEvents([{"call_id": "c1", "seq": 0, "t_ms": 0, "type": "call_start", "data": "{}"}]))
    assert writer.flush() and writer.stats.repeats == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(call_events)).scalar_one() == 41
    writer.close()
    assert SpillFile(spill).count == 0
    store.close()


def test_a_worker_stopping_while_the_store_is_away_leaves_its_records_on_disk_for_the_next(
    tmp_path, monkeypatch
):
    import sqlite3

    from ivr.store import engine as engine_mod
    from ivr.store.writer import StoreWriter

    monkeypatch.setattr(engine_mod, "BUSY_TIMEOUT_MS", 50)
    store = Store(f"sqlite:///{tmp_path / 'away.sqlite3'}")
    spill = tmp_path / "run"
    other = sqlite3.connect(tmp_path / "away.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the store is away
    writer = StoreWriter(store.engine, retry_s=0.01, spill_dir=spill)
    rec = CallRecord("cut", writer)
    rec(make("cut", 0, T.CALL_START, sample_rate=8000))
    rec(make("cut", 10, T.CALL_END, duration_ms=10))
    writer.close(timeout_s=10)  # it does not wait out the outage: the rest goes to disk
    (left,) = spill.glob("store-spill-*.jsonl")
    left.rename(spill / "store-spill-999999998.jsonl")  # as the next process finds it
    other.execute("ROLLBACK")
    other.close()
    after = StoreWriter(store.engine, retry_s=0.01, spill_dir=spill)
    assert after.flush()
    assert store.calls.get("cut")["outcome"] == "caller_hung_up"
    after.close()
    store.close()
