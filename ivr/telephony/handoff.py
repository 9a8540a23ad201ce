"""The hand-over to a queue's own phone (`uri:` in the dialplan): a blind SIP transfer (REFER)
or a bridge with a whisper to the agent only; and the call's context as `X-IVR-*` headers on
the INVITE to the agent's phone (an agent desktop or ACD reads them; the whisper tells the
same to a plain phone)."""

from __future__ import annotations

from ivr.conversation import CallControl, TransferOutcome, TransferRequest

HEADER_MAX = 300
"""A header's value is one line of printable ASCII, cut at this length."""


class PhoneHandoff:
    def __init__(self, outside: str = "") -> None:
        self.outside = outside
        """How an outside number is dialled, `{number}` (E.164) filled in: through the hotline's
        Kamailio, which sends it out by the trunk its prefix names (sip:{number}@HOTLINE)."""

    def dial_uri(self, uri: str) -> str:
        """A `tel:` queue address (`tel:+44 20 7946 0999`) as a SIP URI through the trunk."""
        if not uri.lower().startswith("tel:") or not self.outside:
            return uri
        number = uri.split(":", 1)[1].split(";", 1)[0]
        return self.outside.format(number="".join(ch for ch in number if ch.isdigit() or ch == "+"))

    async def hand_over(self, call: CallControl, request: TransferRequest) -> TransferOutcome:
        await call.wait_playback()  # the caller hears the hand-over prompt
        uri = self.dial_uri(request.uri)
        if request.mode == "refer":
            return await call.refer(uri, request.ring_timeout_s)
        return await call.bridge_to(uri, request, request.ring_timeout_s)


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
