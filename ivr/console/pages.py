"""The agent and supervisor console: one page app (Preact + htm + uPlot, from npm at set-up,
served from `static/`), its pages gated here by the session cookie's role so an agent is never
even sent a supervisor's page: `/console/` sign-in, `/console/agent` (agents and up),
`/console/floor`, `/console/dashboard`, `/console/qa`, `/console/kb`, `/console/radar` and `/console/calls/ID`
(supervisors and up)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ivr.users import SESSION_COOKIE

STATIC = Path(__file__).resolve().parent / "static"
VENDOR_FILES = ("preact.mjs", "hooks.mjs", "htm.mjs", "uPlot.esm.js", "uPlot.min.css", "jssip.mjs")


def _import_map_hash() -> str:
    """The CSP hash of index.html's inline import map (the one inline script allowed)."""
    try:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
    except OSError:
        return ""
    m = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    if m is None:
        return ""
    return "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'self'; script-src 'self' {_import_map_hash()}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'{softphone}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""Nothing the page loads or calls may come from anywhere but this server (and its Kamailio's
WebSocket, where the agent's browser phone registers)."""
HEADERS = {"Content-Security-Policy": CSP.format(softphone=""), "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}  # fmt: skip


def _headers(request: Request) -> dict[str, str]:
    ws = getattr(request.app.state, "softphone_ws", "")
    return {**HEADERS, "Content-Security-Policy": CSP.format(softphone=f" {ws}" if ws else "")}


def missing_vendor() -> list[str]:
    return [f for f in VENDOR_FILES if not (STATIC / "vendor" / f).is_file()]


def _page(request: Request, role: str) -> Response:
    if missing_vendor():
        return HTMLResponse(
            f"<h1>The console is not set up</h1><p>Missing {', '.join(missing_vendor())}: run <code>make setup</code>.</p>",
            status_code=503, headers=HEADERS,
        )  # fmt: skip
    if role:
        store = request.app.state.store
        token = request.cookies.get(SESSION_COOKIE, "")
        who = store.users.authenticate(token) if (token and store is not None) else None
        if who is None:
            return RedirectResponse(f"/console/?next={request.url.path}", status_code=303, headers=HEADERS)
        if not who.can(role):
            return HTMLResponse(
                f"<!doctype html><title>Refused</title><h1>Refused</h1><p>This page is for the {role} role; "
                f"{who.user} is {who.role}. <a href='/console/'>Back</a></p>",
                status_code=403, headers=HEADERS,
            )  # fmt: skip
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_headers(request))


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/console")
    def root() -> Response:
        return RedirectResponse("/console/", status_code=307)

    @router.get("/console/")
    def sign_in(request: Request) -> Response:
        return _page(request, "")

    def page(path: str, role: str) -> None:
        @router.get(path)
        def serve_page(request: Request) -> Response:
            return _page(request, role)

    page("/console/agent", "agent")
    for name in ("floor", "dashboard", "qa", "kb", "radar"):
        page(f"/console/{name}", "supervisor")

    @router.get("/console/calls/{call_id}")
    def call_page(call_id: str, request: Request) -> Response:
        return _page(request, "supervisor")

    return router


def mount_console(app: object) -> None:
    app.include_router(console_router())  # type: ignore[attr-defined]
    app.mount("/console/static", StaticFiles(directory=STATIC, check_dir=False), name="console-static")  # type: ignore[attr-defined]
