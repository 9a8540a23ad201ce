"""A generated day of calls with a known mix, written to a store the way workers write them
(event logs, rows whose outcome `ivr.call.record` decides from the events, queue entries): for
the report tests, the report benchmark and a demo dashboard. `MIX` is the day per 500 calls."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from ivr.call.record import COLUMNS, Summary, outcome_of
from ivr.events import EventType, make
from ivr.store.engine import write_tx
from ivr.store.tables import call_events, calls, queue_entries

MIX = {  # kind: calls per 500
    "balance": 150, "data": 100, "kb": 50, "outage": 50, "no_match": 40,
    "lost_sim": 50, "agent": 25, "agent_abandoned": 10, "complaint": 15, "vip": 10,
}  # fmt: skip
ESCALATING_AGENT_CALLS = 5  # of the 25 "agent" calls, these escalate on the radar (as all complaints do)
REDIALS = 10  # "agent" callers who had a "balance" call resolved earlier that day
UNMATCHED = [
    "do you sell phone cases",
    "have you got phone cases",
    "where can I buy a phone case",
    "what's the weather",
]
WAIT_S = {"lost_sim": 12.0, "agent": 30.0, "complaint": 8.0, "vip": 4.0, "agent_abandoned": 150.0}
HANDLE_S = 240.0


def _events(kind: str, i: int, escalate: bool) -> Iterator[tuple[int, EventType, dict[str, Any]]]:
    t = 0

    def at(step: int = 1500) -> int:
        nonlocal t
        t += step
        return t

    yield 0, EventType.CALL_START, {"sample_rate": 8000}
    yield at(10), EventType.NODE, {"name": "main"}
    yield at(10), EventType.NODE, {"name": "vip" if kind == "vip" else "menu"}
    if kind == "vip":
        yield from _handover(at, "vip", "L3", "VIP caller", kind)
        return
    yield at(), EventType.SAY, {"text": "How can I help you today?"}
    said = {
        "balance": ("what's my balance", "check_balance", "balance"), "data": ("how much data have I got left", "data_usage", "data"),
        "kb": ("do you send bills by post", "knowledge", "anything_else"), "outage": ("is the network down", "report_outage", "outage"),
        "lost_sim": ("I lost my SIM card", "lost_sim", "lost_sim"), "agent": ("can I talk to someone", "agent_request", "agent"),
        "agent_abandoned": ("put me through to a person", "agent_request", "agent"),
        "complaint": ("this is ridiculous, I want to complain", "complaint", "complaint"),
    }  # fmt: skip
    if kind == "no_match":
        for text in (UNMATCHED[i % 3], UNMATCHED[(i + 1) % 3]):
            yield at(), EventType.FINAL_TRANSCRIPT, {"text": text}
            yield (
                at(300),
                EventType.INTENT,
                {"name": "none", "confidence": 0.21, "text": text, "node": "menu"},
            )
            yield at(300), EventType.SAY, {"text": "Sorry, I didn't catch that."}
        yield at(), EventType.CALL_END, {"duration_ms": t + 1000, "reason": "the caller hung up"}
        return
    text, intent, node = said[kind]
    if escalate:
        yield at(), EventType.AFFECT, {"anger": 0.55, "anxiety": 0.2, "level": "rising"}
        yield at(), EventType.AFFECT, {"anger": 0.85, "anxiety": 0.3, "level": "escalate"}
    yield at(), EventType.FINAL_TRANSCRIPT, {"text": text}
    yield at(300), EventType.INTENT, {"name": intent, "confidence": 0.82, "text": text, "node": "menu"}
    if kind in ("lost_sim", "agent", "agent_abandoned", "complaint"):
        yield at(10), EventType.NODE, {"name": node}
        queue, tier, why = {
            "lost_sim": ("sim_services", "L2", "SIM blocked; send a replacement"), "agent": ("general", "L2", "caller asked for a person"),
            "agent_abandoned": ("general", "L2", "caller asked for a person"), "complaint": ("complaints", "L3", "complaint"),
        }[kind]  # fmt: skip
        yield from _handover(at, queue, tier, why, kind)
        return
    if kind == "kb":
        yield (
            at(300),
            EventType.SAY,
            {"text": "Yes, we can post you a paper bill.", "prompt": "kb:paper_bill@v1"},
        )
    else:
        yield at(10), EventType.NODE, {"name": node}
        yield at(300), EventType.SAY, {"text": "Here is what you asked."}
    yield at(10), EventType.NODE, {"name": "anything_else"}
    yield at(), EventType.FINAL_TRANSCRIPT, {"text": "no thanks"}
    yield at(10), EventType.NODE, {"name": "goodbye"}
    yield at(500), EventType.HANGUP, {"reason": "resolved"}
    yield at(2000), EventType.CALL_END, {"duration_ms": t + 2000}


def _handover(
    at: Any, queue: str, tier: str, why: str, kind: str
) -> Iterator[tuple[int, EventType, dict[str, Any]]]:
    wait_ms = int(WAIT_S[kind] * 1000)
    yield at(300), EventType.TRANSFER, {"queue": queue, "reason": why, "tier": tier}
    yield at(10), EventType.QUEUE_JOIN, {"queue": queue, "position": 1, "priority": 0}
    if kind == "agent_abandoned":
        yield at(wait_ms), EventType.QUEUE_LEAVE, {"reason": "abandoned", "wait_ms": wait_ms}
        yield at(10), EventType.CALL_END, {"duration_ms": at(10), "reason": "the caller hung up"}
        return
    yield at(wait_ms), EventType.QUEUE_LEAVE, {"reason": "answered", "wait_ms": wait_ms, "agent": "ann"}
    yield at(100), EventType.BRIDGE, {"uri": "sip:ann@127.0.0.1", "state": "connected"}
    yield (
        at(int(HANDLE_S * 1000)),
        EventType.CALL_END,
        {"duration_ms": at(10), "reason": "the caller hung up"},
    )


def generate_day(engine: Engine, calls_n: int = 500, day: str = "2026-11-30", tz: str = "Europe/London", seed: int = 7,
                 prefix: str = "syn") -> dict[str, Any]:  # fmt: skip
    """Write `calls_n` calls of MIX (scaled) over `day`'s 08:00-20:00; returns the mix's counts."""
    scale = calls_n / 500
    kinds: list[str] = []
    for kind, per500 in MIX.items():
        kinds += [kind] * round(per500 * scale)
    kinds = kinds[:calls_n]
    rng = random.Random(seed)
    start = datetime.fromisoformat(day).replace(hour=8, tzinfo=ZoneInfo(tz)).timestamp()
    times = sorted(start + rng.uniform(0, 12 * 3600) for _ in kinds)
    order = list(range(len(kinds)))
    rng.shuffle(order)
    rows: list[dict[str, Any]] = []
    evs: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    agent_seen = balance_seen = 0
    numbers: dict[int, str] = {}
    placed = [(times[order[i]], kinds[i], i) for i in range(len(kinds))]
    placed.sort()
    balance_numbers: list[str] = []
    escalated = 0
    for n, (t0, kind, i) in enumerate(placed):
        number = f"+4477009{n:05d}"
        if kind == "balance":
            balance_seen += 1
            balance_numbers.append(number)
        escalate = kind == "complaint"
        if kind == "agent":
            if agent_seen < round(ESCALATING_AGENT_CALLS * scale):
                escalate = True
            if agent_seen < round(REDIALS * scale) and len(balance_numbers) > agent_seen:
                number = balance_numbers[agent_seen]  # re-dials a call the AI called resolved
            agent_seen += 1
        escalated += escalate
        numbers[i] = number
        cid = f"{prefix}-{day}-{n:06d}"
        summary = Summary()
        for seq, (t_ms, et, data) in enumerate(_events(kind, n, escalate)):
            e = make(cid, t_ms, et, **data)
            summary.update(e)
            evs.append({"call_id": cid, "seq": seq, "t_ms": t_ms, "type": str(et), "data": json.dumps(data)})
        outcome, why = outcome_of(summary)
        row = {c: f(summary) for c, f in COLUMNS.items()}
        row.update(
            id=cid, caller=number, caller_known=False, source="synthetic", host="synthetic", pid=0, status="ended",
            started_at=t0, answered_at=t0, ended_at=t0 + summary.duration_ms / 1000, duration_ms=summary.duration_ms,
            dialplan="hotline.yaml", dialplan_version="synthetic", outcome=outcome, end_reason=why,
        )  # fmt: skip
        rows.append(row)
        if kind in WAIT_S:
            joined = t0 + 5
            left = joined + WAIT_S[kind]
            answered = kind != "agent_abandoned"
            entries.append({
                "call_id": cid, "queue": summary.queue, "priority": 0, "joined_at": joined, "state": "left",
                "agent": "ann" if answered else "", "left_at": left, "leave_reason": "answered" if answered else "abandoned",
                "handle_s": HANDLE_S if answered else None, "context": "{}", "reasons": "[]",
            })  # fmt: skip
    with write_tx(engine) as conn:
        for k in range(0, len(rows), 500):
            conn.execute(insert(calls), rows[k : k + 500])
        for k in range(0, len(evs), 5000):
            conn.execute(insert(call_events), evs[k : k + 5000])
        if entries:
            conn.execute(insert(queue_entries), entries)
    return {"calls": len(rows), "escalated": escalated, "kinds": {k: kinds.count(k) for k in MIX},
            "first": times[0], "last": times[-1] if times else start, "day_start": start,
            "day_end": (datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(tz)) + timedelta(days=1)).timestamp()}  # fmt: skip
