"""The operator's figures over a period, from the store: containment (and re-dial-corrected),
the tier split against the 80/15/5 target, what callers ask (hot topics, unmatched words),
transfers, the radar, handle time, speed of answer, abandonment, service level per queue,
pain points and the knowledge base's effect. `ivr report`, /api/report and the dashboard
show the same dict; `tables()` cuts it into the CSV tables."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from ivr.store.tables import calls, kb_entries, kb_uses, qa_results, queue_entries

TIER_TARGET = {"L1": 0.80, "L2": 0.15, "L3": 0.05}
SERVICE_LEVEL_S = 20.0
REDIAL_S = 24 * 3600.0
FAILED_END = ("abandoned", "caller_hung_up", "failed")


def _share(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


def _pct(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


def report(
    engine: Engine, since: float, until: float | None = None, tz: str = "UTC", embedder: Any = None, top: int = 10,
    number: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The figures for calls that started in [since, until); with `number`, only the calls
    to that number (E.164 or the SIP user called)."""
    zone = ZoneInfo(tz)
    until = until if until is not None else datetime.now().timestamp() + 1
    d = _read(engine, since, until, number)
    rows = d.rows
    n = len(rows)
    facts = [json.loads(r.facts) if r.facts else {} for r in rows]
    first_intent = _first_intents(rows, facts)
    outcomes = Counter(r.outcome for r in rows)
    unmatched = [t for f in facts for t in f.get("unmatched", [])]
    return {
        "since": since,
        "until": until,
        "timezone": tz,
        "calls": n,
        "number": number,
        "by_number": _by_number(rows),
        "outcomes": dict(outcomes),
        **_containment(rows, d.later),
        **_topics(rows, first_intent, unmatched, zone, embedder, top),
        **_radar(rows, first_intent, zone),
        **_queues(d.entries, outcomes, n),
        "pain_points": {
            "nodes": _pain(rows, facts, top),
            "no_match": [{"text": t, "count": c} for t, c in Counter(unmatched).most_common(top)],
        },
        "duration_s": {"p50": _pct([(r.duration_ms or 0) / 1000 for r in rows], 0.5)},
        "kb": _kb(rows, facts, d.approvals, d.uses, since, zone, top),
        "qa": {
            "screened": sum(1 for r in rows if r.score is not None),
            "queued": sum(1 for r in rows if r.review == "queued"),
            "reviewed": sum(1 for r in rows if r.review == "reviewed"),
        },
    }


@dataclass(frozen=True)
class _Data:
    rows: list[Any]
    later: list[Any]
    entries: list[Any]
    approvals: list[Any]
    uses: list[Any]


def _read(engine: Engine, since: float, until: float, number: str = "") -> _Data:
    """The ended calls (with their QA), the same callers' later calls (redials), queue entries,
    knowledge-base approvals and uses, of the period."""
    cols = (calls.c.id, calls.c.caller, calls.c.started_at, calls.c.duration_ms, calls.c.tier, calls.c.queue,
            calls.c.transfer_reason, calls.c.outcome, calls.c.affect_level, calls.c.intents, calls.c.path,
            calls.c.called, calls.c.line)  # fmt: skip
    period = [calls.c.started_at >= since, calls.c.started_at < until, calls.c.status == "ended"]
    if number:
        period.append(calls.c.called == number)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*cols, qa_results.c.facts, qa_results.c.score, qa_results.c.review)
            .select_from(calls.outerjoin(qa_results, qa_results.c.call_id == calls.c.id))
            .where(*period)
            .order_by(calls.c.started_at)
        ).all()  # fmt: skip
        later = conn.execute(
            select(calls.c.caller, calls.c.started_at)
            .where(calls.c.started_at >= since, calls.c.started_at < until + REDIAL_S, calls.c.caller != "")
        ).all()  # fmt: skip
        entries = conn.execute(
            select(queue_entries.c.queue, queue_entries.c.joined_at, queue_entries.c.left_at, queue_entries.c.leave_reason,
                   queue_entries.c.handle_s)
            .where(queue_entries.c.joined_at >= since, queue_entries.c.joined_at < until)
        ).all()  # fmt: skip
        approvals = conn.execute(
            select(kb_entries.c.key, kb_entries.c.version, kb_entries.c.created_at, kb_entries.c.note)
            .where(kb_entries.c.created_at < until).order_by(kb_entries.c.created_at)
        ).all()  # fmt: skip
        uses = conn.execute(
            select(kb_uses.c.key, kb_uses.c.outcome).where(kb_uses.c.at >= since, kb_uses.c.at < until)
        ).all()
    return _Data(list(rows), list(later), list(entries), list(approvals), list(uses))


