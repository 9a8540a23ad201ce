"""Who may call the API: a bearer token from POST /api/login, checked against the store on
every request, with the role each route needs (agent < supervisor < admin)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ivr.store import Principal

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/login.")
UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


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
        if cred is None or not cred.credentials:
            raise HTTPException(401, "log in first: POST /api/login, then send Authorization: Bearer TOKEN", headers=UNAUTHORIZED)
        principal = _store(request).users.authenticate(cred.credentials)
        if principal is None:
            raise HTTPException(401, "the token is unknown or has expired: log in again", headers=UNAUTHORIZED)
        if not principal.can(role):
            raise HTTPException(403, f"this needs the {role} role; {principal.user} is {principal.role}")
        request.state.principal = principal
        return principal

    check.required_role = role  # type: ignore[attr-defined]  # read by the route-walking test
    return check


class LoginRequest(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginAnswer(BaseModel):
    token: str
    user: str
    role: str
    expires_at: float


MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0


def auth_router(token_ttl_s: int) -> APIRouter:
    router = APIRouter(tags=["auth"])
    failures: dict[str, deque[float]] = defaultdict(deque)
    lock = threading.Lock()

    @router.post(
        "/api/login",
        response_model=LoginAnswer,
        responses={401: {"description": "wrong user or password"}, 429: {"description": "too many failures"}},
    )
    def login(req: LoginRequest, request: Request) -> LoginAnswer:
        store = _store(request)
        now = time.monotonic()
        with lock:  # password guessing: 5 failures in 5 minutes close the name for a while
            recent = failures[req.user]
            while recent and now - recent[0] > FAILURE_WINDOW_S:
                recent.popleft()
            if len(recent) >= MAX_FAILURES:
                wait = int(FAILURE_WINDOW_S - (now - recent[0])) + 1
                raise HTTPException(429, f"too many failed logins for {req.user!r}: try again in {wait} s",
                                    headers={"Retry-After": str(wait)})  # fmt: skip
        token = store.users.login(req.user, req.password, token_ttl_s)
        if token is None:
            with lock:
                failures[req.user].append(now)
                if len(failures) > 10000:  # names nobody has: do not grow without end
                    failures.clear()
            raise HTTPException(401, "wrong user or password", headers=UNAUTHORIZED)
        with lock:
            failures.pop(req.user, None)
        p = store.users.authenticate(token)
        return LoginAnswer(token=token, user=p.user, role=p.role, expires_at=p.expires_at)

    @router.post("/api/logout", status_code=204)
    def logout(
        request: Request,
        cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        _: AgentUser,
    ) -> None:
        assert cred is not None
        _store(request).users.logout(cred.credentials)

    @router.get("/api/me")
    def me(p: AgentUser) -> dict[str, Any]:
        return {"user": p.user, "role": p.role, "expires_at": p.expires_at}

    return router


AgentUser = Annotated[Principal, Depends(require("agent"))]
SupervisorUser = Annotated[Principal, Depends(require("supervisor"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
