"""The HTTP API: health, login, service and dialplan status, dialplan reload, call records,
/metrics, the demo billing backend, the agents' and the floor's live events, wrap-ups,
monitoring, the knowledge base, QA, the report, and the console's pages (`ivr.console`). Every /api route but health and login needs a
bearer token with the route's role (`ivr.api.auth`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.analytics.metrics import LiveFigures, exposition
from ivr.api.agents import agents_router
from ivr.api.auth import AdminUser, SupervisorUser, auth_router
from ivr.api.calls import calls_router
from ivr.api.demo import demo_account, demo_router
from ivr.api.events import events_router
from ivr.api.floor import floor_router
from ivr.api.kb import kb_router
from ivr.api.monitor import monitor_router
from ivr.api.qa import qa_router
from ivr.api.radar import radar_router
from ivr.api.report import report_router
from ivr.api.server import BackgroundServer
from ivr.api.softphone import Softphone, softphone_router
from ivr.api.transfer import transfer_router
from ivr.api.wrapup import wrapup_router
from ivr.console.pages import mount_console

__all__ = ["BackgroundServer", "create_app", "demo_account"]
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
STORE_RETRY_AFTER_S = 5
"""What a client is told to wait when the store is away (503)."""


def create_app(
    manager: Any = None,
    status: Any = None,
    store: Any = None,
    token_ttl_s: int = 12 * 3600,
    metrics_public: bool = False,
    run_dir: Path | None = None,
    embedder: Any = None,
    qa_config: Any = None,
    softphone: Softphone | None = None,
) -> FastAPI:
    app = FastAPI(title="ivr-hotline", version="0.1.0")
    app.state.store = store
    app.state.manager = manager
    app.state.embedder = embedder  # KB near-duplicates, clustering unmatched words (None: by words)
    app.state.qa_config = qa_config
    app.state.softphone_ws = softphone.ws_uri if softphone is not None else ""
    app.state.figures = None
    if store is not None:
        app.state.figures = LiveFigures(store.engine, qa_config.timezone if qa_config is not None else "UTC")
    app.state.recordings_dir = (run_dir.parent / "calls") if run_dir is not None else None
    started = time.time()

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def store_away(request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL restarting, a network cut to it: a moment's wait, not a server error
        return JSONResponse(
            {"detail": "the store is unavailable for the moment; try again shortly"},
            status_code=503,
            headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
        )

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "uptime_s": round(time.time() - started, 1)}

    @app.get("/api/sip")
    def sip_status(_: SupervisorUser) -> dict[str, Any]:
        if status is None:
            raise HTTPException(404, "this process runs no SIP")
        return status()

    @app.get("/api/dialplan")
    def dialplan_status(_: SupervisorUser) -> dict[str, Any]:
        if manager is None:
            raise HTTPException(404, "no dialplan is loaded")
        return manager.status()

    @app.post("/api/dialplan/reload")
    def dialplan_reload(_: AdminUser) -> JSONResponse:
        if manager is None:
            raise HTTPException(404, "no dialplan is loaded")
        result = manager.reload()
        body = {"ok": result.ok, "changed": result.changed, **manager.status()}
        if not result.ok:
            body["errors"] = [str(i) for i in result.issues if i.severity == "error"]
        return JSONResponse(body, status_code=200 if result.ok else 422)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if not metrics_public and client not in LOOPBACK:
            raise HTTPException(403, "/metrics is served to 127.0.0.1 only (IVR_METRICS_PUBLIC=1 opens it)")
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(exposition(run_dir, app.state.figures), media_type=CONTENT_TYPE_LATEST)

    app.include_router(auth_router(token_ttl_s))
    app.include_router(calls_router())
    app.include_router(agents_router())
    app.include_router(events_router())
    app.include_router(demo_router())
    app.include_router(floor_router())
    app.include_router(monitor_router())
    app.include_router(wrapup_router())
    app.include_router(kb_router())
    app.include_router(qa_router())
    app.include_router(radar_router())
    app.include_router(report_router())
    app.include_router(softphone_router(softphone))
    app.include_router(transfer_router())

    mount_console(app)
    return app
