"""The radar's learning in the store: people's labels of upset callers, the radar's versions and
the admin's false-alarm budget.

A label says whether the caller was upset (angry, anxious or neither) and, when someone marked
it on the call page, where it started. The utterances' features are the cues on the call's
affect events (numbers, never audio); a label keeps a copy of them, so a label outlives the
purge of the call's transcript. A version is proposed by a retraining, made live by an admin,
and rolled back to the one it replaced (version 0: the model as shipped).
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from ivr.store.engine import write_tx
from ivr.store.tables import admin_settings, call_events, calls, radar_labels, radar_models

LABELS = ("angry", "anxious", "neither")
SOURCES = ("wrapup", "qa")
BUDGET_KEY = "radar.false_alarms_per_100"
DEFAULT_BUDGET = 2.0
"""False escalations per hundred calm calls the thresholds are set for, until an admin says."""


class RadarError(ValueError):
    """A request the radar's records refuse (unknown call or version, a bad label); the message
    says which and why."""


class RadarRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- labels ----------------------------------------------------------------------------
    def label(
        self, call_id: str, source: str, label: str, author: str, started_ms: int | None = None
    ) -> dict[str, Any]:
        """The caller was `label` on this call, says `author` (the agent's wrap-up or a QA
        review); `started_ms`: where it started. A later label from the same source replaces it."""
        if label not in LABELS:
            raise RadarError(f"label {label!r}: one of {', '.join(LABELS)}")
        if source not in SOURCES:
            raise RadarError(f"source {source!r}: one of {', '.join(SOURCES)}")
        if started_ms is not None and (not isinstance(started_ms, int) or started_ms < 0):
            raise RadarError("started_ms: a point in the call, in milliseconds from its start")
        if label == "neither":
            started_ms = None
        with self.engine.connect() as conn:
            call = conn.execute(select(calls.c.duration_ms).where(calls.c.id == call_id)).first()
        if call is None:
            raise RadarError(f"no call {call_id!r}")
        if started_ms is not None and call.duration_ms is not None and started_ms > call.duration_ms:
            raise RadarError(f"started_ms {started_ms} is after the call's end ({call.duration_ms} ms)")
        with self.engine.connect() as conn:
            features = self._cues(conn, [call_id]).get(call_id, [])
        values = {"label": label, "started_ms": started_ms, "author": author, "created_at": time.time()}
        with write_tx(self.engine) as conn:
            values["features"] = json.dumps(features)
            done = conn.execute(
                update(radar_labels)
                .where(radar_labels.c.call_id == call_id, radar_labels.c.source == source)
                .values(**values)
            ).rowcount
            if not done:
                conn.execute(insert(radar_labels).values(call_id=call_id, source=source, **values))
        return {"call_id": call_id, "source": source, **values, "features": len(features)}

    def labels_of(self, call_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(radar_labels).where(radar_labels.c.call_id == call_id).order_by(radar_labels.c.source)
            )
            return [dict(r._mapping) for r in rows]

    def labelled_calls(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Every call started in [since, until) that someone labelled: its labels and the cues of
        its utterances ({t_ms, cues}), in call order."""
        q = (
            select(radar_labels, calls.c.started_at, calls.c.caller)
            .join(calls, calls.c.id == radar_labels.c.call_id)
            .where(calls.c.started_at >= since)
        )
        if until is not None:
            q = q.where(calls.c.started_at < until)
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(q.order_by(calls.c.started_at, radar_labels.c.call_id)):
                c = out.setdefault(
                    r.call_id,
                    {
                        "call_id": r.call_id,
                        "started_at": r.started_at,
                        "caller": r.caller,
                        "labels": [],
                        "utterances": [],
                    },
                )
                c["labels"].append(
                    {"source": r.source, "label": r.label, "started_ms": r.started_ms, "author": r.author}
                )
                kept = json.loads(r.features or "[]")
                if len(kept) > len(c["utterances"]):
                    c["utterances"] = kept
            utterances = self._cues(conn, list(out))
        for call_id, c in out.items():  # the events when they are still there (a wrap-up's copy
            if len(utterances.get(call_id, [])) >= len(c["utterances"]):  # may miss the last ones)
                c["utterances"] = utterances.get(call_id, [])
        return list(out.values())

    @staticmethod
    def _cues(conn: Any, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(ids), 500):
            rows = conn.execute(
                select(call_events.c.call_id, call_events.c.t_ms, call_events.c.data)
                .where(call_events.c.call_id.in_(ids[i : i + 500]), call_events.c.type == "affect")
                .order_by(call_events.c.call_id, call_events.c.seq)
            )
            for r in rows:
                d = json.loads(r.data)
                if d.get("cues"):
                    out.setdefault(r.call_id, []).append(
                        {"t_ms": r.t_ms, "cues": d["cues"], "model": d.get("model", 0)}
                    )
        return out

    def _by_call(self) -> dict[str, tuple[str, str]]:
        """Each labelled call's label (QA's over the wrap-up's) and the level its radar reached."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    radar_labels.c.call_id, radar_labels.c.source, radar_labels.c.label, calls.c.affect_level
                ).join(calls, calls.c.id == radar_labels.c.call_id)
            ).all()
        sources: dict[str, dict[str, str]] = {}
        level: dict[str, str] = {}
        for r in rows:
            sources.setdefault(r.call_id, {})[r.source] = r.label
            level[r.call_id] = r.affect_level or ""
        return {c: (s.get("qa") or s["wrapup"], level[c]) for c, s in sources.items()}

    def counts(self) -> dict[str, int]:
        """Calls labelled, by label (the latest source's word: QA's over the wrap-up's)."""
        out = dict.fromkeys(LABELS, 0)
        for label, _ in self._by_call().values():
            out[label] += 1
        return out

    def agreement(self) -> dict[str, Any]:
        """How the radar did on the calls people labelled, as the calls ran: the share of the
        upset ones it escalated, and of the calm ones (its false alarms per 100)."""
        rows = list(self._by_call().values())
        upset = [lvl == "escalate" for label, lvl in rows if label != "neither"]
        calm = [lvl == "escalate" for label, lvl in rows if label == "neither"]
        return {
            "upset_calls": len(upset),
            "upset_escalated": round(sum(upset) / len(upset), 3) if upset else None,
            "calm_calls": len(calm),
            "false_per_100": round(100 * sum(calm) / len(calm), 1) if calm else None,
        }

    # -- versions --------------------------------------------------------------------------
    def propose(
        self, body: dict[str, Any], report: dict[str, Any], since: str, budget: float, author: str
    ) -> int:
        """A retrained model, kept as the next version (live only once an admin approves it)."""
        with write_tx(self.engine) as conn:
            top = conn.execute(select(func.max(radar_models.c.version))).scalar() or 0
            version = int(top) + 1
            conn.execute(
                insert(radar_models).values(
                    version=version, state="proposed", body=json.dumps(body), report=json.dumps(report),
                    since=since, budget=budget, created_by=author, created_at=time.time(),
                )
            )  # fmt: skip
        return version

    def version(self, version: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(radar_models).where(radar_models.c.version == version)).first()
        return _version(row) if row else None

    def versions(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(radar_models).order_by(radar_models.c.version.desc()).limit(limit))
            return [_version(r, body=False) for r in rows]

    def active(self) -> dict[str, Any] | None:
        """The live version (None: the model as shipped)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(radar_models).where(radar_models.c.state == "active")).first()
        return _version(row) if row else None

    def stamp(self) -> tuple[int, float]:
        """Changes when the live version does (one indexed query: what workers poll)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(radar_models.c.version, radar_models.c.decided_at).where(
                    radar_models.c.state == "active"
                )
            ).first()
        return (int(row.version), float(row.decided_at or 0)) if row else (0, 0.0)

    def approve(self, version: int, author: str) -> dict[str, Any]:
        with write_tx(self.engine) as conn:
            row = conn.execute(select(radar_models).where(radar_models.c.version == version)).first()
            if row is None:
                raise RadarError(f"no radar version {version}")
            if row.state != "proposed":
                raise RadarError(f"version {version} is {row.state}: only a proposed version can be approved")
            live = conn.execute(
                select(radar_models.c.version).where(radar_models.c.state == "active")
            ).scalar()
            now = time.time()
            if live is not None:
                conn.execute(
                    update(radar_models).where(radar_models.c.version == live).values(state="replaced")
                )
            conn.execute(
                update(radar_models)
                .where(radar_models.c.version == version)
                .values(state="active", replaces=int(live or 0), decided_by=author, decided_at=now)
            )
        out = self.version(version)
        assert out is not None
        return out

    def reject(self, version: int, author: str) -> dict[str, Any]:
        with write_tx(self.engine) as conn:
            done = conn.execute(
                update(radar_models)
                .where(radar_models.c.version == version, radar_models.c.state == "proposed")
                .values(state="rejected", decided_by=author, decided_at=time.time())
            ).rowcount
        if not done:
            raise RadarError(f"no proposed radar version {version}")
        out = self.version(version)
        assert out is not None
        return out

    def rollback(self, author: str) -> int:
        """The live version out, the one it replaced back (0: the shipped model); that version."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(radar_models).where(radar_models.c.state == "active")).first()
            if row is None:
                raise RadarError("the shipped model is live: there is nothing to roll back")
            now = time.time()
            conn.execute(
                update(radar_models)
                .where(radar_models.c.version == row.version)
                .values(state="rolled_back", decided_by=author, decided_at=now)
            )
            if row.replaces:
                conn.execute(
                    update(radar_models)
                    .where(radar_models.c.version == row.replaces)
                    .values(state="active", decided_by=author, decided_at=now)
                )
        return int(row.replaces)

    # -- the budget ------------------------------------------------------------------------
    def budget(self) -> float:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(admin_settings.c.value).where(admin_settings.c.key == BUDGET_KEY)
            ).scalar()
        return DEFAULT_BUDGET if value is None else float(json.loads(value))

    def set_budget(self, per_100: float, author: str) -> float:
        if not isinstance(per_100, (int, float)) or not 0 <= per_100 <= 50:
            raise RadarError("the false-alarm budget is false escalations per 100 calm calls, 0 to 50")
        values = {"value": json.dumps(float(per_100)), "updated_by": author, "updated_at": time.time()}
        with write_tx(self.engine) as conn:
            done = conn.execute(
                update(admin_settings).where(admin_settings.c.key == BUDGET_KEY).values(**values)
            ).rowcount
            if not done:
                conn.execute(insert(admin_settings).values(key=BUDGET_KEY, **values))
        return float(per_100)


def _version(row: Any, body: bool = True) -> dict[str, Any]:
    d = dict(row._mapping)
    d["report"] = json.loads(d["report"] or "{}")
    if body:
        d["body"] = json.loads(d["body"])
    else:
        d.pop("body", None)
    return d
