"""Agents over HTTP: the list (supervisors), and an agent's own state (available, away with a
reason, logged out); a supervisor may set anyone's."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ivr.acd.policy import Agent, AgentState
from ivr.api.auth import AgentUser, SupervisorUser
from ivr.records import UserError


class StateChange(BaseModel):
    state: Literal["available", "away", "logged_out"]
    reason: str = Field(default="", max_length=200)


def _shown(a: Agent) -> dict[str, Any]:
    return {"name": a.name, "state": str(a.state), "since": a.since, "reason": a.reason,
            "skills": sorted(a.skills), "level": a.level, "missed": a.missed}  # fmt: skip


def agents_router() -> APIRouter:
    router = APIRouter(tags=["agents"])

    @router.get("/api/agents")
    def list_agents(request: Request, _: SupervisorUser) -> dict[str, Any]:
        return {"agents": [_shown(a) for a in request.app.state.store.agents.list()]}

    @router.post("/api/agents/{name}/state")
    def set_state(name: str, change: StateChange, request: Request, who: AgentUser) -> dict[str, Any]:
        if who.user != name and not who.can("supervisor"):
            raise HTTPException(403, f"{who.user} may change only their own state")
        store = request.app.state.store
        if store.agents.get(name) is None:
            raise HTTPException(404, f"no agent {name!r}")
        try:
            return _shown(store.agents.set_state(name, AgentState(change.state), change.reason))
        except UserError as e:
            raise HTTPException(409, str(e)) from None

    return router
