"""Hold for the SIP endpoint: the music is played by pjmedia itself into the call (no Python
per frame), and the caller's frames stop reaching Python until the level of their audio,
read 10x a second on the SIP thread, says they speak. Mixed into SipEndpoint."""

from __future__ import annotations

import logging
from typing import Any

import pjsua2 as pj

from ivr.telephony.pjobjects import _Call, _pj_reason

log = logging.getLogger("ivr.sip")

HOLD_LEVEL_CHECK_S = 0.1
HOLD_VOICE_LEVEL = 10
"""The level of the caller's audio (pjmedia's tx level of the call's bridge port: what it
sends into the bridge, 0-255) above which a caller on hold is taken to be speaking.
Measured here: a silent line 0, speech 15-33 (a G.711 recording at phone level)."""


class HoldMedia:
    """Uses SipEndpoint's `_ep` and `_calls`."""

    _ep: Any
    _calls: dict[str, _Call]

    def _start_hold(self, call: _Call, path: str) -> None:
        if call.audio_index < 0 or call.port is None or call.player is not None:
            return
        aud = call.getAudioMedia(call.audio_index)
        player = pj.AudioMediaPlayer()
        try:
            player.createPlayer(path, 0)  # 0: loop
        except pj.Error as e:
            log.warning("hold music %s: %s", path, _pj_reason(e))
            pj._pjsua2.delete_AudioMediaPlayer(player)
            player.this.disown()
            return
        call.port.stopTransmit(aud)  # no Python per frame while on hold
        aud.stopTransmit(call.port)
        # the caller's audio still goes somewhere (the null device's slot, in C), so the bridge
        # keeps reading it and its level stays current
        aud.startTransmit(self._ep.audDevManager().getPlaybackDevMedia())
        player.startTransmit(aud)
        call.player, call.hold_deaf = player, True

    def _stop_hold(self, call: _Call) -> None:
        player, call.player = call.player, None
        if player is None:
            return
        aud = call.getAudioMedia(call.audio_index)
        try:
            player.stopTransmit(aud)
        except pj.Error:
            pass
        pj._pjsua2.delete_AudioMediaPlayer(player)
        player.this.disown()
        try:
            aud.stopTransmit(self._ep.audDevManager().getPlaybackDevMedia())
        except pj.Error:
            pass
        if call.hold_deaf:
            aud.startTransmit(call.port)
        if call.port is not None:
            call.port.startTransmit(aud)
        call.hold_deaf = False

    def _check_hold_levels(self) -> None:
        """A caller on hold who speaks is listened to again (the level of their audio, read
        10x a second on this thread: no frame reaches Python until then)."""
        for call in self._calls.values():
            if call.hold_deaf and not call.gone and call.port is not None:
                aud = call.getAudioMedia(call.audio_index)
                if aud.getTxLevel() >= HOLD_VOICE_LEVEL:
                    aud.stopTransmit(self._ep.audDevManager().getPlaybackDevMedia())
                    aud.startTransmit(call.port)
                    call.hold_deaf = False
                    call.transport.hold_voice()