def _day(ts: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).date().isoformat()


def _first_intents(rows: list[Any], facts: list[dict[str, Any]]) -> list[str]:
    """What each caller asked first (none: "")."""
    first_intent = []
    for r, f in zip(rows, facts, strict=True):
        name = f.get("first_intent")
        if name is None:
            names = [i["name"] for i in json.loads(r.intents or "[]")]
            name = next((x for x in names if x != "none"), names[0] if names else "")
        first_intent.append(name or "")
    return first_intent


def _by_number(rows: list[Any]) -> list[dict[str, Any]]:
    """Each number called (its line's name): calls, contained by the AI, tiers, abandoned."""
    by: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by[r.called].append(r)
    out = []
    for called, rs in sorted(by.items(), key=lambda kv: -len(kv[1])):
        tiers = Counter((r.tier or "L1") for r in rs)
        out.append({
            "number": called, "line": next((r.line for r in rs if r.line), ""), "calls": len(rs),
            "containment": _share(sum(r.outcome == "ai_resolved" for r in rs), len(rs)),
            **{t: _share(tiers.get(t, 0), len(rs)) for t in ("L1", "L2", "L3")},
            "abandoned": sum(r.outcome == "abandoned" for r in rs),
        })  # fmt: skip
    return out


def _containment(rows: list[Any], later: list[Any]) -> dict[str, Any]:
    """Calls the AI resolved (and those whose caller called back within a day), and the tiers."""
    n = len(rows)
    by_caller: dict[str, list[float]] = defaultdict(list)
    for c, t in later:
        by_caller[c].append(float(t))
    resolved = [r for r in rows if r.outcome == "ai_resolved"]
    redialed = [
        r for r in resolved
        if r.caller and any(0 < t - r.started_at <= REDIAL_S for t in by_caller.get(r.caller, ()))
    ]  # fmt: skip
    tiers = Counter((r.tier or "L1") for r in rows)
    return {
        "containment": _share(len(resolved), n),
        "containment_redial_corrected": _share(len(resolved) - len(redialed), n),
        "containment_detail": {"ai_resolved": len(resolved), "redialed_within_24h": len(redialed)},
        "tiers": {t: _share(tiers.get(t, 0), n) for t in ("L1", "L2", "L3")},
        "tier_counts": {t: tiers.get(t, 0) for t in ("L1", "L2", "L3")},
        "tier_target": TIER_TARGET,
    }


def _topics(
    rows: list[Any], first_intent: list[str], unmatched: list[str], zone: ZoneInfo, embedder: Any, top: int
) -> dict[str, Any]:
    """What callers ask, day by day, what nobody understood, and why calls were handed over."""
    n = len(rows)
    intents = Counter(i for i in first_intent if i)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    for r, i in zip(rows, first_intent, strict=True):
        if i:
            by_day[_day(r.started_at, zone)][i] += 1
    return {
        "top_intents": [
            {"intent": k, "calls": v, "share": _share(v, n)} for k, v in intents.most_common(top)
        ],
        "hot_topics": {
            "by_day": {d: dict(c.most_common(top)) for d, c in sorted(by_day.items())},
            "unmatched": cluster(unmatched, embedder)[:top],
        },
        "transfer_reasons": [
            {"reason": k, "calls": v}
            for k, v in Counter(r.transfer_reason for r in rows if r.transfer_reason).most_common(top)
        ],
    }


