"""A supervisor's leg on a bridged call, for the SIP endpoint: dialled from the same pjsua2
endpoint and wired in the conference bridge with no Python port (no Python per frame). Both
sides always flow to the supervisor; in whisper the supervisor flows to the agent only, in
barge to both. The caller never hears a whisper. Runs on the endpoint's SIP thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pjsua2 as pj

from ivr.telephony.pjobjects import _Call

if TYPE_CHECKING:
    from ivr.telephony.endpoint import SipEndpoint


class MonitorLegs:
    """Mixed into SipEndpoint (uses its `_calls`, `settings`, `_acc` and `_make_call`)."""

    _calls: dict[str, _Call]
    settings: Any
    _acc: Any
    _make_call: Callable[[_Call, str, dict[str, str]], str]

    def _dial_monitor(self, call: _Call, uri: str, mode: str, seq: int, own_is_agent: bool = False) -> None:
        if call.monitor is not None:
            call.transport.monitor_ended(500, "a supervisor is already on this call", seq)
            return
        if len(self._calls) >= self.settings.max_calls:
            call.transport.monitor_ended(503, "no free line on this worker for the supervisor's phone", seq)
            return
        mon = _Call(cast("SipEndpoint", self), self._acc, pj.PJSUA_INVALID_ID)  # the mixin is a SipEndpoint
        mon.leg, mon.bridge_seq, mon.monitor_mode = "monitor", seq, mode
        mon.own_is_agent = own_is_agent
        mon.key = f"{call.key}-monitor"
        mon.transport = call.transport
        error = self._make_call(mon, uri, {"X-IVR-Monitor": f"{mode}; call={call.transport.call_id}"})
        if error:
            call.transport.monitor_ended(500, error, seq)
            return
        mon.watched, call.monitor = call, mon
        self._calls[mon.key] = mon

    def _monitor_media(self, mon: _Call, info: Any) -> None:
        if mon.audio_index >= 0:
            return
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                mon.audio_index = i
                self._wire_monitor(mon)
                if mon.transport is not None:
                    mon.transport.monitor_answered(mon.bridge_seq)
                return

    def _wire_monitor(self, mon: _Call) -> None:
        """Connect the supervisor's leg for its mode: always hearing the caller and the agent;
        heard by the agent in whisper, by both in barge."""
        call = mon.watched
        if call is None or call.gone or mon.audio_index < 0 or call.audio_index < 0:
            return
        sup = mon.getAudioMedia(mon.audio_index)
        caller = call.getAudioMedia(call.audio_index)
        agent = (
            call.peer.getAudioMedia(call.peer.audio_index)
            if call.peer is not None and call.peer.audio_index >= 0
            else None
        )
        if mon.own_is_agent and agent is not None:  # a callback: this leg is the agent's
            caller, agent = agent, caller
        caller.startTransmit(sup)
        if agent is not None:
            agent.startTransmit(sup)
        to_agent = mon.monitor_mode in ("whisper", "barge")
        to_caller = mon.monitor_mode == "barge"
        for sink, on in ((agent, to_agent), (caller, to_caller)):
            if sink is None:
                continue
            try:
                if on:
                    sup.startTransmit(sink)
                else:
                    sup.stopTransmit(sink)
            except pj.Error:
                pass  # was not connected
