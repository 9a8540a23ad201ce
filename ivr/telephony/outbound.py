"""The SIP endpoint's outbound legs (mixed into SipEndpoint, on its SIP thread): a callback's
first call (to the agent), the agent's leg of a bridge with the call's context as headers,
and the two legs cross-connected once the agent has been briefed."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pjsua2 as pj

from ivr.telephony.pjobjects import _Call

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
