"""The radar's learning over HTTP. Labels: an agent for the calls they took (their wrap-up), a
supervisor for any call (a QA review, the call page's "it started here"). Retraining, approval,
rollback and the false-alarm budget: admins (supervisors may look)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from ivr.api.auth import AdminUser, AgentUser, SupervisorUser
from ivr.radar.admin import run_retrain
from ivr.radar.records import RadarError
from prosody.radar import RadarModel

Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Label = Literal["angry", "anxious", "neither"]


class LabelIn(BaseModel):
    label: Label
    started_ms: int | None = Field(
        default=None, ge=0, le=24 * 3600 * 1000, description="Where it started in the call"
    )
    source: Literal["wrapup", "qa"] | None = Field(
        default=None, description="Default: qa for supervisors, wrapup for agents"
    )


class RetrainIn(BaseModel):
    since: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}([T ][0-9:]{5,8})?$", description="ISO date or time")
    until: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}([T ][0-9:]{5,8})?$")
    dry_run: bool = False
    budget: float | None = Field(default=None, ge=0, le=50)


class BudgetIn(BaseModel):
    false_alarms_per_100: float = Field(ge=0, le=50, description="False escalations per 100 calm calls")


def _radar(request: Request) -> Any:
    return request.app.state.store.radar


def _refused(e: RadarError) -> HTTPException:
    return HTTPException(404 if str(e).startswith("no ") else 409, str(e))


def _ts(text: str) -> float:
    t = datetime.fromisoformat(text)
    return (t if t.tzinfo else t.astimezone()).timestamp()


def radar_router() -> APIRouter:
    router = APIRouter(tags=["radar"])

    @router.get("/api/calls/{call_id}/upset")
    def labels(call_id: str, request: Request, _: AgentUser) -> dict[str, Any]:
        return {"call_id": call_id, "labels": _radar(request).labels_of(call_id)}

    @router.post("/api/calls/{call_id}/upset")
    def label(call_id: str, body: LabelIn, request: Request, who: AgentUser) -> dict[str, Any]:
        """Was the caller upset (and where did it start)? An agent labels only calls they took."""
        source = body.source or ("qa" if who.can("supervisor") else "wrapup")
        if not who.can("supervisor"):
            if source != "wrapup":
                raise HTTPException(403, "an agent's label is their wrap-up's")
            if not request.app.state.store.console.handled_by(who.user, call_id):
                raise HTTPException(403, f"{who.user} may label only the calls they took")
        try:
            return _radar(request).label(call_id, source, body.label, who.user, body.started_ms)
        except RadarError as e:
            raise _refused(e) from None

    @router.get("/api/radar")
    def state(request: Request, _: SupervisorUser) -> dict[str, Any]:
        r = _radar(request)
        live = r.active()
        return {"live_version": live["version"] if live else 0, "budget": r.budget(), "labels": r.counts(),
                "agreement": r.agreement(), "versions": r.versions()}  # fmt: skip

    @router.get("/api/radar/versions/{version}")
    def version(version: Version, request: Request, _: SupervisorUser) -> dict[str, Any]:
        row = _radar(request).version(version)
        if row is None:
            raise HTTPException(404, f"no radar version {version}")
        row.pop("body", None)
        return row

    @router.post("/api/radar/retrain")
    def retrain(body: RetrainIn, request: Request, who: AdminUser) -> dict[str, Any]:
        """Refit on the calls labelled since `since`; a better model is proposed (not live)."""
        try:
            since, until = _ts(body.since), _ts(body.until) if body.until else None
        except (ValueError, OverflowError, OSError) as e:
            raise HTTPException(422, f"not a date or time: {e}") from None
        shipped = getattr(request.app.state, "radar_shipped", None) or RadarModel.load()
        request.app.state.radar_shipped = shipped
        return run_retrain(
            _radar(request), shipped, since, body.since, until, body.budget, body.dry_run, who.user
        )

    def decided(decide: Any, version: int, who: str) -> dict[str, Any]:
        try:
            row: dict[str, Any] = decide(version, who)
        except RadarError as e:
            raise _refused(e) from None
        row.pop("body", None)
        return row

    @router.post("/api/radar/versions/{version}/approve")
    def approve(version: Version, request: Request, who: AdminUser) -> dict[str, Any]:
        """The version live: the workers judge their next calls with it (no restart)."""
        return decided(_radar(request).approve, version, who.user)

    @router.post("/api/radar/versions/{version}/reject")
    def reject(version: Version, request: Request, who: AdminUser) -> dict[str, Any]:
        return decided(_radar(request).reject, version, who.user)

    @router.post("/api/radar/rollback")
    def rollback(request: Request, who: AdminUser) -> dict[str, Any]:
        try:
            return {"live_version": _radar(request).rollback(who.user)}
        except RadarError as e:
            raise _refused(e) from None

    @router.put("/api/radar/budget")
    def budget(body: BudgetIn, request: Request, who: AdminUser) -> dict[str, Any]:
        return {"budget": _radar(request).set_budget(body.false_alarms_per_100, who.user)}

    return router
