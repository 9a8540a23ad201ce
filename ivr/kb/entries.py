"""The knowledge base in the store: candidates in, versioned entries out.

Every change to an entry (approve, edit, merge, rollback) writes a new version and makes it the
active one, so the history of what callers were told is kept and any version can come back.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import yaml
from sqlalchemy import Engine, and_, case, func, insert, select, update

from ivr.store.engine import write_tx
from ivr.store.tables import kb_candidates, kb_entries, kb_uses

RESOLVED = ("ai_resolved",)
TRANSFERRED = ("transferred", "callback")


class KbError(ValueError):
    """A request the knowledge base refuses (unknown candidate or entry, already decided, empty
    answer); the message says which and why."""


def slug(text: str) -> str:
    """An entry key from a question: 'Can I get a paper bill?' -> 'can_i_get_a_paper_bill'."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "_".join(words)[:48].strip("_") or "entry"


def _clean_questions(questions: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for q in questions:
        q = " ".join(str(q).split())
        if q and q.lower() not in seen:
            seen[q.lower()] = q
    return list(seen.values())


class KnowledgeRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading ---------------------------------------------------------------------------
    def candidate(self, candidate_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(kb_candidates).where(kb_candidates.c.id == candidate_id)).first()
        return dict(row._mapping) if row else None

    def candidates(self, state: str | None = "new", limit: int = 200) -> list[dict[str, Any]]:
        q = (
            select(kb_candidates)
            .order_by(kb_candidates.c.created_at.desc(), kb_candidates.c.id.desc())
            .limit(limit)
        )
        if state:
            q = q.where(kb_candidates.c.state == state)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def entry(self, key: str, version: int | None = None) -> dict[str, Any] | None:
        q = select(kb_entries).where(kb_entries.c.key == key)
        q = q.where(kb_entries.c.version == version) if version else q.where(kb_entries.c.active.is_(True))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _entry(row) if row else None

    def history(self, key: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(kb_entries).where(kb_entries.c.key == key).order_by(kb_entries.c.version.desc())
            )
            return [_entry(r) for r in rows]

    def entries(self) -> list[dict[str, Any]]:
        """The live entries, each with its use: times answered, calls resolved and calls
        transferred after it (all versions, and this version's)."""
        with self.engine.connect() as conn:
            rows = [
                _entry(r)
                for r in conn.execute(
                    select(kb_entries).where(kb_entries.c.active.is_(True)).order_by(kb_entries.c.key)
                )
            ]
            uses = conn.execute(
                select(
                    kb_uses.c.key, kb_uses.c.version, func.count().label("n"),
                    func.sum(case((kb_uses.c.outcome.in_(RESOLVED), 1), else_=0)).label("resolved"),
                    func.sum(case((kb_uses.c.outcome.in_(TRANSFERRED), 1), else_=0)).label("transferred"),
                ).group_by(kb_uses.c.key, kb_uses.c.version)
            ).all()  # fmt: skip
        for e in rows:
            mine = [u for u in uses if u.key == e["key"]]
            this = [u for u in mine if u.version == e["version"]]
            e["uses"] = {
                "answered": sum(u.n for u in mine),
                "resolved": sum(int(u.resolved or 0) for u in mine),
                "transferred": sum(int(u.transferred or 0) for u in mine),
                "this_version": {
                    "answered": sum(u.n for u in this),
                    "resolved": sum(int(u.resolved or 0) for u in this),
                    "transferred": sum(int(u.transferred or 0) for u in this),
                },
            }
            n = e["uses"]["answered"]
            e["uses"]["resolved_share"] = round(e["uses"]["resolved"] / n, 3) if n else None
        return rows

    def live(self) -> list[dict[str, Any]]:
        """The active entries in the dialplan's `knowledge:` shape (id, questions, answer),
        plus their version."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(kb_entries).where(kb_entries.c.active.is_(True)).order_by(kb_entries.c.key)
            )
            return [
                {"id": r.key, "version": r.version, "questions": json.loads(r.questions), "answer": r.answer}
                for r in rows
            ]

    def stamp(self) -> tuple[int, int]:
        """Changes whenever an entry is approved, edited, rolled back or retired: (newest row id,
        live entries). One cheap query, so a worker can ask every time it answers."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.max(kb_entries.c.id), func.sum(case((kb_entries.c.active.is_(True), 1), else_=0)))
            ).first()
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def export_yaml(self) -> str:
        """The live entries as a dialplan's `knowledge:` list (a file `knowledge_files:` names)."""
        items = [{"id": e["id"], "questions": e["questions"], "answer": e["answer"]} for e in self.live()]
        head = "# Knowledge entries approved in the console (`ivr kb export`); a dialplan lists this file\n# under knowledge_files: or pastes the list under knowledge:.\n"
        return head + yaml.safe_dump({"knowledge": items}, sort_keys=False, allow_unicode=True, width=100)

    # -- changing --------------------------------------------------------------------------
    def approve(
        self,
        candidate_id: int,
        by: str,
        *,
        question: str | None = None,
        answer: str | None = None,
        key: str | None = None,
        into: str | None = None,
        also: list[int] | None = None,
        extra_questions: list[str] | None = None,
    ) -> dict[str, Any]:
        """Approve a candidate, as it is or edited: a new entry (`key`, default from the
        question), or merged `into` an existing entry as a new version of it. `also`: more
        candidates (near-duplicates) whose questions join the same entry."""
        now = time.time()
        with write_tx(self.engine) as conn:
            ids = [candidate_id, *[i for i in (also or []) if i != candidate_id]]
            rows = {r.id: r for r in conn.execute(select(kb_candidates).where(kb_candidates.c.id.in_(ids)))}
            for i in ids:
                if i not in rows:
                    raise KbError(f"no KB candidate {i}")
                if rows[i].state != "new":
                    raise KbError(f"KB candidate {i} is already {rows[i].state}")
            main = rows[candidate_id]
            questions = [
                question or main.question,
                *[rows[i].question for i in ids[1:]],
                *(extra_questions or []),
            ]
            text = (answer if answer is not None else main.answer).strip()
            if not text:
                raise KbError("the answer is empty: callers would hear nothing")
            if into:
                current = conn.execute(
                    select(kb_entries).where(kb_entries.c.key == into, kb_entries.c.active.is_(True))
                ).first()
                if current is None:
                    raise KbError(f"no live KB entry {into!r} to merge into")
                entry_key = into
                questions = [*json.loads(current.questions), *questions]
                if answer is None:
                    text = current.answer
                note = f"merged candidate(s) {', '.join(map(str, ids))}"
                sources = [*json.loads(current.candidates), *ids]
            else:
                entry_key = self._free_key(conn, slug(key or questions[0]))
                note = f"approved from candidate(s) {', '.join(map(str, ids))}"
                sources = ids
            version = self._write_version(
                conn, entry_key, _clean_questions(questions), text, by, note, sources, now
            )
            conn.execute(
                update(kb_candidates).where(kb_candidates.c.id.in_(ids))
                .values(state="merged" if into else "approved", entry_key=entry_key, decided_by=by, decided_at=now)
            )  # fmt: skip
            conn.execute(update(kb_candidates).where(kb_candidates.c.id.in_(ids[1:])).values(state="merged"))
        return {"key": entry_key, "version": version}

    def reject(self, candidate_id: int, by: str) -> None:
        with write_tx(self.engine) as conn:
            row = conn.execute(
                select(kb_candidates.c.state).where(kb_candidates.c.id == candidate_id)
            ).first()
            if row is None:
                raise KbError(f"no KB candidate {candidate_id}")
            if row.state != "new":
                raise KbError(f"KB candidate {candidate_id} is already {row.state}")
            conn.execute(
                update(kb_candidates).where(kb_candidates.c.id == candidate_id)
                .values(state="rejected", decided_by=by, decided_at=time.time())
            )  # fmt: skip

    def edit(
        self, key: str, by: str, *, questions: list[str] | None = None, answer: str | None = None
    ) -> dict[str, Any]:
        with write_tx(self.engine) as conn:
            current = self._active(conn, key)
            qs = _clean_questions(questions if questions is not None else json.loads(current.questions))
            text = (answer if answer is not None else current.answer).strip()
            if not qs or not text:
                raise KbError("an entry needs at least one question and an answer")
            version = self._write_version(
                conn, key, qs, text, by, "edited", json.loads(current.candidates), time.time()
            )
        return {"key": key, "version": version}

    def rollback(self, key: str, by: str, to_version: int | None = None) -> dict[str, Any]:
        """Back to an earlier version (default: the one before the live one), as a new version."""
        with write_tx(self.engine) as conn:
            current = self._active(conn, key)
            target_v = to_version or current.version - 1
            target = conn.execute(
                select(kb_entries).where(kb_entries.c.key == key, kb_entries.c.version == target_v)
            ).first()
            if target is None or target_v == current.version:
                raise KbError(
                    f"KB entry {key!r} has no version {target_v} to roll back to (live: v{current.version})"
                )
            version = self._write_version(
                conn, key, json.loads(target.questions), target.answer, by, f"rolled back to v{target_v}",
                json.loads(target.candidates), time.time(),
            )  # fmt: skip
        return {"key": key, "version": version}

    def retire(self, key: str, by: str) -> None:
        """Out of the KB: the AI stops giving this answer at once (its history stays)."""
        with write_tx(self.engine) as conn:
            self._active(conn, key)
            conn.execute(update(kb_entries).where(kb_entries.c.key == key).values(active=False, retired=True))

    def record_uses(self, uses: list[dict[str, Any]]) -> None:
        """A screened call's answers from the KB (key, version, t_ms, outcome); idempotent."""
        if not uses:
            return
        with write_tx(self.engine) as conn:
            for u in uses:
                conn.execute(
                    kb_uses.delete().where(
                        and_(
                            kb_uses.c.call_id == u["call_id"],
                            kb_uses.c.key == u["key"],
                            kb_uses.c.t_ms == u["t_ms"],
                        )
                    )
                )
            conn.execute(insert(kb_uses), uses)

    # -- helpers ---------------------------------------------------------------------------
    def _active(self, conn: Any, key: str) -> Any:
        row = conn.execute(
            select(kb_entries).where(kb_entries.c.key == key, kb_entries.c.active.is_(True))
        ).first()
        if row is None:
            raise KbError(f"no live KB entry {key!r}")
        return row

    def _free_key(self, conn: Any, base: str) -> str:
        taken = {
            r[0] for r in conn.execute(select(kb_entries.c.key).where(kb_entries.c.key.like(f"{base}%")))
        }
        if base not in taken:
            return base
        n = 2
        while f"{base}_{n}" in taken:
            n += 1
        return f"{base}_{n}"

    def _write_version(
        self, conn: Any, key: str, questions: list[str], answer: str, by: str, note: str, sources: list[int], now: float
    ) -> int:  # fmt: skip
        newest = (
            conn.execute(select(func.max(kb_entries.c.version)).where(kb_entries.c.key == key)).scalar() or 0
        )
        conn.execute(update(kb_entries).where(kb_entries.c.key == key).values(active=False))
        conn.execute(
            insert(kb_entries).values(
                key=key, version=newest + 1, questions=json.dumps(questions), answer=answer, active=True,
                retired=False, author=by, candidates=json.dumps(sources), note=note, created_at=now,
            )
        )  # fmt: skip
        return int(newest + 1)


def _entry(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["questions"] = json.loads(d["questions"])
    d["candidates"] = json.loads(d["candidates"])
    return d
