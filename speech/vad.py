"""Voice activity segmentation with webrtcvad, driven by audio time (never the wall clock).

An utterance starts when enough voiced audio has accumulated (so a click or a cough is
not an utterance), ends after `end_silence_ms` of silence, and is cut at
`max_utterance_ms` so a monologue still gets transcribed in pieces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import webrtcvad

from speech.audio import AudioFrame
from speech.voice import VoiceDetector

VAD_RATES = (8000, 16000, 32000, 48000)
VAD_FRAME_MS = (10, 20, 30)
DETECTORS = ("webrtc", "silero")


@dataclass(frozen=True, slots=True)
class VadSettings:
    """How the caller's speech is cut into utterances."""

    aggressiveness: int = 2
    """webrtcvad mode, 0 (keeps most audio as speech) to 3 (most aggressive filtering)."""
    frame_ms: int = 20
    """Length of the frames given to webrtcvad: 10, 20 or 30 ms."""
    min_speech_ms: int = 200
    """Voiced audio needed before an utterance counts; shorter bursts (clicks, coughs) are ignored."""
    onset_gap_ms: int = 200
    """Silence that abandons a not-yet-confirmed onset."""
    end_silence_ms: int = 450
    """Silence after speech that ends the utterance when its transcript may go on."""
    complete_silence_ms: int = 200
    """Shorter silence that ends the utterance when the transcript decoded during the pause
    reads as a finished sentence (adaptive endpointing; 0 turns it off). The floor of the
    IVR's answer time for a caller who has finished."""
    clause_silence_ms: int = 1000
    """Longer silence that ends the utterance when the transcript decoded during the pause
    stops mid-thought (a comma, "and", "because", a bare "yes,"): the caller is still
    thinking, and a turn cut there is answered half-heard (patient endpointing; 0 turns it
    off). Only those turns wait longer; a finished sentence still ends early."""
    max_utterance_ms: int = 15000
    """An utterance longer than this is cut and a new one starts (at most 30000 for whisper)."""
    pre_roll_ms: int = 200
    """Audio kept from before the onset so the first phoneme is not clipped."""
    energy_gate_db: float = 9.0
    """A frame is speech only if webrtcvad says so and it is this far above the line's noise
    floor: this drops webrtcvad's ~120 ms hangover, which stretched coughs and delayed ends."""
    detector: str = "silero"
    """What decides that a frame is voice: "webrtc" (webrtcvad's GMM and the noise-floor gate:
    fires on babble, music and traffic) or "silero" (Silero VAD's network decides; inside an
    utterance webrtcvad and the floor gate hold it through Silero's dips)."""
    voice_threshold: float = 0.5
    """Silero probability at which a frame becomes voice."""
    voice_release: float = 0.35
    """Silero probability below which voice stops (hysteresis: one dip is not a pause)."""
    voice_floor: float = 0.1
    """Inside an utterance, a Silero dip above this is held by webrtcvad and the floor gate."""
    silero_gate_db: float = 3.0
    bed_gate_db: float = 6.0
    """With Silero, voice must stand this far above the line's bed: the level of the last
    seconds heard while nobody near spoke (100 ms averages). Chatter, a radio or traffic is the
    bed: it neither starts nor holds an utterance (0 turns it off)."""
    """With Silero, a frame must still be this far above the line's noise floor."""
    foreground_db: float = 10.0
    """Once the caller has been heard, a voice this far below their speaking level (100 ms
    averages) is not the caller (a talker behind them, a radio) and starts no utterance
    (0 turns it off)."""
    barge_margin_db: float = 12.0
    """Voice that interrupts a prompt must stand this far above the line's noise floor (chatter
    that is the line's noise does not), in one stretch (gaps under `onset_gap_ms`)..."""
    barge_level_db: float = -28.0
    """...and, until the caller has been heard, be louder than this (dBFS; telephone speech is
    nominally -23 dBFS, a talker behind the caller 10-20 dB under), then within half of
    `foreground_db` of the caller's level. A quieter caller answers after the prompt.
    (0 and -200 turn them off.)"""
    tail_gate_db: float = 35.0
    """Inside an utterance, a frame this far below its loudest frame is not speech: a fading
    breath after the last word does not hold the turn open (0 turns it off)."""

    def validate(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"vad.detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"vad.aggressiveness must be 0-3, got {self.aggressiveness}")
        if self.frame_ms not in VAD_FRAME_MS:
            raise ValueError(f"vad.frame_ms must be one of {VAD_FRAME_MS}, got {self.frame_ms}")
        if not 0 < self.max_utterance_ms <= 30000:
            raise ValueError("vad.max_utterance_ms must be in 1..30000 (whisper hears 30 s at most)")
        if self.complete_silence_ms > self.end_silence_ms:
            raise ValueError("vad.complete_silence_ms must not exceed vad.end_silence_ms")
        for name in ("min_speech_ms", "onset_gap_ms", "end_silence_ms", "complete_silence_ms", "clause_silence_ms",
                     "pre_roll_ms"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"vad.{name} must not be negative")


class SegmentKind(StrEnum):
    START = "start"
    END = "end"


@dataclass(frozen=True, slots=True)
class SegmentEvent:
    """An utterance boundary.

    t_ms: audio time at which the segmenter knew it (what a live call can react to).
    onset_ms: audio time where the utterance's speech began.
    reason (END only): "silence", "complete" (a shorter pause after a finished sentence),
    "clause" (the longer pause after a thought left open), "max_length" or "flush" (the
    audio ended).
    audio (END only): the utterance's 16-bit PCM, pre-roll included.
    """

    kind: SegmentKind
    t_ms: int
    onset_ms: int
    reason: str = ""
    audio: bytes = b""
    voiced_ms: int = 0
    """(END only) voiced audio in the utterance."""
    voice_prob: float = 1.0
    """(END only) mean Silero probability of its voiced frames (1.0 without Silero)."""
    level_db: float = 0.0
    """(END only) level of its voiced frames, dBFS."""
    caller_db: float | None = None
    """(END only) the caller's level as known before this utterance."""

    @property
    def duration_ms(self) -> int:
        return self.t_ms - self.onset_ms


class _State(StrEnum):
    SILENCE = "silence"
    ONSET = "onset"
    SPEECH = "speech"


class Segmenter:
    """Feeds audio frames, returns utterance boundaries. No I/O, no clock but the audio's."""

    def __init__(self, sample_rate: int, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self.settings.validate()
        if sample_rate not in VAD_RATES:
            raise ValueError(f"VAD needs a sample rate in {VAD_RATES}, got {sample_rate}")
        self.sample_rate = sample_rate
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._voice = VoiceDetector(sample_rate) if self.settings.detector != "webrtc" else None
        self._voiced_prev = False
        self._bytes_per_vad_frame = sample_rate * self.settings.frame_ms // 1000 * 2
        self._pending = b""  # audio not yet a whole VAD frame
        self._pending_t_ms = 0
        self._state = _State.SILENCE
        self._pre_roll: list[bytes] = []
        self._chunks: list[bytes] = []
        self._onset_ms = 0
        self._voiced_ms = 0
        self._silence_run_ms = 0
        self._hold = False  # the open utterance paused mid-thought (`hold_open`)
        self._now_ms = 0
        self._floor_db: float | None = None
        self._peak_db = -200.0  # loudest voiced frame of the open utterance
        self.caller_db: float | None = None
        """The caller's speaking level (dBFS), learnt from their utterances."""
        self._recent = [0.0] * 5  # the last 100 ms of frames' powers
        self._recent_hp = [0.0] * 5  # the same above the rumble (first-difference emphasis)
        self._bed_db: float | None = None  # the line's level while nobody near speaks (EMA)...
        self._bed_bright_db = -200.0  # ...and above its rumble
        self._bed_frames = 0
        self._voiced_power = 0.0  # the open utterance's voiced frames: summed power, count
        self._voiced_frames = 0
        self._voice_sum = 0.0
        self._loud_ms = 0
        self._last_loud_ms = -(10**9)
        # the floor follows a quieter line at once and a louder one slowly (~3 dB/s)
        self._floor_rise_db = 3.0 * self.settings.frame_ms / 1000

    @property
    def in_speech(self) -> bool:
        """True while a confirmed utterance is open."""
        return self._state is _State.SPEECH

    @property
    def utterance_ms(self) -> int:
        """Audio length of the open utterance so far (0 when none)."""
        return self._now_ms - self._onset_ms if self._state is _State.SPEECH else 0

    @property
    def trailing_silence_ms(self) -> int:
        """Silence since the open utterance's last voiced frame (0 when none is open)."""
        return self._silence_run_ms if self._state is _State.SPEECH else 0

    @property
    def pending_voice_ms(self) -> int:
        """Voice heard since a possible utterance began, confirmed or not (0 in silence)."""
        return self._voiced_ms if self._state is not _State.SILENCE else 0

    @property
    def line_db(self) -> float:
        """The line's level while nobody near speaks (dBFS; -200 before any audio): its bed,
        or its floor without Silero. Lost packets' silences do not pull it down."""
        if self._bed_db is not None:
            return self._bed_db
        return -200.0 if self._floor_db is None else self._floor_db

    @property
    def snr_db(self) -> float:
        """The caller's level (once heard) over the line's: 99 while unknown."""
        if self.caller_db is None or self.line_db <= -200:
            return 99.0
        return self.caller_db - self.line_db

    @property
    def barge_voice_ms(self) -> int:
        """Voice heard since a possible utterance began that is loud enough to interrupt a prompt."""
        if self._state is _State.SILENCE or self._now_ms - self._last_loud_ms > self.settings.onset_gap_ms:
            return 0
        return self._loud_ms

    @property
    def voiced_ms(self) -> int:
        """Voiced audio heard in the open utterance so far: grows only while the caller speaks."""
        return self._voiced_ms if self._state is _State.SPEECH else 0

    def utterance_audio(self) -> bytes:
        """The open utterance's PCM so far (pre-roll included)."""
        return b"".join(self._chunks) if self._state is _State.SPEECH else b""

    def process(self, frame: AudioFrame) -> list[SegmentEvent]:
        if frame.sample_rate != self.sample_rate:
            raise ValueError(f"frame at {frame.sample_rate} Hz fed to a {self.sample_rate} Hz VAD")
        if not self._pending:
            self._pending_t_ms = frame.t_ms
        self._pending += frame.pcm
        events: list[SegmentEvent] = []
        n = self._bytes_per_vad_frame
        while len(self._pending) >= n:
            chunk, self._pending = self._pending[:n], self._pending[n:]
            t_ms = self._pending_t_ms
            self._pending_t_ms += self.settings.frame_ms
            events.extend(self._step(chunk, t_ms))
        return events

    def end_complete(self) -> SegmentEvent | None:
        """End the open utterance now because what was said is complete, if the caller has
        been silent for at least `complete_silence_ms` (else None: keep listening)."""
        s = self.settings
        if self._state is _State.SPEECH and 0 < s.complete_silence_ms <= self._silence_run_ms:
            return self._end("complete")
        return None

    def hold_open(self) -> None:
        """The caller paused mid-thought: this utterance ends after `clause_silence_ms` of
        silence rather than `end_silence_ms` (until voice comes back)."""
        if self._state is _State.SPEECH and self.settings.clause_silence_ms > self.settings.end_silence_ms:
            self._hold = True

    @property
    def held_open(self) -> bool:
        return self._hold and self._state is _State.SPEECH

    def flush(self) -> list[SegmentEvent]:
        """The audio ended: close an open utterance."""
        if self._state is _State.SPEECH:
            return [self._end("flush")]
        self._reset()
        return []

    def _step(self, chunk: bytes, t_ms: int) -> list[SegmentEvent]:
        s = self.settings
        dur = s.frame_ms
        self._now_ms = t_ms + dur
        speech = self._is_speech(chunk)
        if self._state is _State.SILENCE:
            if speech:
                self._state = _State.ONSET
                self._onset_ms = t_ms
                self._chunks = list(self._pre_roll)
                self._chunks.append(chunk)
                self._voiced_ms = dur
                self._silence_run_ms = 0
                return self._maybe_confirm()
            self._pre_roll.append(chunk)
            max_pre = max(0, s.pre_roll_ms // dur)
            if len(self._pre_roll) > max_pre:
                del self._pre_roll[: len(self._pre_roll) - max_pre]
            return []
        self._chunks.append(chunk)
        if speech:
            self._voiced_ms += dur
            self._silence_run_ms = 0
            self._hold = False  # the thought goes on: the next pause is judged afresh
        else:
            self._silence_run_ms += dur
        if self._state is _State.ONSET:
            if self._silence_run_ms >= s.onset_gap_ms:
                self._reset()  # a click or a cough: never an utterance
                return []
            return self._maybe_confirm()
        # SPEECH
        if self._silence_run_ms >= (s.clause_silence_ms if self._hold else s.end_silence_ms):
            return [self._end("clause" if self._hold else "silence")]
        if self._now_ms - self._onset_ms >= s.max_utterance_ms:
            end = self._end("max_length")
            if speech:  # the caller is still talking: the next utterance starts at once
                self._state = _State.SPEECH
                self._onset_ms = self._now_ms
                self._voiced_ms = 0
                self._silence_run_ms = 0
                return [end, SegmentEvent(SegmentKind.START, self._now_ms, self._now_ms)]
            return [end]
        return []

    def _is_speech(self, chunk: bytes) -> bool:
        x = np.frombuffer(chunk, dtype="<i2").astype(np.float32)
        level_db = 10 * math.log10(float(np.dot(x, x)) / (max(1, x.size) * 32768.0**2) + 1e-10)
        if self._floor_db is None or level_db < self._floor_db:
            self._floor_db = level_db
        else:
            self._floor_db += self._floor_rise_db
        s = self.settings
        power = 10 ** (level_db / 10)
        first = self._now_ms <= s.frame_ms
        self._recent = [power] * 5 if first else [*self._recent[1:], power]
        recent_db = 10 * math.log10(sum(self._recent) / len(self._recent) + 1e-20)
        hp = np.diff(x, prepend=x[:1]) / 32768.0  # a car's or a road's rumble is below the voice
        hp_power = float(np.dot(hp, hp)) / max(1, hp.size)
        self._recent_hp = [hp_power] * 5 if first else [*self._recent_hp[1:], hp_power]
        bright_db = 10 * math.log10(sum(self._recent_hp) / len(self._recent_hp) + 1e-20)
        # a voice well under the caller's does not start an utterance; inside one, a caller's
        # own quieter words vary too much to judge by level (the bed gate ends it in chatter)
        starting = self._state is not _State.SPEECH
        if self._state is _State.SILENCE and self._voice is not None:  # the line with nobody near: its bed
            self._bed_frames += 1  # a running mean at first, then an EMA of ~1 s
            rate = max(0.02, 1.0 / self._bed_frames)
            if self._bed_db is None:
                self._bed_db, self._bed_bright_db = recent_db, bright_db
            else:
                self._bed_db += rate * (recent_db - self._bed_db)
                self._bed_bright_db += rate * (bright_db - self._bed_bright_db)
        # over the bed in the whole band or above the rumble: a voice over a car's drone is
        # well over it above 300 Hz, a voice over hiss in the whole band
        above_bed = (
            self._bed_db is None
            or recent_db >= self._bed_db + s.bed_gate_db
            or bright_db >= self._bed_bright_db + s.bed_gate_db
        )
        if (s.bed_gate_db > 0 and not above_bed) or (
            starting and s.foreground_db > 0 and recent_db < self._reference_db() - s.foreground_db
        ):
            if self._voice is not None:
                self._voiced_prev = self._voice.feed(chunk) >= s.voice_release
            return False
        loud = level_db >= self._floor_db + s.energy_gate_db
        if self._voice is not None:
            p = self._voice.feed(chunk)
            # Silero's own rule: `voice_threshold` starts speech, and inside it anything over
            # `voice_release` is speech (its 32 ms windows lag a word's onset after a stop)
            inside = self._voiced_prev or self._state is not _State.SILENCE
            voiced = p >= (s.voice_release if inside else s.voice_threshold)
            self._voiced_prev = voiced
            if not voiced and self._state is not _State.SILENCE and p >= s.voice_floor and loud:
                # inside an utterance Silero dips for a stop consonant; webrtcvad's 20 ms frames
                # well over the floor hold it (its timing, Silero's decision)
                voiced = self._vad.is_speech(chunk, self.sample_rate)
            if not voiced or recent_db < self._floor_db + s.silero_gate_db:
                return False
        elif not loud or not self._vad.is_speech(chunk, self.sample_rate):
            return False
        gate = s.tail_gate_db
        if gate > 0 and self._state is not _State.SILENCE and level_db < self._peak_db - gate:
            return False
        if self._state is _State.SILENCE:
            self._peak_db = level_db
            self._voiced_power, self._voiced_frames, self._voice_sum = 0.0, 0, 0.0
        else:
            self._peak_db = max(self._peak_db, level_db)
        if self._state is _State.SILENCE or self._now_ms - self._last_loud_ms > s.onset_gap_ms + s.frame_ms:
            self._loud_ms = 0  # barge-in takes voice in one stretch, not chatter summed over time
        near = s.barge_level_db
        if self.caller_db is not None and s.foreground_db > 0:
            near = self.caller_db - s.foreground_db
        if level_db >= max(self._floor_db + s.barge_margin_db, near):
            self._loud_ms += s.frame_ms
            self._last_loud_ms = self._now_ms
        self._voiced_power += 10 ** (level_db / 10)
        self._voice_sum += self._voice.probability if self._voice is not None else 1.0
        self._voiced_frames += 1
        return True

    def _maybe_confirm(self) -> list[SegmentEvent]:
        if self._voiced_ms >= self.settings.min_speech_ms:
            self._state = _State.SPEECH
            return [SegmentEvent(SegmentKind.START, self._now_ms, self._onset_ms)]
        return []

    def _end(self, reason: str) -> SegmentEvent:
        audio = b"".join(self._chunks)
        if reason in ("silence", "complete", "clause"):
            # drop most of the trailing silence: whisper hallucinates on long silence
            keep_tail_ms = min(200, self._silence_run_ms)
            cut_ms = self._silence_run_ms - keep_tail_ms
            cut_bytes = cut_ms * self.sample_rate // 1000 * 2
            if cut_bytes:
                audio = audio[: len(audio) - cut_bytes]
        frames = max(1, self._voiced_frames)
        event = SegmentEvent(
            SegmentKind.END,
            self._now_ms,
            self._onset_ms,
            reason,
            audio,
            voiced_ms=self._voiced_ms,
            voice_prob=self._voice_sum / frames if self._voice is not None else 1.0,
            level_db=10 * math.log10(self._voiced_power / frames + 1e-20),
            caller_db=self.caller_db,
        )
        self._reset()
        return event

    def _reference_db(self) -> float:
        """The level a frame is measured against: the caller's, once heard (an utterance's own
        level is no reference: a caller's words vary by more than a talker behind them)."""
        return -200.0 if self.caller_db is None else self.caller_db

    def learn_level(self, event: SegmentEvent) -> None:
        """`event`'s utterance was the caller (its words were accepted): their level follows a
        louder utterance fast and a quieter one slowly, since the caller is the nearest talker
        and a quieter voice is more often someone behind them."""
        if event.voiced_ms < 500:
            return
        level = event.level_db
        if self.caller_db is None:
            self.caller_db = level
        else:  # up fast, down slowly
            self.caller_db += (0.5 if level > self.caller_db else 0.2) * (level - self.caller_db)

    def _reset(self) -> None:
        self._state = _State.SILENCE
        self._chunks = []
        self._pre_roll = []
        self._voiced_ms = 0
        self._silence_run_ms = 0
        self._hold = False
        self._voiced_power, self._voiced_frames, self._voice_sum = 0.0, 0, 0.0


def pcm_duration_ms(pcm: bytes, sample_rate: int) -> int:
    return len(pcm) * 1000 // (2 * sample_rate)


def speech_ratio(samples: np.ndarray, sample_rate: int, aggressiveness: int = 2) -> float:
    """Share of 20 ms frames webrtcvad calls speech (a diagnostic for fixtures and tests)."""
    vad = webrtcvad.Vad(aggressiveness)
    step = sample_rate // 50
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    frames = [pcm[i : i + step].tobytes() for i in range(0, len(pcm) - step + 1, step)]
    if not frames:
        return 0.0
    return float(sum(bool(vad.is_speech(f, sample_rate)) for f in frames) / len(frames))
