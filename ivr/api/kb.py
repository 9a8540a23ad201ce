"""The knowledge base over HTTP (supervisors): candidates from wrap-ups with their near-duplicates,
approve (edited, or merged into an entry), reject; live entries with their use; edit, roll
back, retire; the YAML export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from ivr.api.auth import SupervisorUser
from ivr.kb import KbError
from ivr.kb.similar import annotate

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
CandidateId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Approve(BaseModel):
    question: str | None = Field(default=None, min_length=3, max_length=500)
    answer: str | None = Field(default=None, min_length=3, max_length=2000)
    key: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,48}$")
    into: str | None = Field(default=None, max_length=64, description="Merge into this live entry")
    also: list[Id] = Field(
        default_factory=list, max_length=50, description="Near-duplicate candidates to merge in"
    )
    extra_questions: list[Annotated[str, Field(min_length=3, max_length=500)]] = Field(
        default_factory=list, max_length=20
    )


class Edit(BaseModel):
    questions: list[Annotated[str, Field(min_length=3, max_length=500)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    answer: str | None = Field(default=None, min_length=3, max_length=2000)


class Rollback(BaseModel):
    to_version: int | None = Field(default=None, ge=1, le=2**31 - 1)


def _kb(request: Request) -> Any:
    return request.app.state.store.kb


def _refused(e: KbError) -> HTTPException:
    return HTTPException(404 if str(e).startswith("no ") else 409, str(e))


def kb_router() -> APIRouter:
    router = APIRouter(tags=["knowledge base"])

    @router.get("/api/kb/candidates")
    def candidates(
        request: Request, _: SupervisorUser,
        state: Annotated[Literal["new", "approved", "rejected", "merged"] | None, Query()] = "new",
    ) -> dict[str, Any]:  # fmt: skip
        kb = _kb(request)
        cands = kb.candidates(state)
        return annotate(cands, kb.entries(), getattr(request.app.state, "embedder", None))

    @router.post("/api/kb/candidates/{candidate_id}/approve")
    def approve(
        candidate_id: CandidateId, body: Approve, request: Request, who: SupervisorUser
    ) -> dict[str, Any]:
        try:
            return _kb(request).approve(candidate_id, who.user, **body.model_dump())
        except KbError as e:
            raise _refused(e) from None

    @router.post("/api/kb/candidates/{candidate_id}/reject")
    def reject(candidate_id: CandidateId, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            _kb(request).reject(candidate_id, who.user)
        except KbError as e:
            raise _refused(e) from None
        return {"rejected": candidate_id}

    @router.get("/api/kb/entries")
    def entries(request: Request, _: SupervisorUser) -> dict[str, Any]:
        return {"entries": _kb(request).entries()}

    @router.get("/api/kb/entries/{key}")
    def history(key: str, request: Request, _: SupervisorUser) -> dict[str, Any]:
        versions = _kb(request).history(key)
        if not versions:
            raise HTTPException(404, f"no KB entry {key!r}")
        return {"key": key, "versions": versions}

    @router.patch("/api/kb/entries/{key}")
    def edit(key: str, body: Edit, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            return _kb(request).edit(key, who.user, questions=body.questions, answer=body.answer)
        except KbError as e:
            raise _refused(e) from None

    @router.post("/api/kb/entries/{key}/rollback")
    def rollback(key: str, body: Rollback, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            return _kb(request).rollback(key, who.user, body.to_version)
        except KbError as e:
            raise _refused(e) from None

    @router.delete("/api/kb/entries/{key}")
    def retire(key: str, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            _kb(request).retire(key, who.user)
        except KbError as e:
            raise _refused(e) from None
        return {"retired": key}

    @router.get("/api/kb/export.yaml", response_class=PlainTextResponse)
    def export(request: Request, _: SupervisorUser) -> str:
        return _kb(request).export_yaml()

    return router
