"""The SIP endpoint's outbound legs (mixed into SipEndpoint, on its SIP thread): a callback's
first call (to the agent), the agent's leg of a bridge with the call's context as headers,
the two legs cross-connected once the agent has been briefed, and the agent's hold (their
phone's re-INVITE with a=sendonly: the caller hears the hold music, played by pjmedia, until
the phone takes the call back)."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pjsua2 as pj

from ivr.telephony.pjobjects import _Call, _pj_reason

log = logging.getLogger("ivr.sip")

if TYPE_CHECKING:
    from ivr.telephony.endpoint import SipEndpoint


class OutboundLegs:
    """Uses SipEndpoint's `_calls`, `settings`, `_acc`, `_commands` and `_destroy`."""

    _calls: dict[str, _Call]
    settings: Any
    _acc: Any
    _commands: queue.SimpleQueue[Callable[[], None]]
    _destroy: Callable[[_Call], None]

    def _connect(self, call: _Call) -> None:
        agent = call.peer
        if agent is None or agent.gone or agent.audio_index < 0 or call.audio_index < 0:
            return
        caller_audio = call.getAudioMedia(call.audio_index)
        agent_audio = agent.getAudioMedia(agent.audio_index)
        caller_audio.startTransmit(agent_audio)
        agent_audio.startTransmit(caller_audio)
        agent.bridged = call.bridged = True

    def _agent_media_changed(self, agent: _Call) -> None:
        """The agent's phone re-negotiated media on a connected bridge: hold or take back."""
        caller = agent.peer
        if caller is None or caller.gone or not agent.bridged or agent.audio_index < 0:
            return
        info = agent.getInfo()  # kept: its media vector dies with it
        status = info.media[agent.audio_index].status
        held = status in (pj.PJSUA_CALL_MEDIA_REMOTE_HOLD, pj.PJSUA_CALL_MEDIA_NONE)
        if held == agent.holding:
            return
        agent.holding = held
        caller_audio = caller.getAudioMedia(caller.audio_index)
        agent_audio = agent.getAudioMedia(agent.audio_index)
        if held:
            player = pj.AudioMediaPlayer()
            try:
                player.createPlayer(str(agent.transport.agent_hold_music), 0)  # 0: loop
            except pj.Error as e:
                log.warning("hold music for the agent's hold: %s", _pj_reason(e))
                pj._pjsua2.delete_AudioMediaPlayer(player)
                player.this.disown()
                player = None
            agent_audio.stopTransmit(caller_audio)
            caller_audio.stopTransmit(agent_audio)
            if player is not None:  # else the caller hears silence, and the log says why
                player.startTransmit(caller_audio)
            agent.player = player
        else:
            player, agent.player = agent.player, None
            if player is not None:
                try:
                    player.stopTransmit(caller_audio)
                except pj.Error:
                    pass
                pj._pjsua2.delete_AudioMediaPlayer(player)
                player.this.disown()
            caller_audio.startTransmit(agent_audio)
            agent_audio.startTransmit(caller_audio)
        log.info(
            "call %s: the agent's phone %s",
            caller.key,
            "holds the caller" if held else "takes the caller back",
        )
        agent.transport.agent_held(held)

    def originate(self, key: str, uri: str, transport: Any, headers: dict[str, str] | None = None) -> None:
        """Place an outbound call (a callback's first leg, to the agent) carried by `transport`
        as if it were a caller's; its media and end are reported to the transport."""
        self._commands.put(lambda: self._originate(key, uri, transport, headers or {}))

    def _originate(self, key: str, uri: str, transport: Any, headers: dict[str, str]) -> None:
        if len(self._calls) >= self.settings.max_calls:
            transport.sip_disconnected("no free line for the callback")
            return
        call = _Call(cast("SipEndpoint", self), self._acc, pj.PJSUA_INVALID_ID)
        call.key, call.transport = key, transport
        error = self._make_call(call, uri, headers)
        if error:
            transport.sip_disconnected(f"could not dial {uri}: {error}")
            return
        self._calls[key] = call

    def _make_call(self, call: _Call, uri: str, headers: dict[str, str]) -> str:
        """INVITE `uri` with `headers` from `call`; '' if under way, else why not (the call is
        then destroyed)."""
        prm = pj.CallOpParam(True)
        for name, value in headers.items():
            h = pj.SipHeader()
            h.hName, h.hValue = name, value
            prm.txOption.headers.append(h)
        try:
            call.makeCall(uri, prm)
        except pj.Error as e:
            self._destroy(call)
            return str(e.info())
        return ""

    def _dial_agent(self, call: _Call, uri: str, headers: dict[str, str], seq: int = 0) -> None:
        if call.peer is not None:
            call.transport.agent_failed(500, "a transfer is already under way", seq)
            return
        if len(self._calls) >= self.settings.max_calls:
            call.transport.agent_failed(503, "no free line on this worker for the agent leg", seq)
            return
        agent = _Call(cast("SipEndpoint", self), self._acc, pj.PJSUA_INVALID_ID)
        agent.leg = "agent"
        agent.bridge_seq = seq
        agent.key = f"{call.key}-agent"
        agent.transport = call.transport
        error = self._make_call(agent, uri, headers)
        if error:
            call.transport.agent_failed(500, error, seq)
            return
        agent.peer, call.peer = call, agent
        self._calls[agent.key] = agent
