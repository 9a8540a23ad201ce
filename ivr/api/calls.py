"""Call records over HTTP: list (paginated, filtered), one call with its events and
transcript, and the CDR export. Supervisors and admins."""

from __future__ import annotations

import io
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from ivr.api.auth import SupervisorUser
from ivr.records import OUTCOMES

Outcome = StrEnum("Outcome", {o: o for o in OUTCOMES})  # type: ignore[misc]


def _when(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            422, f"{name}={value!r}: use ISO time (2026-12-01T09:00) or epoch seconds"
        ) from None
    return (when if when.tzinfo else when.astimezone()).timestamp()


def calls_router() -> APIRouter:
    router = APIRouter(tags=["calls"])

    @router.get("/api/calls")
    def list_calls(
        request: Request,
        _: SupervisorUser,
        since: Annotated[str | None, Query(description="ISO time or epoch seconds", max_length=40)] = None,
        until: Annotated[str | None, Query(description="ISO time or epoch seconds", max_length=40)] = None,
        outcome: Outcome | None = None,
        caller: Annotated[str | None, Query(max_length=64)] = None,
        called: Annotated[
            str | None, Query(max_length=64, description="the number called (E.164) or SIP user")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[
            str | None, Query(max_length=300, description="next_cursor of the page before")
        ] = None,
    ) -> dict[str, Any]:
        if cursor is not None:
            at, sep, _id = cursor.partition("|")
            try:
                float(at)
            except ValueError:
                raise HTTPException(
                    422, "cursor: pass the next_cursor of the previous page as it is"
                ) from None
            if not sep:
                raise HTTPException(422, "cursor: pass the next_cursor of the previous page as it is")
        page = request.app.state.store.calls.list(
            since=_when(since, "since"),
            until=_when(until, "until"),
            outcome=str(outcome) if outcome else None,
            caller=caller,
            limit=limit,
            cursor=cursor,
            called=called,
        )
        return {"calls": page.calls, "next_cursor": page.next_cursor}

    @router.get("/api/calls/{call_id}")
    def get_call(call_id: str, request: Request, _: SupervisorUser) -> dict[str, Any]:
        call = request.app.state.store.calls.get(call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id!r}")
        call["wrapup"] = request.app.state.store.console.wrapup_of(call_id)
        return call

    @router.get("/api/export/calls.csv", response_class=StreamingResponse)
    def export(request: Request, _: SupervisorUser) -> StreamingResponse:
        buf = io.StringIO()
        request.app.state.store.calls.export_csv(buf)
        return StreamingResponse(
            iter([buf.getvalue()]),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
        )

    return router
