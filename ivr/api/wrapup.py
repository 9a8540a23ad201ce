"""An agent's after-call work over HTTP: the wrap-up of their call (disposition, resolution
note, optionally a knowledge-base candidate: the question as callers ask it and the answer
that worked), and their recent calls. Supervisors decide on the candidates in `ivr.api.kb`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, model_validator

from ivr.acd.desk import DISPOSITIONS
from ivr.api.auth import AgentUser
from ivr.radar.records import RadarError
from ivr.records import UserError

Disposition = Literal[DISPOSITIONS]  # type: ignore[valid-type]


class KbSuggestion(BaseModel):
    question: str = Field(min_length=8, max_length=500, description="As a caller would ask it")
    answer: str = Field(min_length=8, max_length=2000, description="The answer that resolved it")


class WrapUp(BaseModel):
    call_id: str = Field(min_length=1, max_length=128)
    disposition: Disposition
    note: str = Field(default="", max_length=4000)
    kb: KbSuggestion | None = None
    available: bool = True
    """Back to available at once (else the wrap-up time runs out first)."""
    upset: Literal["angry", "anxious", "neither"] | None = None
    """Was the caller upset? (the radar learns from it: `ivr radar retrain`)"""
    upset_started_ms: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000)
    """Where it started, ms into the call (an utterance marked on the call page)."""

    @model_validator(mode="after")
    def _note_when_resolved(self) -> WrapUp:
        if self.disposition in ("resolved", "follow_up") and not self.note.strip():
            raise ValueError(f"a {self.disposition} call needs a resolution note")
        return self


def _mine(who: Any, name: str) -> None:
    if who.user != name and not who.can("supervisor"):
        raise HTTPException(403, f"{who.user} may see only their own calls")


def wrapup_router() -> APIRouter:
    router = APIRouter(tags=["agents"])

    @router.post("/api/agents/{name}/wrapup")
    def wrap_up(name: str, body: WrapUp, request: Request, who: AgentUser) -> dict[str, Any]:
        if who.user != name:
            raise HTTPException(403, f"{who.user} may wrap up only their own calls")
        kb = (body.kb.question.strip(), body.kb.answer.strip()) if body.kb else None
        store = request.app.state.store
        try:
            done: dict[str, Any] = store.console.wrap_up(
                name, body.call_id, body.disposition, body.note.strip(), kb, body.available
            )
        except UserError as e:
            raise HTTPException(409, str(e)) from None
        if body.upset is not None:  # the call is theirs: the wrap-up was taken
            try:
                done["upset"] = store.radar.label(
                    body.call_id, "wrapup", body.upset, name, body.upset_started_ms
                )
            except RadarError as e:
                raise HTTPException(409, f"the wrap-up was kept; the label was not: {e}") from None
        return done

    @router.get("/api/agents/{name}/calls")
    def recent(
        name: str, request: Request, who: AgentUser, limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> dict[str, Any]:
        _mine(who, name)
        return {"calls": request.app.state.store.console.recent_calls(name, limit)}

    return router
