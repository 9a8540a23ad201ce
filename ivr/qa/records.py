"""QA in the store: each call's screening, the review queue, reviews and the reviewer/AI
agreement."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, insert, select, update

from ivr.store.engine import inserted_id, write_tx
from ivr.store.tables import calls, qa_results, qa_reviews


def drawn_at_random(seed: str, call_id: str, share: float) -> bool:
    """The random audit share: fixed by the seed and the call, so a draw can be repeated and
    does not change as the day's calls come in."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{call_id}".encode()).digest()[:8], "big")
    return h / 2**64 < share


class QaRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(
        self,
        call_id: str,
        day: str,
        score: float,
        flags: Sequence[Mapping[str, Any]],
        facts: Mapping[str, Any],
    ) -> None:
        """The call's screening (again: a re-screen replaces the flags and keeps the review)."""
        values = {
            "day": day, "score": score, "flags": json.dumps(list(flags), ensure_ascii=False),
            "facts": json.dumps(dict(facts), ensure_ascii=False), "screened_at": time.time(),
        }  # fmt: skip
        with write_tx(self.engine) as conn:
            done = conn.execute(
                update(qa_results).where(qa_results.c.call_id == call_id).values(**values)
            ).rowcount
            if not done:
                conn.execute(insert(qa_results).values(call_id=call_id, **values))

    def result(self, call_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(qa_results).where(qa_results.c.call_id == call_id)).first()
            reviews = conn.execute(
                select(qa_reviews).where(qa_reviews.c.call_id == call_id).order_by(qa_reviews.c.id)
            ).all()
        if row is None:
            return None
        out = _result(row)
        out["reviews"] = [_review(r) for r in reviews]
        return out

    def unscreened(self, limit: int = 200) -> list[str]:
        """Ended calls not screened yet, oldest first."""
        q = (
            select(calls.c.id).select_from(calls.outerjoin(qa_results, qa_results.c.call_id == calls.c.id))
            .where(calls.c.status == "ended", qa_results.c.call_id.is_(None))
            .order_by(calls.c.started_at).limit(limit)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def sample_day(
        self, day: str, share: float, random_share: float, seed: str, min_score: float
    ) -> dict[str, int]:
        """The day's review queue: its riskiest `share` (at least `min_score`), plus the random
        share of the rest. Reviewed calls stay reviewed; a call pushed out by riskier ones
        leaves the queue."""
        with write_tx(self.engine) as conn:
            rows = conn.execute(
                select(qa_results.c.call_id, qa_results.c.score, qa_results.c.review, qa_results.c.sample_reason)
                .where(qa_results.c.day == day)
            ).all()  # fmt: skip
            k = math.ceil(share * len(rows))
            ranked = sorted((r for r in rows if r.score >= min_score), key=lambda r: (-r.score, r.call_id))[
                :k
            ]
            risky = {r.call_id for r in ranked}
            counts = {"calls": len(rows), "risk": 0, "random": 0}
            for r in rows:
                if r.call_id in risky:
                    reason = "risk"
                elif drawn_at_random(seed, r.call_id, random_share):
                    reason = "random"
                else:
                    reason = ""
                if reason:
                    counts[reason] += 1
                if r.review == "reviewed":
                    continue
                review = "queued" if reason else ""
                if (review, reason) != (r.review, r.sample_reason):
                    conn.execute(
                        update(qa_results)
                        .where(qa_results.c.call_id == r.call_id)
                        .values(review=review, sample_reason=reason)
                    )
        return counts

    def queue(
        self, day: str | None = None, include_reviewed: bool = False, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The calls to review, riskiest first, with what a reviewer sees in the list."""
        states = ("queued", "reviewed") if include_reviewed else ("queued",)
        q = (
            select(qa_results, calls.c.caller, calls.c.caller_name, calls.c.started_at, calls.c.duration_ms,
                   calls.c.outcome, calls.c.queue, calls.c.tier)
            .select_from(qa_results.join(calls, calls.c.id == qa_results.c.call_id))
            .where(qa_results.c.review.in_(states))
            .order_by(qa_results.c.score.desc(), calls.c.started_at.desc()).limit(limit)
        )  # fmt: skip
        if day:
            q = q.where(qa_results.c.day == day)
        with self.engine.connect() as conn:
            return [_result(r) for r in conn.execute(q)]

    def review(
        self, call_id: str, reviewer: str, form: str, answers: Mapping[str, Any], score: float, passed: bool,
        risky_at: float, comment: str = "", wrong_flags: Sequence[str] = (),
    ) -> dict[str, Any]:  # fmt: skip
        """A reviewer's scored form. `agrees`: the reviewer's verdict (the call went wrong:
        not `passed`) is the AI's (risk at or over `risky_at`)."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(qa_results).where(qa_results.c.call_id == call_id)).first()
            if row is None:
                raise KeyError(call_id)
            flagged = {f["name"] for f in json.loads(row.flags)}
            bad = [f for f in wrong_flags if f not in flagged]
            if bad:
                raise ValueError(
                    f"the call has no flag {bad[0]!r} (its flags: {', '.join(sorted(flagged)) or 'none'})"
                )
            agrees = (not passed) == (row.score >= risky_at)
            rid = inserted_id(conn.execute(
                insert(qa_reviews).values(
                    call_id=call_id, reviewer=reviewer, form=form, answers=json.dumps(dict(answers)), score=score,
                    ai_score=row.score, agrees=agrees, wrong_flags=json.dumps(list(wrong_flags)), comment=comment,
                    created_at=time.time(),
                )
            ))  # fmt: skip
            conn.execute(update(qa_results).where(qa_results.c.call_id == call_id).values(review="reviewed"))
        return {"id": int(rid), "call_id": call_id, "score": score, "ai_score": row.score, "agrees": agrees}

    def agreement(self, since: float = 0.0) -> dict[str, Any]:
        """How often reviewers and the AI agree, and the flags reviewers most often call wrong."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(qa_reviews).where(qa_reviews.c.created_at >= since)).all()
        wrong: dict[str, int] = {}
        for r in rows:
            for f in json.loads(r.wrong_flags):
                wrong[f] = wrong.get(f, 0) + 1
        n = len(rows)
        agree = sum(1 for r in rows if r.agrees)
        return {
            "reviews": n,
            "agree": agree,
            "disagree": n - agree,
            "agreement": round(agree / n, 3) if n else None,
            "ai_risky_reviewer_fine": sum(1 for r in rows if not r.agrees and r.score >= 0.5),
            "wrong_flags": dict(sorted(wrong.items(), key=lambda kv: -kv[1])),
        }


def _result(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["flags"] = json.loads(d["flags"])
    d["facts"] = json.loads(d["facts"])
    return d


def _review(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["answers"] = json.loads(d["answers"])
    d["wrong_flags"] = json.loads(d["wrong_flags"])
    return d
