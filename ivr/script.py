"""A scripted caller for replay: each turn is spoken when the IVR next waits for input.

turns.yaml:
    caller: "+447700900002"      # optional: the From number
    turns:
      - say: what's my balance   # piper speaks it (through the call's codec rate)
      - say: {text: this is ridiculous, gain_db: 6, semitones: 3}   # louder and higher
      - say: {text: ["I want to complain about my bill,", "it is wrong again."], pause_ms: 600}
                                 # one turn with a pause in it: the parts follow each other
                                 # whatever the IVR does meanwhile
      - wav: answer.wav          # a recording
      - dtmf: "100002#"          # keys
      - silence: 7               # seconds of saying nothing
      - affect: escalate         # what the emotion radar would report now
    line: {noise: chatter.wav, snr_db: 10, loss: 0.02, seed: 1}
                                 # optional: the caller's line - noise (a recording beside the
                                 # script, or pink / brown) at snr_db under piper's voice,
                                 # G.711 mu-law, packets lost and concealed (speech/line.py)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ivr.call.build import build_call
from ivr.events import EventType
from ivr.replay import ReplayTransport
from ivr.transport import DTMF_DIGITS, CallInput, DtmfDigit
from speech.audio import FRAME_MS, AudioError, AudioFrame, decode_file, resample
from speech.line import Line, brown_noise, level_db, pink_noise

TURN_KINDS = ("say", "wav", "dtmf", "silence", "affect")
VOICE_DB = -20.0
"""Piper's active speech level at 8 kHz (measured: -19.4 to -20.9 dBFS): a line's `snr_db` is against it."""


class ScriptError(Exception):
    """A caller script that cannot be used; the message names the file and the turn."""


@dataclass(frozen=True)
class Turn:
    kind: str
    value: Any


@dataclass(frozen=True)
class LineSpec:
    """The caller's line: noise (samples at 8 kHz, or None), its SNR under piper's voice, loss."""

    noise: np.ndarray | None = None
    snr_db: float = 99.0
    loss: float = 0.0
    seed: int = 0

    def line(self, rate: int) -> Line:
        gain = 0.0
        if self.noise is not None:
            gain = 10 ** ((VOICE_DB - self.snr_db - level_db(self.noise)) / 20)
        return Line(rate, self.noise, gain, self.loss, self.seed)


@dataclass(frozen=True)
class CallerScript:
    path: Path
    caller: str
    turns: list[Turn]
    line: LineSpec | None = None


def load_script(path: str | Path) -> CallerScript:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScriptError(f"{p}: no such file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ScriptError(f"{p}: not valid YAML ({e})") from None
    if isinstance(data, list):
        data = {"turns": data}
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise ScriptError(f"{p}: expected 'turns:' with a list of turns")
    turns = []
    for i, t in enumerate(data["turns"], 1):
        if not isinstance(t, dict) or len(t) != 1 or next(iter(t)) not in TURN_KINDS:
            raise ScriptError(f"{p}: turn {i}: one of {', '.join(TURN_KINDS)}")
        kind, value = next(iter(t.items()))
        if kind == "wav":
            value = str(p.parent / str(value))
            if not Path(value).is_file():
                raise ScriptError(f"{p}: turn {i}: no such file {value}")
        if kind == "say" and isinstance(value, dict):
            unknown = set(value) - {"text", "gain_db", "semitones", "pause_ms"}
            text = value.get("text")
            parts = text if isinstance(text, list) else [text]
            if unknown or not parts or not all(isinstance(t, str) and t.strip() for t in parts):
                raise ScriptError(
                    f"{p}: turn {i}: say takes text, or {{text, gain_db, semitones, pause_ms}}"
                    " (text: a phrase, or a list of phrases said with a pause between)"
                )
            if not isinstance(value.get("pause_ms", 600), int) or not 0 <= value.get("pause_ms", 600) <= 5000:
                raise ScriptError(f"{p}: turn {i}: pause_ms is a number of milliseconds, 0-5000")
        if kind == "dtmf":
            value = str(value)
            if not value or any(d not in DTMF_DIGITS for d in value):
                raise ScriptError(f"{p}: turn {i}: dtmf takes keys 0-9, *, #")
        if kind == "silence" and (not isinstance(value, (int, float)) or value <= 0):
            raise ScriptError(f"{p}: turn {i}: silence takes a number of seconds")
        if kind == "affect" and value not in ("calm", "rising", "escalate"):
            raise ScriptError(f"{p}: turn {i}: affect is calm, rising or escalate")
        turns.append(Turn(kind, value))
    line = _line_spec(p, data["line"]) if data.get("line") is not None else None
    return CallerScript(p, str(data.get("caller") or ""), turns, line)


def _line_spec(p: Path, spec: Any) -> LineSpec:
    usage = f"{p}: line takes {{noise: FILE|pink|brown, snr_db: NUMBER, loss: 0-0.2, seed: INT}}"
    if not isinstance(spec, dict) or set(spec) - {"noise", "snr_db", "loss", "seed"}:
        raise ScriptError(usage)
    try:
        snr, loss, seed = float(spec.get("snr_db", 99)), float(spec.get("loss", 0)), int(spec.get("seed", 0))
    except (TypeError, ValueError):
        raise ScriptError(usage) from None
    if not 0 <= loss <= 0.2:
        raise ScriptError(f"{p}: line: loss is a share of packets, 0-0.2")
    rng = np.random.default_rng(seed)
    name = str(spec.get("noise") or "")
    noise = None
    if name == "pink":
        noise = pink_noise(8000 * 30, rng)
    elif name == "brown":
        noise = brown_noise(8000 * 30, rng)
    elif name:
        try:
            samples, rate = decode_file(p.parent / name)
        except AudioError as e:
            raise ScriptError(f"{p}: line: {e}") from None
        noise = resample(samples, rate, 8000)
    return LineSpec(noise, snr, loss, seed)


class ScriptTransport(ReplayTransport):
    """Frames of a caller who answers when the IVR waits. Silence between turns."""

    def __init__(
        self,
        call_id: str,
        script: CallerScript,
        sample_rate: int,
        speak: Any,
        gap_ms: int = 400,
        max_call_ms: int = 600_000,
        caller: str = "",
    ) -> None:
        super().__init__(call_id, np.zeros(0, np.float32), sample_rate, caller=caller or script.caller)
        self._script = script
        self._speak = speak  # the speech service's client: the caller's voice is piper's too
        self._gap_ms = gap_ms
        self._max_call_ms = max_call_ms
        self.ready: Callable[[], bool] = lambda: True
        self.voice_ends: list[int] = []
        """Audio time (ms) at which each spoken turn's voice ended (for latency figures)."""
        self.on_affect: Callable[[str], None] = lambda level: None

    async def inputs(self) -> AsyncIterator[CallInput]:
        step = self._bytes_per_frame // 2
        turns = list(self._script.turns)
        audio = np.zeros(0, dtype="<i2")  # what the caller is saying now
        pos = 0
        idle_ms = 0
        t_ms = 0
        keys: list[str] = []  # digits still to press, one every 100 ms of audio
        spec = self._script.line
        line = spec.line(self.sample_rate) if spec is not None else None
        while not self._hung_up and t_ms < self._max_call_ms:
            if keys and t_ms % 100 == 0:
                yield DtmfDigit(keys.pop(0), t_ms)
                if self._hung_up:
                    break
            if pos >= len(audio) and not keys:
                idle_ms = idle_ms + FRAME_MS if self.ready() else 0
                if idle_ms >= self._gap_ms:
                    if not turns:
                        break  # the caller has said everything and the IVR waits: hang up
                    turn = turns.pop(0)
                    idle_ms = 0
                    if turn.kind == "dtmf":
                        keys = list(turn.value)
                    elif turn.kind == "affect":
                        self.on_affect(turn.value)
                    else:
                        audio = await self._turn_audio(turn)
                        pos = 0
                        loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 300)
                        if turn.kind != "silence" and len(loud):
                            self.voice_ends.append(t_ms + int((loud[-1] + 1) * 1000 // self.sample_rate))
            chunk = audio[pos : pos + step]
            pos += step
            if len(chunk) < step:
                chunk = np.concatenate([chunk, np.zeros(step - len(chunk), dtype="<i2")])
            if line is not None:  # the caller's line: noise, codec, lost packets
                heard = line.frame(chunk.astype(np.float32) / 32768.0)
                chunk = (np.clip(heard, -1, 1) * 32767).round().astype("<i2")
            self._tick(t_ms)
            yield AudioFrame(chunk.tobytes(), self.sample_rate, t_ms)
            t_ms += FRAME_MS
            if t_ms % 1000 == 0:
                await asyncio.sleep(0)
        self.duration_ms = t_ms

    async def _turn_audio(self, turn: Turn) -> np.ndarray:
        if turn.kind == "say":
            v = turn.value if isinstance(turn.value, dict) else {"text": str(turn.value)}
            parts = v["text"] if isinstance(v["text"], list) else [str(v["text"])]
            pause = np.zeros(int(v.get("pause_ms", 600)) * self.sample_rate // 1000, np.float32)
            pieces = []
            for k, part in enumerate(parts):
                pcm = await self._speak.synthesize(part, self.sample_rate)
                if k:
                    pieces.append(pause)
                pieces.append(np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0)
            x = np.concatenate(pieces)
            factor = 2 ** (float(v.get("semitones", 0)) / 12)
            if factor != 1:  # higher and a little faster, as a raised voice is
                x = resample(x, round(self.sample_rate * factor), self.sample_rate)
            x = x * 10 ** (float(v.get("gain_db", 0)) / 20)
        elif turn.kind == "wav":
            samples, rate = decode_file(turn.value)
            x = resample(samples, rate, self.sample_rate)
        else:  # silence
            x = np.zeros(int(float(turn.value) * self.sample_rate), np.float32)
        # the caller's speech is followed by enough silence for the VAD to end it
        x = np.concatenate([x, np.zeros(self.sample_rate // 5, np.float32)])
        return (np.clip(x, -1, 1) * 32767).round().astype("<i2")


def affect_scores(level: str) -> dict[str, float]:
    """Scores standing for a radar level when a script or chat injects one."""
    return {"anger": {"escalate": 0.9, "rising": 0.5}.get(level, 0.1), "anxiety": 0.2}


def script_session(
    script: CallerScript,
    services: Any,
    settings: Any,
    emit: Callable[[Any], None],
    app: Any,
    http: Any = None,
    caller: str = "",
    deterministic: bool = True,
) -> Any:
    """A CallSession whose caller follows `script` (the IVR's output is captured)."""
    transport = ScriptTransport(script.path.name, script, 8000, services.speech, caller=caller)
    session = build_call(
        transport,
        services,
        settings,
        emit,
        app=app,
        deterministic=deterministic,
        source=str(script.path),
        http=http,
    )
    transport.ready = lambda: session.awaiting_input

    def on_affect(level: str) -> None:  # the session hands affect events to the dialplan
        session.emit(EventType.AFFECT, level=level, **affect_scores(level))

    transport.on_affect = on_affect
    return session
