"""The pjsua2 objects a worker's endpoint is made of: the media port that hands frames to
Python, a call, the account, and reading a frame's bytes fast. Their callbacks only hand
work to the endpoint (`ivr.telephony.endpoint`), never raise, and run on the threads
SIP_NOTES.md describes (SIP callbacks on the endpoint's thread, frames on pjmedia's clock).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

if TYPE_CHECKING:
    from ivr.telephony.endpoint import SipEndpoint

log = logging.getLogger("ivr.sip")


def fast_bytes(vec: Any) -> bytes:
    """The bytes of a pj.ByteVector in ~3 us (bytes(vec) copies element by element: ~220 us).
    Reads libstdc++'s vector begin pointer; checked against bytes(vec) in the tests."""
    start = ctypes.c_void_p.from_address(int(vec.this)).value
    return ctypes.string_at(start, vec.size()) if start else b""


SRTP_USE = {
    "off": pj.PJMEDIA_SRTP_DISABLED,
    "optional": pj.PJMEDIA_SRTP_OPTIONAL,
    "required": pj.PJMEDIA_SRTP_MANDATORY,
}
"""The workers' SDES-SRTP modes (`SipSettings.srtp`) as pjsua2 has them."""


class SipStartError(RuntimeError):
    """The endpoint could not start; `port_taken` when its SIP port is bound elsewhere."""

    def __init__(self, message: str, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


def _pj_reason(e: BaseException) -> str:
    """A pjsua2 error's reason ('Address already in use'), not its empty str()."""
    if isinstance(e, pj.Error):
        reason = (getattr(e, "reason", "") or "").strip() or e.info().strip()
        title = (getattr(e, "title", "") or "").strip()
        return f"{reason} ({title})" if title and title not in reason else reason or "unknown pjsua2 error"
    return str(e) or type(e).__name__


_kept = threading.local()


def keep_thread_state() -> None:
    """Keep the Python thread state of the pjmedia thread this runs on. A director callback
    from a thread Python did not start makes a thread state and frees it again on every call
    (PyGILState_Ensure/Release: an allocation, mappings, threading's bookkeeping), twice a
    frame per call; one Ensure never released keeps it for the thread's life."""
    if not getattr(_kept, "done", False):
        ctypes.pythonapi.PyGILState_Ensure()
        _kept.done = True


class _Port(pj.AudioMediaPort):
    def __init__(self, on_in: Callable[[bytes], None], on_out: Callable[[], bytes]) -> None:
        pj.AudioMediaPort.__init__(self)
        self._on_in, self._on_out = on_in, on_out

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 (pjsua2's name)
        try:
            keep_thread_state()
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
                self._on_in(fast_bytes(frame.buf))
        except Exception:  # an exception in a director is only printed: never raise
            log.exception("frame in")

    def onFrameRequested(self, frame: Any) -> None:  # noqa: N802
        try:
            keep_thread_state()
            data = self._on_out()
            frame.buf = pj.ByteVector(data)
            frame.size = len(data)
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        except Exception:
            log.exception("frame out")


class _Call(pj.Call):
    def __init__(self, owner: SipEndpoint, acc: pj.Account, call_id: int) -> None:
        pj.Call.__init__(self, acc, call_id)
        self.owner = owner
        self.key = ""
        self.leg = "caller"  # or "agent": the outbound call to an agent's phone; "monitor": a supervisor's
        self.port: _Port | None = None
        self.transport: Any = None  # the caller's SipCallTransport (both legs report to it)
        self.audio_index = -1
        self.peer: _Call | None = None  # the other leg of a bridge
        self.bridged = False
        self.bridge_seq = 0  # which of the call's transfers an agent leg belongs to
        self.end_reason = ""
        self.gone = False
        self.player: Any = None  # hold music, played by pjmedia into the call
        self.hold_deaf = False  # on hold and the caller's frames are not taken
        self.holding = False  # on an agent's leg: the agent's phone holds the caller
        self.monitor: _Call | None = None  # a supervisor's leg listening in on this caller's bridge
        self.watched: _Call | None = None  # on a supervisor's leg: the caller leg it listens to
        self.monitor_mode = ""  # listen | whisper | barge (what the supervisor's leg is wired for)
        self.own_is_agent = False  # on a supervisor's leg: the watched leg is the agent's (a callback)

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        try:
            self.owner._on_state(self)
        except Exception:
            log.exception("call state")

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        try:
            self.owner._on_media(self)
        except Exception:
            log.exception("call media")

    def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802
        """NOTIFYs about our REFER: a final 2xx means the caller's phone reached the target."""
        try:
            if prm.finalNotify and self.transport is not None and not self.gone:
                self.transport.refer_done(int(prm.statusCode), str(prm.reason))
                if 200 <= prm.statusCode < 300:
                    self.end_reason = "transferred"
                    self.hangup(pj.CallOpParam())
        except Exception:
            log.exception("transfer status")

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802
        try:
            if self.transport is not None and self.leg == "caller":
                self.transport.sip_dtmf(prm.digit)
            elif self.leg == "agent" and self.bridged and self.peer is not None and not self.peer.gone:
                self.peer.dialDtmf(prm.digit)  # the agent's keypad reaches the caller (RFC 2833)
                if self.transport is not None:
                    self.transport.agent_dtmf(prm.digit)
        except Exception:
            log.exception("dtmf")


class _Account(pj.Account):
    def __init__(self, owner: SipEndpoint) -> None:
        pj.Account.__init__(self)
        self.owner = owner

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        try:
            self.owner._on_incoming(self, prm.callId, prm.rdata.wholeMsg)
        except Exception:
            log.exception("incoming call")
