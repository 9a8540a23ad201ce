"""The operator's report over HTTP (supervisors): the dashboard's figures as JSON, and each
table as CSV."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ivr.analytics.report import report, tables, to_csv
from ivr.api.auth import SupervisorUser

MAX_SPAN_S = 400 * 86400


def _period(since: str | None, until: str | None, days: int) -> tuple[float, float]:
    def ts(v: str, name: str) -> float:
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            raise HTTPException(422, f"{name}={v!r}: an ISO date or time, e.g. 2026-12-01") from None
        return (t if t.tzinfo else t.astimezone()).timestamp()

    end = ts(until, "until") if until else time.time() + 1
    start = ts(since, "since") if since else end - days * 86400
    if not 0 < end - start <= MAX_SPAN_S:
        raise HTTPException(422, "since must be before until, and at most 400 days before it")
    return start, end


def report_router() -> APIRouter:
    router = APIRouter(tags=["report"])

    def build(
        request: Request, since: str | None, until: str | None, days: int, number: str | None = None
    ) -> dict[str, Any]:
        start, end = _period(since, until, days)
        cfg = getattr(request.app.state, "qa_config", None)
        tz = cfg.timezone if cfg is not None else "UTC"
        return report(
            request.app.state.store.engine, start, end, tz, getattr(request.app.state, "embedder", None),
            number=number or "",
        )  # fmt: skip

    @router.get("/api/report")
    def get_report(
        request: Request, _: SupervisorUser, since: str | None = None, until: str | None = None,
        days: Annotated[int, Query(ge=1, le=400)] = 1,
        number: Annotated[str | None, Query(max_length=64, description="only calls to this number (E.164)")] = None,
    ) -> dict[str, Any]:  # fmt: skip
        return build(request, since, until, days, number)

    @router.get("/api/report/{table}.csv")
    def table_csv(
        table: str, request: Request, _: SupervisorUser, since: str | None = None, until: str | None = None,
        days: Annotated[int, Query(ge=1, le=400)] = 1,
        number: Annotated[str | None, Query(max_length=64, description="only calls to this number (E.164)")] = None,
    ) -> Response:  # fmt: skip
        all_tables = tables(build(request, since, until, days, number))
        if table not in all_tables:
            raise HTTPException(404, f"no table {table!r}: one of {', '.join(all_tables)}")
        return Response(
            to_csv(all_tables[table]), media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
        )  # fmt: skip

    return router
