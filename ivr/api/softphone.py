"""The browser softphone's SIP credential: a signed-in agent's page asks for one, registers with
it over WebSocket, and asks again before it expires (`ivr.telephony.webrtc`). No password is
kept in the page or the store; an agent whose session ended gets none."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ivr.api.auth import AgentUser
from ivr.telephony import webrtc


@dataclass(frozen=True)
class Softphone:
    """Where browsers register: the WebSocket URI, the SIP domain, and the run directory whose
    secret Kamailio shares."""

    ws_uri: str
    domain: str
    run_dir: Path


class PhoneState(BaseModel):
    working: bool
    """Registered, with a microphone: the page can take a call."""
    why: str = Field(default="", max_length=120)
    """What is wrong when it cannot ("no microphone", "not registered", "reconnecting")."""


def softphone_router(softphone: Softphone | None) -> APIRouter:
    router = APIRouter(tags=["softphone"])

    @router.post("/api/softphone/credential")
    def issue(who: AgentUser) -> dict[str, Any]:
        secret = webrtc.load_secret(softphone.run_dir) if softphone is not None else None
        if softphone is None or secret is None:
            raise HTTPException(404, "this server runs no browser softphone (no SIP over WebSocket)")
        try:
            cred = webrtc.credential(secret, who.user)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        return {
            "ws_uri": softphone.ws_uri,
            "sip_uri": f"sip:{who.user}@{softphone.domain}",
            "username": cred.username,
            "password": cred.password,
            "expires_at": cred.expires_at,
            "renew_after_s": webrtc.CREDENTIAL_TTL_S // 2,
            "register_expires_s": webrtc.MAX_EXPIRES_S,
        }

    @router.post("/api/softphone/state")
    def state(change: PhoneState, request: Request, who: AgentUser) -> dict[str, Any]:
        """The page's phone lost (an available agent goes away: offered no calls) or back."""
        agent = request.app.state.store.agents.phone_state(who.user, change.working, change.why)
        if agent is None:
            raise HTTPException(404, f"{who.user} takes no calls (not an agent)")
        return {"name": agent.name, "state": str(agent.state), "reason": agent.reason}

    return router
