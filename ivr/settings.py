"""Settings as frozen dataclasses; every field documented where it is declared."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, replace
from typing import Any

from speech.asr import AsrSettings
from speech.heard import HearingSettings
from speech.service.models import ServiceSettings
from speech.service.protocol import Address
from speech.tts import TtsSettings
from speech.vad import VadSettings

HOST_NAME = os.environ.get("IVR_HOST_NAME", "").strip() or socket.gethostname()
"""This machine's name in the store (its calls' `host`, its heartbeat row): IVR_HOST_NAME, else
the host name. Two machines must not share one (containers or namespaces often do: set it)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the IVR needs to run; the defaults are the embedded ones."""

    asr: AsrSettings = field(default_factory=AsrSettings)
    """Speech recognition (model path, threads, partial cadence)."""
    vad: VadSettings = field(default_factory=VadSettings)
    """Utterance segmentation."""
    hearing: HearingSettings = field(default_factory=HearingSettings)
    """When a decoded utterance is noise or someone behind the caller, not a turn."""
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
    numbers: str = ""
    """A numbers file (IVR_NUMBERS, `--numbers`): each number called runs its own dialplan and
    a number not listed is refused; empty: `dialplan` answers every call."""
    qa_config: str = "dialplans/qa.yaml"
    """QA screening: flag weights, the review sampling (share, random share, seed, timezone)
    and the reviewers' form (`ivr.qa.config`). Missing: the embedded defaults. IVR_QA_CONFIG."""
    api_host: str = "127.0.0.1"
    """Address of the HTTP API (and the demo billing backend)."""
    api_port: int = 8080
    """Port of the HTTP API."""
    sip_host: str = "127.0.0.1"
    """Address the hotline's SIP (Kamailio) and the workers listen on."""
    sip_port: int = 5060
    """The hotline's SIP port (Kamailio's dispatcher)."""
    ws_port: int | None = None
    """Kamailio's SIP over WebSocket port, for agents whose phone is the browser
    (`ivr.telephony.webrtc`); None = `sip_port` + 1000, 0 = none. IVR_WS_PORT."""
    sip_tls_port: int | None = None
    """SIP over TLS for phones and trunks when a certificate is in use (the console's: given or
    self-signed); None = `sip_port` + 1 (5061), 0 = none. IVR_SIP_TLS_PORT."""
    srtp: str = ""
    """SDES-SRTP in the workers: off, optional (offered, and taken when offered) or required
    (a plain-RTP offer gets 488). "" = optional with TLS, off without. IVR_SRTP."""
    tls_cert: str = ""
    tls_key: str = ""
    """The console's HTTPS and browsers' WSS certificate and key (PEM files; IVR_TLS_CERT,
    IVR_TLS_KEY). Neither: plain on 127.0.0.1, a self-signed one elsewhere (`ivr.app.tls`)."""
    sip_workers: int | None = None
    """Worker processes of at most 4 calls each behind Kamailio; 0 runs no SIP; None sizes
    them to the machine (`ivr.telephony.capacity`). IVR_WORKERS overrides."""
    rtp_port: int = 40000
    """First RTP port; worker i uses 200 ports from rtp_port + 200 * i. Worker i's SIP port is
    sip_port + 2 + i."""
    speech: str = ""
    """The speech service: a Unix socket path or HOST:PORT (IVR_SPEECH); several HOST:PORT,
    comma-separated, are a pool (least loaded first, failover); `hosts`: the speech hosts
    announced in the store. Empty: `ivr serve` starts one on DATA_DIR/run/speech.sock; one-shot
    commands (replay, chat) start one in their own process."""
    speech_secret: str = field(default="", repr=False)
    """The shared secret of speech services over TCP (IVR_SPEECH_SECRET): a service listening
    on TCP asks every client to prove it (`speech.service.auth`); a client presents it. Needed
    for a service on an address other than 127.0.0.1."""
    speech_lanes: int = 0
    """Model jobs the speech service runs at once (0 = one per core). IVR_ASR_WORKERS."""
    speech_wait_s: float = 120.0
    """How long a worker or command waits for the speech service to answer at start."""

    store_url: str = ""
    """The store (IVR_STORE_URL): `sqlite:///PATH` or `postgresql+psycopg://user@host/db`.
    Empty: the SQLite file DATA_DIR/ivr.sqlite3. Every command uses this one setting."""
    recordings_days: float = 90.0
    """Recordings older than this are deleted by the purge (daily in `ivr serve`; `ivr calls
    purge`). 0 keeps them. IVR_RETENTION_RECORDINGS_DAYS."""
    transcripts_days: float = 365.0
    """Event logs and transcripts older than this are deleted by the purge; the call's row
    (the CDR) stays. 0 keeps them. IVR_RETENTION_TRANSCRIPTS_DAYS."""
    token_ttl_s: int = 12 * 3600
    """How long a login's bearer token is good for (a shift)."""
    callback_uri: str = ""
    """How a caller who asked for a callback is dialled, `{number}` filled in (IVR_CALLBACK_URI,
    e.g. `sip:{number}@trunk.example.net` for a PSTN gateway). Empty: through the hotline's
    Kamailio (`sip:{number}@SIP_HOST:SIP_PORT`), which reaches phones registered there."""
    callback_retry_s: float = 120.0
    """A callback the caller did not answer is tried again this much later (3 tries in all).
    IVR_CALLBACK_RETRY_S."""
    role: str = "all"
    """What `ivr serve` runs on this machine (IVR_ROLE, `--role`): all (one box), edge (Kamailio,
    the API and console), media (SIP workers), speech (the speech service), api (the API and
    console only). See README "Running on several machines"."""
    speech_listen: str = ""
    """A speech host's TCP address, HOST:PORT, as the workers reach it (IVR_SPEECH_LISTEN)."""
    edge_sip: str = ""
    """A media host's edge: the Kamailio its workers take calls from and dial agents and
    callbacks through, HOST:PORT (IVR_EDGE_SIP)."""
    api_url: str = ""
    """A media host's API (IVR_API_URL, e.g. https://edge:8080): the dialplans' lookups."""
    metrics_public: bool = False
    """Serve /metrics to other hosts too (it is anonymous, so 127.0.0.1 only by default).
    IVR_METRICS_PUBLIC=1."""

    @property
    def tls_sip_port(self) -> int:
        """The SIP TLS port in use when TLS is (0: none)."""
        return self.sip_port + 1 if self.sip_tls_port is None else self.sip_tls_port

    @property
    def websocket_port(self) -> int:
        """The WebSocket port in use (0: none)."""
        return self.sip_port + 1000 if self.ws_port is None else self.ws_port

    @property
    def store(self) -> str:
        """The store URL in effect."""
        from ivr.store.engine import (
            default_url,  # lazy: SQLAlchemy (0.2 s) only for a process that opens the store
        )

        return self.store_url or default_url(self.data_dir)

    def speech_service(self) -> ServiceSettings:
        """The speech service's settings from the IVR's (model paths, threads, lanes)."""
        return ServiceSettings(asr=self.asr, tts=self.tts, lanes=self.speech_lanes)

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults, overridden by IVR_ASR_MODEL, IVR_ASR_FINAL_MODEL, IVR_ASR_RESCORE_MARGIN,
        IVR_TTS_VOICE, IVR_ASR_THREADS,
        IVR_ASR_WORKERS, IVR_SPEECH, IVR_WORKERS, IVR_DATA_DIR, IVR_STORE_URL, IVR_RETENTION_*,
        IVR_CALLBACK_URI, IVR_CALLBACK_RETRY_S, IVR_METRICS_PUBLIC when set."""
        s = cls()
        if os.environ.get("IVR_ASR_MODEL"):
            s = replace(s, asr=replace(s.asr, model_path=os.environ["IVR_ASR_MODEL"]))
        if os.environ.get("IVR_ASR_FINAL_MODEL"):
            s = replace(s, asr=replace(s.asr, final_model=os.environ["IVR_ASR_FINAL_MODEL"].strip()))
        if os.environ.get("IVR_TTS_VOICE"):
            s = replace(s, tts=replace(s.tts, voice_path=os.environ["IVR_TTS_VOICE"]))
        if os.environ.get("IVR_TLS_CERT") or os.environ.get("IVR_TLS_KEY"):
            s = replace(
                s, tls_cert=os.environ.get("IVR_TLS_CERT", ""), tls_key=os.environ.get("IVR_TLS_KEY", "")
            )
        if os.environ.get("IVR_WS_PORT"):
            s = replace(s, ws_port=_env_count("IVR_WS_PORT", 0, 65535))
        if os.environ.get("IVR_SIP_TLS_PORT"):
            s = replace(s, sip_tls_port=_env_count("IVR_SIP_TLS_PORT", 0, 65535))
        if os.environ.get("IVR_SRTP"):
            mode = os.environ["IVR_SRTP"].strip().lower()
            if mode not in ("off", "optional", "required"):
                raise SettingsError(f"IVR_SRTP={mode!r}: off, optional or required")
            s = replace(s, srtp=mode)
        if os.environ.get("IVR_ASR_RESCORE_MARGIN"):
            s = replace(s, asr=replace(s.asr, rescore_margin=_env_margin("IVR_ASR_RESCORE_MARGIN")))
        if os.environ.get("IVR_ASR_THREADS"):
            s = replace(s, asr=replace(s.asr, cpu_threads=_env_count("IVR_ASR_THREADS")))
        if os.environ.get("IVR_ASR_WORKERS"):
            s = replace(s, speech_lanes=_env_count("IVR_ASR_WORKERS"))
        if os.environ.get("IVR_SPEECH"):
            s = replace(s, speech=_env_address("IVR_SPEECH", several=True))
        if os.environ.get("IVR_SPEECH_SECRET"):
            s = replace(s, speech_secret=os.environ["IVR_SPEECH_SECRET"].strip())
        if os.environ.get("IVR_WORKERS"):
            s = replace(s, sip_workers=_env_count("IVR_WORKERS", low=0, high=MAX_WORKERS))
        if os.environ.get("IVR_SPEECH_WAIT_S"):
            s = replace(s, speech_wait_s=float(_env_count("IVR_SPEECH_WAIT_S", low=1, high=3600)))
        if os.environ.get("IVR_DATA_DIR"):
            s = replace(s, data_dir=os.environ["IVR_DATA_DIR"])
        if os.environ.get("IVR_NUMBERS"):
            s = replace(s, numbers=os.environ["IVR_NUMBERS"])
        if os.environ.get("IVR_QA_CONFIG"):
            s = replace(s, qa_config=os.environ["IVR_QA_CONFIG"])
        if os.environ.get("IVR_STORE_URL"):
            s = replace(s, store_url=os.environ["IVR_STORE_URL"].strip())
        if os.environ.get("IVR_RETENTION_RECORDINGS_DAYS"):
            s = replace(
                s, recordings_days=float(_env_count("IVR_RETENTION_RECORDINGS_DAYS", low=0, high=36500))
            )
        if os.environ.get("IVR_RETENTION_TRANSCRIPTS_DAYS"):
            s = replace(
                s, transcripts_days=float(_env_count("IVR_RETENTION_TRANSCRIPTS_DAYS", low=0, high=36500))
            )
        if os.environ.get("IVR_CALLBACK_URI"):
            uri = os.environ["IVR_CALLBACK_URI"].strip()
            try:
                usable = (
                    "{number}" in uri and uri.startswith(("sip:", "sips:")) and bool(uri.format(number="1"))
                )
            except (KeyError, IndexError, ValueError):  # another {field}, or a stray brace
                usable = False
            if not usable:
                raise SettingsError(
                    f"IVR_CALLBACK_URI={uri!r}: a sip: URI with {{number}} (and no other braces) is needed"
                )
            s = replace(s, callback_uri=uri)
        if os.environ.get("IVR_CALLBACK_RETRY_S"):
            s = replace(s, callback_retry_s=float(_env_count("IVR_CALLBACK_RETRY_S", low=1, high=86400)))
        if os.environ.get("IVR_METRICS_PUBLIC"):
            s = replace(s, metrics_public=os.environ["IVR_METRICS_PUBLIC"].strip() in ("1", "true", "yes"))
        return _hosts_from_env(s)


ROLES = ("all", "edge", "media", "speech", "api")


def _hosts_from_env(s: Settings) -> Settings:
    """The settings of a hotline on several machines: IVR_ROLE, IVR_SIP_HOST, IVR_SIP_PORT,
    IVR_API_HOST, IVR_API_PORT, IVR_SPEECH_LISTEN, IVR_EDGE_SIP, IVR_API_URL."""
    env = {k: v.strip() for k, v in os.environ.items() if k.startswith("IVR_") and v.strip()}
    if "IVR_ROLE" in env:
        if env["IVR_ROLE"] not in ROLES:
            raise SettingsError(f"IVR_ROLE={env['IVR_ROLE']!r}: one of {', '.join(ROLES)}")
        s = replace(s, role=env["IVR_ROLE"])
    changes: dict[str, Any] = {}
    for name, field_name in (
        ("IVR_SIP_HOST", "sip_host"),
        ("IVR_API_HOST", "api_host"),
        ("IVR_API_URL", "api_url"),
    ):
        if name in env:
            changes[field_name] = env[name]
    for name, field_name in (("IVR_SIP_PORT", "sip_port"), ("IVR_API_PORT", "api_port")):
        if name in env:
            changes[field_name] = _env_count(name, 1, 65535)
    for name, field_name in (("IVR_SPEECH_LISTEN", "speech_listen"), ("IVR_EDGE_SIP", "edge_sip")):
        if name in env:
            host, _, port = env[name].rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise SettingsError(f"{name}={env[name]!r}: expected HOST:PORT")
            changes[field_name] = env[name]
    return replace(s, **changes)


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


def _env_margin(name: str) -> float:
    """A rescoring margin in nats (0 to 10), or "off" (never rescore)."""
    raw = os.environ[name].strip()
    if raw.lower() == "off":
        return -1.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 10.0:
        raise SettingsError(f"{name}={raw!r}: expected a number of nats from 0 to 10, or off")
    return value


SPEECH_HOSTS = "hosts"
"""IVR_SPEECH=hosts: every live speech host announced in the store (`ivr.app.hosts`)."""


def _env_address(name: str, several: bool = False) -> str:
    raw = os.environ[name].strip()
    if several and raw == SPEECH_HOSTS:
        return raw
    try:
        for part in raw.split(",") if several else [raw]:
            Address.parse(part)
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r}: {e}") from None
    return raw
