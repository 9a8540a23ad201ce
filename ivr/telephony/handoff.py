"""The hand-over to a queue's own phone (`uri:` in the dialplan): a blind SIP transfer (REFER)
or a bridge with a whisper to the agent only; and the call's context as `X-IVR-*` headers on
the INVITE to the agent's phone (an agent desktop or ACD reads them; the whisper tells the
same to a plain phone)."""

from __future__ import annotations

from ivr.conversation import CallControl, TransferOutcome, TransferRequest

HEADER_MAX = 300
"""A header's value is one line of printable ASCII, cut at this length."""


class PhoneHandoff:
    async def hand_over(self, call: CallControl, request: TransferRequest) -> TransferOutcome:
        await call.wait_playback()  # the caller hears the hand-over prompt
        if request.mode == "refer":
            return await call.refer(request.uri, request.ring_timeout_s)
        return await call.bridge_to(request.uri, request, request.ring_timeout_s)


def agent_headers(call_id: str, request: TransferRequest) -> dict[str, str]:
    """The call's context as SIP headers on the INVITE to the agent's phone."""
    ctx = request.context
    caller = ctx.get("caller") or {}
    affect = ctx.get("affect") or {}
    values = {
        "X-IVR-Call": call_id,
        "X-IVR-Queue": request.queue,
        "X-IVR-Tier": request.tier,
        "X-IVR-Priority": str(request.priority),
        "X-IVR-Caller": str(caller.get("number") or ""),
        "X-IVR-Caller-Name": str(caller.get("name") or ""),
        "X-IVR-Caller-Tier": str(caller.get("tier") or ""),
        "X-IVR-Intent": str((ctx.get("intent") or {}).get("name") or ""),
        "X-IVR-Affect": str(affect.get("level") or ""),
        "X-IVR-Summary": str(ctx.get("summary") or request.reason),
    }
    out = {}
    for name, value in values.items():
        value = " ".join(value.split()).encode("ascii", "replace").decode()[:HEADER_MAX]  # one safe line
        if value:
            out[name] = value
    return out
