"""The pjsua2 endpoint of one worker, on the threading model measured in SIP_NOTES.md.

One thread creates the endpoint and runs `libHandleEvents`; every pjsua2 call is made on it
(the event loop's commands are queued there), SIP and DTMF callbacks arrive on it; audio
callbacks come on pjmedia's clock thread and only copy a frame.
A call's C++ objects are destroyed explicitly at DISCONNECTED, media port first, and the
call is never touched again (GC-deferred destruction sent BYE to a reused slot).

A transfer to an agent's phone is a second call (the agent leg) placed from the same
endpoint: once it answers, the transport plays the whisper into the agent leg only, then
the two calls' audio is cross-connected in the conference bridge while both ports stay
attached (the recording hears both). Either side hanging up hangs up the other.

A supervisor monitoring a bridged call is a third leg (`monitor_leg.py`); hold music and the
level check that wakes a held caller are in `hold_media.py`.

The agent leg counts against the worker's 4 calls, so a line is kept for it: while a caller
waits in a queue, the worker answers new callers only if every waiting caller still has a
line for their agent (a new INVITE gets 486 and Kamailio tries the next worker). A callback
is an outbound call from here (`originate`): the agent first, then the caller as its leg.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from ivr.settings import HOST_NAME
from ivr.telephony.commands import Send
from ivr.telephony.dispatch import Dispatch
from ivr.telephony.hold_media import HOLD_LEVEL_CHECK_S, HoldMedia
from ivr.telephony.monitor_leg import MonitorLegs
from ivr.telephony.outbound import OutboundLegs
from ivr.telephony.pjobjects import SRTP_USE, SipStartError, _Account, _Call, _pj_reason, _Port, fast_bytes
from ivr.telephony.sipmsg import header, request_user, uri_user

__all__ = ["SipEndpoint", "SipSettings", "SipStartError", "fast_bytes"]

log = logging.getLogger("ivr.sip")


@dataclass(frozen=True)
class SipSettings:
    """One worker's SIP side."""

    host: str = "127.0.0.1"
    """Address to bind SIP and RTP to."""
    port: int = 5070
    """SIP port (UDP and TCP)."""
    rtp_port: int = 40000
    """First RTP port of this worker's range (each worker needs its own range)."""
    rtp_ports: int = 64
    """How many RTP ports the worker may use."""
    max_calls: int = 4
    """Calls at once (the pjsua2 wheel holds at most 4)."""
    sample_rate: int = 8000
    """Rate of the audio the IVR hears and speaks (the bridge converts to each codec)."""
    jitter_ms: int = 40
    """Initial and minimum jitter-buffer delay (it grows up to 4x on a jittery line)."""
    log_level: int = 0
    """pjsip log level to the console (0 = quiet, 5 = every message)."""
    srtp: str = "off"
    """SDES-SRTP: off, optional (offered; SRTP or plain taken) or required (plain gets 488)."""


