"""A supervisor on a live call through their own phone (a desk phone, or the floor page itself
where the hotline has browser phones): listen (they hear both sides),
whisper (the agent hears them too; the caller never does), barge (all three talk). The API
records the request; the worker holding the call dials the supervisor's phone and mixes the
leg in (`ivr.call.monitor`), and reports how it went in the same row. Also the call's
recording, playable in the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from ivr.api.auth import SupervisorUser
from ivr.records import UserError


class MonitorRequest(BaseModel):
    mode: Literal["listen", "whisper", "barge"] = "listen"


def monitor_router() -> APIRouter:
    router = APIRouter(tags=["monitor"])

    @router.post("/api/calls/{call_id}/monitor", status_code=201)
    def start(call_id: str, body: MonitorRequest, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            browser = bool(request.app.state.softphone_ws)  # their console is a phone too
            return request.app.state.store.console.monitor_request(call_id, who.user, body.mode, browser)
        except UserError as e:
            raise HTTPException(409, str(e)) from None

    @router.patch("/api/calls/{call_id}/monitor")
    def change(call_id: str, body: MonitorRequest, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            return request.app.state.store.console.monitor_change(call_id, who.user, mode=body.mode)
        except UserError as e:
            raise HTTPException(409, str(e)) from None

    @router.delete("/api/calls/{call_id}/monitor")
    def stop(call_id: str, request: Request, who: SupervisorUser) -> dict[str, Any]:
        try:
            return request.app.state.store.console.monitor_change(call_id, who.user, stop=True)
        except UserError as e:
            raise HTTPException(409, str(e)) from None

    @router.get("/api/calls/{call_id}/monitor")
    def show(call_id: str, request: Request, _: SupervisorUser) -> dict[str, Any]:
        m = request.app.state.store.console.monitor_of(call_id)
        if m is None:
            raise HTTPException(404, f"call {call_id} has not been monitored")
        return m

    @router.get("/api/calls/{call_id}/recording", response_class=FileResponse)
    def recording(call_id: str, request: Request, _: SupervisorUser) -> FileResponse:
        call = request.app.state.store.calls.get(call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id!r}")
        path = str(call.get("recording_path") or "")
        root = getattr(request.app.state, "recordings_dir", None)
        if not path or root is None:
            raise HTTPException(404, "this call has no recording (purged, or kept by another host)")
        file = Path(path).resolve()
        if (
            not file.is_relative_to(Path(root).resolve()) or not file.is_file()
        ):  # only the data dir's recordings
            raise HTTPException(404, "the recording is not on this host")
        return FileResponse(file, media_type="audio/wav", filename=f"{call_id}.wav")

    return router
