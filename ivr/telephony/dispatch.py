"""The SIP endpoint's commands (mixed into SipEndpoint): what a call's transport asks
(`ivr.telephony.commands`), queued to the SIP thread and run there on the call it names."""

from __future__ import annotations

import queue
from collections.abc import Callable

import pjsua2 as pj

from ivr.telephony.commands import (
    Command,
    ConnectAgent,
    DialAgent,
    DialMonitor,
    Hangup,
    HangupAgent,
    HangupMonitor,
    Refer,
    ReleaseAgent,
    Send,
    SetMonitorMode,
    SpeakOnHold,
    StartHold,
    StopHold,
)
from ivr.telephony.pjobjects import _Call


class Dispatch:
    """Uses SipEndpoint's `_calls` and `_commands`, and its other parts' legs."""

    _calls: dict[str, _Call]
    _commands: queue.SimpleQueue[Callable[[], None]]
    _dial_agent: Callable[..., None]
    _connect: Callable[[_Call], None]
    _start_hold: Callable[[_Call, str], None]
    _stop_hold: Callable[[_Call], None]
    _dial_monitor: Callable[..., None]
    _wire_monitor: Callable[[_Call], None]

    def commands_for(self, key: str) -> Send:
        """How a call's transport sends its commands (to this call's key)."""

        def send(cmd: Command) -> None:
            self.command(key, cmd)

        return send

    def command(self, key: str, cmd: Command) -> None:
        """Run a command on a call in the SIP thread (thread-safe)."""
        self._commands.put(lambda: self._do(key, cmd))

    # -- the SIP thread ------------------------------------------------------------------------
    def _do(self, key: str, cmd: Command) -> None:
        call = self._calls.get(key)
        if call is None or call.gone:
            return  # already over: never touch a destroyed call
        match cmd:
            case Hangup():
                call.hangup(pj.CallOpParam())
            case Refer(uri):
                try:
                    call.xfer(uri, pj.CallOpParam(True))
                except pj.Error as e:
                    call.transport.refer_done(500, e.info())
            case DialAgent(uri, headers, seq):
                self._dial_agent(call, uri, headers, seq)
            case StartHold(path):
                self._start_hold(call, path)
            case StopHold():
                self._stop_hold(call)
            case SpeakOnHold() if call.player is not None and call.port is not None:
                # the IVR speaks on hold (the bridge mixes it with the music): its frames are
                # taken again until the hold ends
                call.port.startTransmit(call.getAudioMedia(call.audio_index))
            case ConnectAgent():
                self._connect(call)
            case DialMonitor(uri, mode, seq, own_is_agent):
                self._dial_monitor(call, uri, mode, seq, own_is_agent)
            case SetMonitorMode(mode) if call.monitor is not None and not call.monitor.gone:
                call.monitor.monitor_mode = mode
                self._wire_monitor(call.monitor)
            case HangupMonitor() if call.monitor is not None and not call.monitor.gone:
                call.monitor.hangup(pj.CallOpParam())
            case HangupAgent() if call.peer is not None and not call.peer.gone:
                call.peer.hangup(pj.CallOpParam())
            case ReleaseAgent() if call.peer is not None:
                agent, call.peer = call.peer, None
                agent.peer, agent.bridged, call.bridged = None, False, False  # its end ends nothing else
                agent.end_reason = "transferred by the agent"
                if call.monitor is not None and not call.monitor.gone:  # a supervisor on the old bridge
                    call.monitor.hangup(pj.CallOpParam())
                if not agent.gone:
                    agent.hangup(pj.CallOpParam())