class Refused(Exception):
    """`make_transport` will not take this call: it is answered `code` (404: no such number)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class SipEndpoint(Dispatch, HoldMedia, MonitorLegs, OutboundLegs):
    """Runs the SIP side of a worker on its own thread.

    `make_transport(key, caller, called, send)` makes the SipCallTransport that carries a new
    call (`called`: the request URI's user, the number dialled), or raises Refused.
    """

    def __init__(self, settings: SipSettings, make_transport: Callable[[str, str, str, Send], Any]) -> None:
        self.settings = settings
        self._make_transport = make_transport
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._calls: dict[str, _Call] = {}
        self._seq = 0
        host = re.sub(r"[^A-Za-z0-9]+", "-", HOST_NAME)[:32] or "host"  # two media hosts: same ports
        self.epoch = f"{time.strftime('%Y%m%d%H%M%S')}-{host}"  # a call's id is unique across hosts
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sip", daemon=True)
        self._accepting = False
        self.answered = 0
        self.refused_for_agents = 0
        """New callers turned away (486) to keep lines for waiting callers' agent legs."""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout_s: float = 20.0) -> None:
        """Bind the SIP port (calls are refused with 503 until `accept_calls()`)."""
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise SipStartError(
                f"the SIP endpoint on {self.settings.host}:{self.settings.port} did not start in time"
            )
        if self._error is not None:
            reason = _pj_reason(self._error)
            taken = "in use" in reason.lower() or "EADDRINUSE" in reason
            raise SipStartError(
                f"cannot use SIP port {self.settings.host}:{self.settings.port}: {reason}", port_taken=taken
            )

    def accept_calls(self) -> None:
        """The worker is ready: answer calls from now on."""
        self._accepting = True

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def _run(self) -> None:
        ep = pj.Endpoint()
        try:
            self._init(ep)
        except BaseException as e:  # reported to start()
            self._error = e
            # pjlib objects must go on this thread: at exit, on another thread, pjlib aborts
            self._acc = None
            import gc

            gc.collect()
            try:
                ep.libDestroy()
            except Exception:
                pass
            del ep
            self._ready.set()
            return
        self._ready.set()
        next_level_check = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_level_check:
                    next_level_check = now + HOLD_LEVEL_CHECK_S
                    self._check_hold_levels()
                # an idle worker, or one whose callers are all on hold, wakes 10-20x a second,
                # not 100x (SIP traffic wakes it anyway; only our own commands wait): dozens of
                # idle workers would otherwise cost a share of the box before any call
                ep.libHandleEvents(self._poll_ms())
                while True:
                    try:
                        cmd = self._commands.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        cmd()
                    except Exception:
                        log.exception("sip command")
        finally:
            for call in list(self._calls.values()):
                try:
                    call.hangup(pj.CallOpParam())
                except Exception:
                    pass
            self._calls.clear()
            self._acc = None
            import gc

            gc.collect()
            ep.libDestroy()

    def _init(self, ep: pj.Endpoint) -> None:
        s = self.settings
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = s.max_calls
        cfg.uaConfig.userAgent = "ivr-hotline"
        cfg.logConfig.level = s.log_level
        cfg.logConfig.consoleLevel = s.log_level
        cfg.medConfig.clockRate = s.sample_rate
        cfg.medConfig.sndClockRate = s.sample_rate
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.maxMediaPorts = 2 * s.max_calls + 8
        # a short jitter buffer: the caller's end of speech reaches the VAD sooner (pjmedia's
        # default prefetch holds audio back for a network with jitter; it adapts up to jb_max)
        cfg.medConfig.jbInit = s.jitter_ms
        cfg.medConfig.jbMinPre = s.jitter_ms
        cfg.medConfig.jbMaxPre = 4 * s.jitter_ms
        cfg.medConfig.jbMax = 500
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = s.port
        tcfg.boundAddress = s.host
        udp = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            keep = codec.codecId.split("/")[0] in ("PCMU", "PCMA", "G722", "telephone-event")
            ep.codecSetPriority(
                codec.codecId,
                {"PCMU": 250, "PCMA": 240, "G722": 230}.get(codec.codecId.split("/")[0], 0) if keep else 0,
            )
        ep.libStart()
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:hotline@{s.host}:{s.port}"
        acfg.mediaConfig.transportConfig.port = s.rtp_port
        acfg.mediaConfig.transportConfig.portRange = s.rtp_ports
        acfg.mediaConfig.transportConfig.boundAddress = s.host
        # no re-INVITE "to use only one codec" right after an answer with several: sent just
        # after the ACK, it overtook it on its way to a browser (Kamailio's workers race), and
        # JsSIP, still waiting for the ACK, refused it and then resent its 200 until the call died
        acfg.mediaConfig.lockCodecEnabled = False
        # by UDP from the SIP port, as Kamailio knows the worker: a >1300-byte INVITE went by TCP
        # from another port and Kamailio took it for a caller's (it looped into the hotline)
        acfg.sipConfig.transportId = udp
        acfg.mediaConfig.srtpUse = SRTP_USE[s.srtp]
        acfg.mediaConfig.srtpSecureSignaling = 0  # the worker's own leg to Kamailio is on this host
        self._acc = _Account(self)
        self._acc.create(acfg, True)
        self._ep = ep

    def _on_incoming(self, acc: _Account, call_id: int, message: str = "") -> None:
        if not self._accepting:  # still starting: Kamailio tries the next worker
            call = _Call(self, acc, call_id)
            self._seq += 1
            call.key = f"refused-{self._seq}"
            self._calls[call.key] = call  # kept until DISCONNECTED, like any call
            op = pj.CallOpParam()
            op.statusCode = 503
            call.hangup(op)
            return
        call = _Call(self, acc, call_id)
        self._seq += 1
        if self.room_for_new() < 1:  # the free lines are kept for waiting callers' agents
            call.key = f"busy-{self._seq}"
            self._calls[call.key] = call
            op = pj.CallOpParam()
            op.statusCode = 486
            call.hangup(op)
            self.refused_for_agents += 1
            return
        call.key = f"{self.epoch}-{self.settings.port}-{self._seq}"
        self._calls[call.key] = call
        info = call.getInfo()
        # a trunk asserts who calls (P-Asserted-Identity) where From may be withheld or a display number
        caller = uri_user(header(message, "P-Asserted-Identity")) or _user_of(info.remoteUri)
        called = request_user(message) or uri_user(info.localUri)
        try:
            call.transport = self._make_transport(call.key, caller, called, self.commands_for(call.key))
        except Refused as e:
            log.info("call to %s from %s refused: %d %s", called, caller, e.code, e.reason)
            op = pj.CallOpParam()
            op.statusCode = e.code
            op.reason = e.reason
            call.hangup(op)
            return
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)
        self.answered += 1

    def _poll_ms(self) -> int:
        if not self._calls:
            return 100
        if all(c.hold_deaf for c in self._calls.values()):
            return 50
        return 10

    def _on_media(self, call: _Call) -> None:
        if call.gone:
            return
        if call.port is not None:  # a re-INVITE: an agent's phone may hold the caller
            if call.leg == "agent":
                self._agent_media_changed(call)
            return
        info = call.getInfo()
        if call.leg == "monitor":
            self._monitor_media(call, info)
            return
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                aud = call.getAudioMedia(i)
                fmt = pj.MediaFormatAudio()
                fmt.type = pj.PJMEDIA_TYPE_AUDIO
                fmt.clockRate = self.settings.sample_rate
                fmt.channelCount = 1
                fmt.bitsPerSample = 16
                fmt.frameTimeUsec = 20000
                t = call.transport
                if call.leg == "agent":
                    port = _Port(t.agent_frame_in, t.agent_frame_out)
                else:
                    port = _Port(t.media_frame_in, t.media_frame_out)
                port.createPort(f"ivr{call.key}", fmt)
                aud.startTransmit(port)
                port.startTransmit(aud)
                call.port = port
                call.audio_index = i
                if call.leg == "agent":
                    t.agent_answered(call.bridge_seq)
                else:
                    t.media_started()
                return

    def _on_state(self, call: _Call) -> None:
        info = call.getInfo()
        if info.state != pj.PJSIP_INV_STATE_DISCONNECTED or call.gone:
            return
        call.gone = True
        self._calls.pop(call.key, None)
        if call.leg == "monitor":
            watched, call.watched = call.watched, None
            if watched is not None:
                watched.monitor = None
            if call.transport is not None:
                call.transport.monitor_ended(info.lastStatusCode, info.lastReason, call.bridge_seq)
            self._destroy(call)
            return
        mon, call.monitor = call.monitor, None
        if mon is not None and not mon.gone:  # the call is over: so is listening in on it
            mon.watched = None
            try:
                mon.hangup(pj.CallOpParam())
            except pj.Error:
                pass
            if mon.transport is not None:
                mon.transport.monitor_ended(200, "the call ended", mon.bridge_seq)
            mon.transport = None
        peer, call.peer = call.peer, None
        if peer is not None:
            peer.peer = None
            # one side of a bridge ended: end the other (an agent leg that never connected
            # leaves the caller with the IVR; a caller who leaves cancels the agent leg)
            if not peer.gone and (call.bridged or call.leg == "caller"):
                peer.end_reason = peer.end_reason or f"{call.leg} hung up"
                try:
                    peer.hangup(pj.CallOpParam())
                except pj.Error:
                    pass
        if call.transport is not None:
            if call.leg == "agent":
                if not call.bridged:
                    call.transport.agent_failed(info.lastStatusCode, info.lastReason, call.bridge_seq)
            else:
                reason = call.end_reason or f"caller hung up ({info.lastStatusCode})"
                call.transport.sip_disconnected(reason)
        self._destroy(call)

    def _destroy(self, call: _Call) -> None:
        player, call.player = call.player, None
        if player is not None:
            pj._pjsua2.delete_AudioMediaPlayer(player)
            player.this.disown()
        port, call.port = call.port, None
        if port is not None:
            pj._pjsua2.delete_AudioMediaPort(port)
            port.this.disown()
        pj._pjsua2.delete_Call(call)
        call.this.disown()

    def lines_free(self) -> int:
        """Calls this endpoint could still make or take (an agent leg is one)."""
        return self.settings.max_calls - len(self._calls)

    def room_for_new(self) -> int:
        """Lines free once each waiting caller's agent leg is counted: what a new caller, or a
        callback (two lines), may use."""
        calls = list(self._calls.values())
        waiting = sum(
            1
            for c in calls
            if c.leg == "caller" and c.peer is None and getattr(c.transport, "needs_line", False)
        )
        return self.settings.max_calls - len(calls) - waiting


def _user_of(uri: str) -> str:
    """'"Ann" <sip:+447700900001@host>;tag=x' -> '+447700900001'."""
    inner = uri.split("<", 1)[1].split(">", 1)[0] if "<" in uri else uri
    inner = inner.split(";", 1)[0]
    if ":" in inner:
        inner = inner.split(":", 1)[1]
    return inner.split("@", 1)[0]
