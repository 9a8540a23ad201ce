"""Who may call the API: a bearer token from POST /api/login, or the console's session cookie
from POST /api/session, checked against the store on every request, with the role each route
needs (agent < supervisor < admin).

The console's token lives in an httpOnly, SameSite=Strict cookie the page's scripts cannot
read; a request that changes something with that cookie must also carry the session's CSRF
token (a second, readable cookie) in `X-CSRF-Token` (double submit), so another site can
neither read the session nor act with it. A WebSocket with the cookie must come from a page
of this host (its Origin)."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ivr.records import Principal
from ivr.users import SESSION_COOKIE

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/login.")
UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
CSRF_COOKIE = "ivr_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _store(request: Request) -> Any:
    store = request.app.state.store
    if store is None:
        raise HTTPException(503, "this process has no store: the API's users live there")
    return store


def require(role: str) -> Callable[..., Principal]:
    """A dependency: the caller's principal, if their token is good and their role is at least `role`."""

    def check(
        request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        token = cred.credentials if cred is not None else ""
        if not token:
            token = request.cookies.get(SESSION_COOKIE, "")
            if token and request.method not in SAFE_METHODS and not csrf_ok(request):
                raise HTTPException(
                    403, f"the session cookie needs its CSRF token in {CSRF_HEADER} (reload the console)"
                )
        if not token:
            raise HTTPException(
                401,
                "log in first: POST /api/login, then send Authorization: Bearer TOKEN",
                headers=UNAUTHORIZED,
            )
        principal = _store(request).users.authenticate(token)
        if principal is None:
            raise HTTPException(
                401, "the token is unknown or has expired: log in again", headers=UNAUTHORIZED
            )
        if not principal.can(role):
            raise HTTPException(403, f"this needs the {role} role; {principal.user} is {principal.role}")
        request.state.principal = principal
        return principal

    check.required_role = role  # type: ignore[attr-defined]  # read by the route-walking test
    return check


def csrf_ok(request: Request) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    return bool(cookie) and hmac.compare_digest(cookie, header)


def same_origin(origin: str | None, host: str | None) -> bool:
    """A browser's Origin names this host (a WebSocket from another site's page is refused)."""
    if not origin:
        return True  # not a browser: it carries no cookie of ours by accident
    return origin.split("://", 1)[-1].rstrip("/") == (host or "")


def token_of_websocket(ws: Any, query_token: str) -> str:
    """A WebSocket's token: ?token= (API clients), else the console's session cookie, if the
    page that opened it is this host's."""
    if query_token:
        return query_token
    cookie = ws.cookies.get(SESSION_COOKIE, "")
    if cookie and same_origin(ws.headers.get("origin"), ws.headers.get("host")):
        return str(cookie)
    return ""


async def websocket_principal(ws: Any, query_token: str, role: str) -> tuple[Principal, str] | None:
    """Who opened this WebSocket, if they may (their principal and token); else the socket is
    closed with 4401 (no or a stale session) or 4403 (the role is short) and None returned."""
    import asyncio

    store = ws.app.state.store
    token = token_of_websocket(ws, query_token)
    who = await asyncio.to_thread(store.users.authenticate, token) if (token and store is not None) else None
    if who is None:
        await ws.close(code=4401, reason="log in first: POST /api/session (or ?token= from /api/login)")
        return None
    if not who.can(role):
        await ws.close(code=4403, reason=f"this needs the {role} role; {who.user} is {who.role}")
        return None
    return who, token


class LoginRequest(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginAnswer(BaseModel):
    token: str
    user: str
    role: str
    expires_at: float


class SessionAnswer(BaseModel):
    user: str
    role: str
    expires_at: float
    csrf: str
    """Send it back in X-CSRF-Token with every request that changes something."""


MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0


class _Guard:
    """Password guessing: 5 failures in 5 minutes close the name for a while."""

    def __init__(self, token_ttl_s: int) -> None:
        self.token_ttl_s = token_ttl_s
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def check_password(self, req: LoginRequest, request: Request) -> tuple[str, Principal]:
        """A new token for the user and who they are; 401 for a wrong password, 429 while
        the name is closed."""
        store = _store(request)
        now = time.monotonic()
        with self.lock:
            recent = self.failures[req.user]
            while recent and now - recent[0] > FAILURE_WINDOW_S:
                recent.popleft()
            if len(recent) >= MAX_FAILURES:
                wait = int(FAILURE_WINDOW_S - (now - recent[0])) + 1
                raise HTTPException(429, f"too many failed logins for {req.user!r}: try again in {wait} s",
                                    headers={"Retry-After": str(wait)})  # fmt: skip
        token = store.users.login(req.user, req.password, self.token_ttl_s)
        if token is None:
            with self.lock:
                self.failures[req.user].append(now)
                if len(self.failures) > 10000:  # names nobody has: do not grow without end
                    self.failures.clear()
            raise HTTPException(401, "wrong user or password", headers=UNAUTHORIZED)
        with self.lock:
            self.failures.pop(req.user, None)
        p = store.users.authenticate(token)
        assert p is not None
        return token, p


def auth_router(token_ttl_s: int) -> APIRouter:
    router = APIRouter(tags=["auth"])
    check_password = _Guard(token_ttl_s).check_password

    @router.post(
        "/api/login",
        response_model=LoginAnswer,
        responses={401: {"description": "wrong user or password"}, 429: {"description": "too many failures"}},
    )
    def login(req: LoginRequest, request: Request) -> LoginAnswer:
        token, p = check_password(req, request)
        return LoginAnswer(token=token, user=p.user, role=p.role, expires_at=p.expires_at)

    @router.post(
        "/api/session",
        response_model=SessionAnswer,
        responses={401: {"description": "wrong user or password"}, 429: {"description": "too many failures"}},
    )
    def open_session(req: LoginRequest, request: Request, response: Response) -> SessionAnswer:
        """The console's sign-in: the token goes into an httpOnly cookie, never to the page."""
        token, p = check_password(req, request)
        csrf = secrets.token_urlsafe(24)
        secure = request.url.scheme == "https"
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=token_ttl_s,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
        response.set_cookie(
            CSRF_COOKIE, csrf, max_age=token_ttl_s, httponly=False, samesite="strict", secure=secure, path="/"
        )
        return SessionAnswer(user=p.user, role=p.role, expires_at=p.expires_at, csrf=csrf)

    @router.delete("/api/session", status_code=204)
    def close_session(request: Request, response: Response, _: AgentUser) -> None:
        token = request.cookies.get(SESSION_COOKIE, "")
        if token:
            _store(request).users.logout(token)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")

    @router.post("/api/logout", status_code=204)
    def logout(
        request: Request,
        cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        _: AgentUser,
    ) -> None:
        token = cred.credentials if cred is not None else request.cookies.get(SESSION_COOKIE, "")
        _store(request).users.logout(token)

    @router.get("/api/me")
    def me(p: AgentUser) -> dict[str, Any]:
        return {"user": p.user, "role": p.role, "expires_at": p.expires_at}

    return router


AgentUser = Annotated[Principal, Depends(require("agent"))]
SupervisorUser = Annotated[Principal, Depends(require("supervisor"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
