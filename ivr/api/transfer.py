"""An agent hands their live caller on from the console: to a queue's agents or to one agent
by name (`ivr.acd.transfers`; the worker holding the call carries it out). The agent sees
where they may send a caller, asks, and follows how it went."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from ivr.api.auth import AgentUser
from ivr.records import UserError

TransferId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class TransferAsk(BaseModel):
    queue: str = Field(default="", max_length=64)
    agent: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=500)
    """What the next agent should know (said to them before the caller is put through)."""


def _queues(request: Request) -> dict[str, str]:
    manager = getattr(request.app.state, "manager", None)
    try:
        queues = manager.active.dialplan.queues if manager is not None else {}
    except AttributeError:
        return {}
    return {name: str(getattr(q, "description", "") or "") for name, q in queues.items()}


def transfer_router() -> APIRouter:
    router = APIRouter(tags=["transfer"])

    @router.get("/api/transfer/targets")
    def targets(request: Request, who: AgentUser) -> dict[str, Any]:
        agents = request.app.state.store.agents.list()
        return {
            "queues": [{"name": n, "description": d} for n, d in sorted(_queues(request).items())],
            "agents": [{"name": a.name, "state": str(a.state)} for a in agents if a.name != who.user],
        }

    @router.post("/api/calls/{call_id}/transfer", status_code=201)
    def ask(call_id: str, body: TransferAsk, request: Request, who: AgentUser) -> dict[str, Any]:
        try:
            return request.app.state.store.transfers.request(
                call_id, who.user, _queues(request), queue=body.queue, target=body.agent, note=body.note
            )
        except UserError as e:
            raise HTTPException(409, str(e)) from None

    @router.get("/api/transfers/{transfer_id}")
    def show(transfer_id: TransferId, request: Request, who: AgentUser) -> dict[str, Any]:
        row = request.app.state.store.transfers.get(transfer_id)
        if row is None or (row["agent"] != who.user and not who.can("supervisor")):
            raise HTTPException(404, f"no transfer {transfer_id} of yours")
        return row

    return router