def _radar(rows: list[Any], first_intent: list[str], zone: ZoneInfo) -> dict[str, Any]:
    """How often callers were upset enough to escalate, by hour and by what they asked."""
    esc = [r.affect_level == "escalate" for r in rows]
    hours: dict[int, list[bool]] = defaultdict(list)
    per_intent: dict[str, list[bool]] = defaultdict(list)
    for r, e, i in zip(rows, esc, first_intent, strict=True):
        hours[datetime.fromtimestamp(r.started_at, zone).hour].append(e)
        per_intent[i or "(none)"].append(e)
    return {
        "escalation_rate": _share(sum(esc), len(rows)),
        "escalation_by_hour": {h: _share(sum(v), len(v)) for h, v in sorted(hours.items())},
        "escalation_by_intent": {k: _share(sum(v), len(v)) for k, v in sorted(per_intent.items())},
    }


def _queues(entries: list[Any], outcomes: Counter[str], n: int) -> dict[str, Any]:
    """Abandonment, handle time, speed of answer, and each queue's service level."""
    joined = [q for q in entries if q.leave_reason in ("answered", "abandoned", "timeout", "callback")]
    answered = [q for q in joined if q.leave_reason == "answered" and q.left_at]
    abandoned_q = [q for q in joined if q.leave_reason == "abandoned"]
    asa = [q.left_at - q.joined_at for q in answered]
    handle = [float(q.handle_s) for q in answered if q.handle_s is not None]
    queues = []
    for name in sorted({q.queue for q in joined}):
        mine = [q for q in joined if q.queue == name]
        ans = [q for q in mine if q.leave_reason == "answered" and q.left_at]
        fast = [q for q in ans if q.left_at - q.joined_at <= SERVICE_LEVEL_S]
        queues.append({
            "queue": name, "offered": len(mine), "answered": len(ans),
            "abandoned": sum(1 for q in mine if q.leave_reason == "abandoned"),
            "service_level": _share(len(fast), len(mine)), "asa_s": _pct([q.left_at - q.joined_at for q in ans], 0.5),
        })  # fmt: skip
    return {
        "abandon_rate": _share(len(abandoned_q), len(joined)),
        "abandoned_share_of_calls": _share(outcomes.get("abandoned", 0), n),
        "handle_time_s": {
            "p50": _pct(handle, 0.5),
            "mean": round(statistics.fmean(handle), 1) if handle else None,
        },
        "speed_of_answer_s": {
            "p50": _pct(asa, 0.5),
            "p90": _pct(asa, 0.9),
            "mean": round(statistics.fmean(asa), 1) if asa else None,
        },
        "queues": queues,
    }


