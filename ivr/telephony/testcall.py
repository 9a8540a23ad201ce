"""`ivr call NUMBER`: an admin's smoke test of a trunk. A one-call SIP phone (pjsua2) dials the
number through the trunk the numbers file routes it to, as the hotline's own calls leave:
the trunk's proxy, its account answering a 401/407, the caller ID the admin set. It records
what it hears, keys digits if asked, hangs up after a while and says how the call went: the
carrier's answer (final status), how long ringing and answering took, how much audio came
back and how loud. When the number is one of the hotline's own, this is the whole loop a
customer's call takes: carrier -> trunk -> Kamailio -> the number's dialplan."""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pjsua2 as pj

from ivr.telephony.trunks import Trunk


@dataclass
class TestCallResult:
    status: int = 0
    reason: str = ""
    ringing_ms: int | None = None
    answered_ms: int | None = None
    heard_s: float = 0.0
    peak_dbfs: float | None = None
    recording: str = ""
    events: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.answered_ms is not None


class _Call(pj.Call):
    def __init__(self, acc: pj.Account, on_state: Any, on_media: Any) -> None:
        pj.Call.__init__(self, acc)
        self._on_state, self._on_media = on_state, on_media

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        self._on_state(self.getInfo())

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        self._on_media(self)


def place(trunk: Trunk, number: str, seconds: float, record: Path, digits: str = "",
          bind: str = "", ring_timeout_s: float = 30.0) -> TestCallResult:  # fmt: skip
    """Dial E.164 `number` through `trunk`; hear it for `seconds` after the answer."""
    scheme, rest = trunk.proxy.split(":", 1)
    host = rest.split(";", 1)[0].rsplit(":", 1)[0].strip("[]")
    bind = bind or ("127.0.0.1" if host.startswith("127.") else "0.0.0.0")
    result = TestCallResult(recording=str(record))
    t0 = time.monotonic()
    ep = pj.Endpoint()
    ep.libCreate()
    try:
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "ivr-call"
        cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
        cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 8000
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = bind
        kind = pj.PJSIP_TRANSPORT_TLS if "transport=tls" in rest else (
            pj.PJSIP_TRANSPORT_TCP if "transport=tcp" in rest else pj.PJSIP_TRANSPORT_UDP)  # fmt: skip
        ep.transportCreate(kind, tcfg)
        ep.audDevManager().setNullDev()
        ep.libStart()
        acfg = pj.AccountConfig()
        who = trunk.caller_id or "anonymous"
        acfg.idUri = f"sip:{who}@{host}"
        if trunk.username:
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", trunk.username, 0, trunk.password))
        acfg.mediaConfig.transportConfig.boundAddress = bind
        acc = pj.Account()
        acc.create(acfg, True)
        state: dict[str, Any] = {"media": False, "ended": False, "answered_at": None, "recorder": None}

        def on_state(info: Any) -> None:
            ms = int((time.monotonic() - t0) * 1000)
            result.events.append(f"{ms} ms {info.stateText} {info.lastStatusCode} {info.lastReason}")
            if info.lastStatusCode in (180, 183) and result.ringing_ms is None:
                result.ringing_ms = ms
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED and result.answered_ms is None:
                result.answered_ms, state["answered_at"] = ms, time.monotonic()
                result.status, result.reason = 200, info.lastReason
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                state["ended"] = True
                if result.answered_ms is None:
                    result.status, result.reason = info.lastStatusCode, info.lastReason

        def on_media(call: _Call) -> None:
            info = call.getInfo()
            result.events.append("media " + ",".join(f"{m.type}:{m.status}" for m in info.media))
            for i, m in enumerate(info.media):
                if (
                    m.type == pj.PJMEDIA_TYPE_AUDIO
                    and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE
                    and not state["media"]
                ):
                    recorder = pj.AudioMediaRecorder()
                    recorder.createRecorder(str(record))
                    call.getAudioMedia(i).startTransmit(recorder)
                    state["media"], state["recorder"] = True, recorder

        call = _Call(acc, on_state, on_media)
        call.makeCall(f"{scheme}:{number}@{rest}", pj.CallOpParam(True))
        keyed = not digits
        while not state["ended"]:
            ep.libHandleEvents(20)
            now = time.monotonic()
            if state["answered_at"] is None and now - t0 > ring_timeout_s:
                call.hangup(pj.CallOpParam(True))
                result.status, result.reason = 408, "no answer in time"
                break
            if state["answered_at"] is not None:
                if not keyed and now - state["answered_at"] > 2:
                    call.dialDtmf(digits)
                    keyed = True
                if now - state["answered_at"] > seconds:
                    call.hangup(pj.CallOpParam(True))
                    break
        end = time.monotonic() + 5
        while not state["ended"] and time.monotonic() < end:
            ep.libHandleEvents(20)
        state["recorder"] = None
        del call
        acc.shutdown()
    finally:
        ep.libDestroy()
    if record.exists():
        result.heard_s, result.peak_dbfs = _level(record)
    return result


def _level(path: Path) -> tuple[float, float | None]:
    try:
        with wave.open(str(path)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
            rate = w.getframerate()
    except (OSError, EOFError, wave.Error):
        return 0.0, None
    if not len(pcm):
        return 0.0, None
    peak = float(np.max(np.abs(pcm.astype(np.int32)))) / 32768
    return len(pcm) / rate, round(20 * np.log10(peak), 1) if peak > 0 else None
