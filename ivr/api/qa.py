"""QA over HTTP (supervisors): the review queue, one call's screening, the admin's form, a
review, and how often reviewers agree with the AI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ivr.api.auth import SupervisorUser
from ivr.qa.config import QaConfig


class Review(BaseModel):
    answers: dict[str, bool | int | str | None] = Field(description="question id -> yes/no, 1..scale or n/a")
    comment: str = Field(default="", max_length=4000)
    wrong_flags: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20, description="AI flags the reviewer says are wrong"
    )


def qa_router() -> APIRouter:
    router = APIRouter(tags=["qa"])

    def config(request: Request) -> Any:
        return getattr(request.app.state, "qa_config", None) or QaConfig()

    @router.get("/api/qa/queue")
    def queue(
        request: Request, _: SupervisorUser, day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
        reviewed: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        qa = request.app.state.store.qa
        return {"calls": qa.queue(day, include_reviewed=reviewed), "agreement": qa.agreement()}

    @router.get("/api/qa/form")
    def form(request: Request, _: SupervisorUser) -> dict[str, Any]:
        cfg = config(request)
        return {**cfg.form.to_dict(), "risky_at": cfg.risky_at, "source": cfg.source}

    @router.get("/api/qa/calls/{call_id}")
    def result(call_id: str, request: Request, _: SupervisorUser) -> dict[str, Any]:
        r = request.app.state.store.qa.result(call_id)
        if r is None:
            raise HTTPException(404, f"call {call_id} has not been screened (it may still be live)")
        return r

    @router.post("/api/qa/calls/{call_id}/review")
    def review(call_id: str, body: Review, request: Request, who: SupervisorUser) -> dict[str, Any]:
        cfg = config(request)
        try:
            score = cfg.form.score(body.answers)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        try:
            return request.app.state.store.qa.review(
                call_id, who.user, cfg.form.name, body.answers, score, score >= cfg.form.pass_mark, cfg.risky_at,
                body.comment.strip(), body.wrong_flags,
            )  # fmt: skip
        except KeyError:
            raise HTTPException(404, f"call {call_id} has not been screened") from None
        except ValueError as e:
            raise HTTPException(422, str(e)) from None

    return router