def _pain(rows: list[Any], facts: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Where calls that went wrong ended, the worst nodes first."""
    nodes: dict[str, Counter[str]] = defaultdict(Counter)
    for r, f in zip(rows, facts, strict=True):
        last = f.get("last_node") or (json.loads(r.path or "[]") or [""])[-1]
        if r.outcome in FAILED_END and last:
            nodes[last][r.outcome] += 1
    return sorted(
        ({"node": k, "calls": sum(v.values()), **dict(v)} for k, v in nodes.items()),
        key=lambda d: -sum(nodes[str(d["node"])].values()),
    )[:top]


def _kb(
    rows: list[Any], facts: list[dict[str, Any]], approvals: list[Any], uses: list[Any], since: float,
    zone: ZoneInfo, top: int,
) -> dict[str, Any]:  # fmt: skip
    """The knowledge base: calls answered from it against the rest, day by day."""
    kb_calls = [bool(f.get("kb")) for f in facts]
    with_kb = [r for r, k in zip(rows, kb_calls, strict=True) if k]
    without = [r for r, k in zip(rows, kb_calls, strict=True) if not k]
    daily: dict[str, list[tuple[Any, bool]]] = defaultdict(list)
    for r, k in zip(rows, kb_calls, strict=True):
        daily[_day(r.started_at, zone)].append((r, k))
    use_count = Counter(u.key for u in uses)
    use_resolved = Counter(u.key for u in uses if u.outcome == "ai_resolved")
    return {
        "calls_answered_from_kb": len(with_kb),
        "their_containment": _share(sum(1 for r in with_kb if r.outcome == "ai_resolved"), len(with_kb)),
        "other_containment": _share(sum(1 for r in without if r.outcome == "ai_resolved"), len(without)),
        "by_day": [
            {
                "day": d,
                "calls": len(v),
                "containment": _share(sum(1 for r, _ in v if r.outcome == "ai_resolved"), len(v)),
                "kb_answers": sum(1 for _, k in v if k),
            }
            for d, v in sorted(daily.items())
        ],
        "approvals": [
            {"key": a.key, "version": a.version, "day": _day(a.created_at, zone), "note": a.note}
            for a in approvals
            if a.created_at >= since
        ],
        "entries": [
            {"key": k, "answered": v, "resolved": use_resolved.get(k, 0)}
            for k, v in use_count.most_common(top)
        ],
    }


def cluster(texts: Sequence[str], embedder: Any = None, threshold: float = 0.72) -> list[dict[str, Any]]:
    """Unmatched utterances grouped by meaning (greedy, on sentence embeddings; by their words
    when no embedder is at hand), biggest group first, each with its examples."""
    counts = Counter(" ".join(t.lower().split()) for t in texts if t.strip())
    if not counts:
        return []
    keys = [k for k, _ in counts.most_common(2000)]
    groups: list[dict[str, Any]] = []
    if embedder is not None:
        vectors = embedder.embed(keys)
        centres: list[Any] = []
        for k, v in zip(keys, vectors, strict=True):
            best = max(range(len(centres)), key=lambda i: float(centres[i] @ v), default=None)
            if best is not None and float(centres[best] @ v) >= threshold:
                groups[best]["calls"] += counts[k]
                groups[best]["examples"].append(k)
            else:
                centres.append(v)
                groups.append({"topic": k, "calls": counts[k], "examples": [k]})
    else:
        for k in keys:
            groups.append({"topic": k, "calls": counts[k], "examples": [k]})
    for g in groups:
        g["examples"] = g["examples"][:5]
    return sorted(groups, key=lambda g: -g["calls"])


def tables(r: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The report as flat tables (one CSV each)."""
    return {
        "summary": [
            {
                "calls": r["calls"],
                "containment": r["containment"],
                "containment_redial_corrected": r["containment_redial_corrected"],
                "L1": r["tiers"]["L1"],
                "L2": r["tiers"]["L2"],
                "L3": r["tiers"]["L3"],
                "abandon_rate": r["abandon_rate"],
                "escalation_rate": r["escalation_rate"],
                "handle_time_p50_s": r["handle_time_s"]["p50"],
                "speed_of_answer_p50_s": r["speed_of_answer_s"]["p50"],
            }
        ],  # fmt: skip
        "outcomes": [{"outcome": k, "calls": v} for k, v in r["outcomes"].items()],
        "by_number": r["by_number"],
        "tiers": [
            {"tier": t, "share": r["tiers"][t], "calls": r["tier_counts"][t], "target": r["tier_target"][t]}
            for t in ("L1", "L2", "L3")
        ],
        "top_intents": r["top_intents"],
        "hot_topics": [
            {"day": d, "intent": i, "calls": c}
            for d, v in r["hot_topics"]["by_day"].items()
            for i, c in v.items()
        ],
        "unmatched": [
            {"topic": g["topic"], "calls": g["calls"], "examples": " | ".join(g["examples"])}
            for g in r["hot_topics"]["unmatched"]
        ],
        "transfer_reasons": r["transfer_reasons"],
        "escalation_by_hour": [{"hour": h, "escalation_rate": v} for h, v in r["escalation_by_hour"].items()],
        "escalation_by_intent": [
            {"intent": k, "escalation_rate": v} for k, v in r["escalation_by_intent"].items()
        ],
        "queues": r["queues"],
        "pain_points": [
            {k: p.get(k, 0) for k in ("node", "calls", "abandoned", "caller_hung_up", "failed")}
            for p in r["pain_points"]["nodes"]
        ],
        "no_match": r["pain_points"]["no_match"],
        "kb_by_day": r["kb"]["by_day"],
        "kb_entries": r["kb"]["entries"],
    }


def to_csv(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()
