"""Settings as frozen dataclasses; every field documented where it is declared."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from speech.asr import AsrSettings
from speech.tts import TtsSettings
from speech.vad import VadSettings


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the IVR needs to run; the defaults are the embedded ones."""

    asr: AsrSettings = field(default_factory=AsrSettings)
    """Speech recognition (model path, threads, partial cadence)."""
    vad: VadSettings = field(default_factory=VadSettings)
    """Utterance segmentation."""
    tts: TtsSettings = field(default_factory=TtsSettings)
    """Speech synthesis (voice path, cache)."""
    barge_in_ms: int = 300
    """Voice over a prompt that interrupts it. The prompt is held (silent) from the first
    voiced frame; shorter sounds (a cough, an "mhm") resume it and are not an answer."""
    radar: bool = True
    """Run the emotion radar on every utterance (affect events, escalation)."""
    greeting: str = "Thank you for calling. How can I help you today?"
    """What the IVR says when a call starts and no dialplan says otherwise."""
    data_dir: str = "data"
    """Where recordings, event logs and the SQLite store live."""
    dialplan: str = "dialplans/hotline.yaml"
    """The dialplan `ivr serve` runs (hot-reloaded when the file changes)."""
    api_host: str = "127.0.0.1"
    """Address of the HTTP API (and the demo billing backend)."""
    api_port: int = 8080
    """Port of the HTTP API."""
    sip_host: str = "127.0.0.1"
    """Address the hotline's SIP (Kamailio) and the workers listen on."""
    sip_port: int = 5060
    """The hotline's SIP port (Kamailio's dispatcher)."""
    sip_workers: int | None = None
    """Worker processes of at most 4 calls each behind Kamailio; 0 runs no SIP; None sizes
    them to the machine (`ivr.telephony.capacity`). IVR_WORKERS overrides."""
    rtp_port: int = 40000
    """First RTP port; worker i uses 200 ports from rtp_port + 200 * i."""
    speech: str = ""
    """The speech service: a Unix socket path or HOST:PORT (IVR_SPEECH). Empty: `ivr serve`
    starts one on DATA_DIR/run/speech.sock; one-shot commands (replay, chat) start one in
    their own process."""
    speech_lanes: int = 0
    """Model jobs the speech service runs at once (0 = one per core). IVR_ASR_WORKERS."""
    speech_wait_s: float = 120.0
    """How long a worker or command waits for the speech service to answer at start."""

    @property
    def store_path(self) -> str:
        return os.path.join(self.data_dir, "ivr.sqlite3")

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults, overridden by IVR_ASR_MODEL, IVR_TTS_VOICE, IVR_ASR_THREADS,
        IVR_ASR_WORKERS, IVR_SPEECH, IVR_WORKERS, IVR_DATA_DIR when set."""
        s = cls()
        if os.environ.get("IVR_ASR_MODEL"):
            s = replace(s, asr=replace(s.asr, model_path=os.environ["IVR_ASR_MODEL"]))
        if os.environ.get("IVR_TTS_VOICE"):
            s = replace(s, tts=replace(s.tts, voice_path=os.environ["IVR_TTS_VOICE"]))
        if os.environ.get("IVR_ASR_THREADS"):
            s = replace(s, asr=replace(s.asr, cpu_threads=_env_count("IVR_ASR_THREADS")))
        if os.environ.get("IVR_ASR_WORKERS"):
            s = replace(s, speech_lanes=_env_count("IVR_ASR_WORKERS"))
        if os.environ.get("IVR_SPEECH"):
            s = replace(s, speech=_env_address("IVR_SPEECH"))
        if os.environ.get("IVR_WORKERS"):
            s = replace(s, sip_workers=_env_count("IVR_WORKERS", low=0, high=MAX_WORKERS))
        if os.environ.get("IVR_SPEECH_WAIT_S"):
            s = replace(s, speech_wait_s=float(_env_count("IVR_SPEECH_WAIT_S", low=1, high=3600)))
        if os.environ.get("IVR_DATA_DIR"):
            s = replace(s, data_dir=os.environ["IVR_DATA_DIR"])
        return s


class SettingsError(ValueError):
    """A setting from the environment cannot be used (the message names it)."""


MAX_COUNT = 64  # threads or model lanes: more is a typo, not a machine


MAX_WORKERS = 256  # 1,024 calls on one box: more is a typo


def _env_count(name: str, low: int = 1, high: int = MAX_COUNT) -> int:
    raw = os.environ[name]
    try:
        value = int(raw.strip()) if raw.strip().isascii() else -1
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r}: expected a whole number from {low} to {high}")
    return value


def _env_address(name: str) -> str:
    from speech.service.protocol import Address

    raw = os.environ[name]
    try:
        Address.parse(raw)
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r}: {e}") from None
    return raw.strip()
