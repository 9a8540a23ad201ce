"""Voice activity segmentation, driven by audio time (never the wall clock).

Silero VAD decides what is voice (`speech/voice.py`; webrtcvad's 20 ms frames hold it through
Silero's dips inside an utterance), measured against the line (`speech/levels.py`): its bed
(chatter, traffic, a radio) neither starts nor holds an utterance, and once the caller has been
heard a voice well under theirs starts none. An utterance starts when enough voiced audio has
accumulated (so a click or a cough is not an utterance), ends after `end_silence_ms` of
silence, and is cut at `max_utterance_ms` so a monologue still gets transcribed in pieces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import webrtcvad

from speech.audio import AudioFrame
from speech.levels import Frame, LineLevels
from speech.vad_settings import VadSettings as VadSettings
from speech.voice import VoiceDetector

VAD_RATES = (8000, 16000, 32000, 48000)


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
        self.levels = LineLevels(self.settings.frame_ms)
        self._peak_db = -200.0  # loudest voiced frame of the open utterance
        self._voiced_power = 0.0  # the open utterance's voiced frames: summed power, count
        self._voiced_frames = 0
        self._voice_sum = 0.0
        self._loud_ms = 0
        self._last_loud_ms = -(10**9)

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
    def caller_db(self) -> float | None:
        """The caller's speaking level (dBFS), learnt from their accepted utterances."""
        return self.levels.caller_db

    @property
    def line_db(self) -> float:
        return self.levels.line_db

    @property
    def snr_db(self) -> float:
        return self.levels.snr_db

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
        s = self.settings
        f = self.levels.measure(np.frombuffer(chunk, dtype="<i2").astype(np.float32))
        floor = self.levels.floor_db if self.levels.floor_db is not None else f.level_db
        if self._state is _State.SILENCE and self._voice is not None:
            self.levels.learn_bed(f)  # the line with nobody near speaking
        # a voice well under the caller's does not start an utterance; inside one, a caller's
        # own quieter words vary too much to judge by level (the bed gate ends it in chatter)
        starting = self._state is not _State.SPEECH
        caller = self.levels.caller_db
        under_caller = caller is not None and s.foreground_db > 0 and f.recent_db < caller - s.foreground_db
        if not self.levels.above_bed(f, s.bed_gate_db) or (starting and under_caller):
            if self._voice is not None:
                self._voiced_prev = self._voice.feed(chunk) >= s.voice_release
            return False
        loud = f.level_db >= floor + s.energy_gate_db
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
            if not voiced or f.recent_db < floor + s.silero_gate_db:
                return False
        elif not loud or not self._vad.is_speech(chunk, self.sample_rate):
            return False
        return self._voiced(f, floor)

    def _voiced(self, f: Frame, floor: float) -> bool:
        """The last gate (a fading breath is not voice), then the frame counts as voice."""
        s = self.settings
        level_db = f.level_db
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
        if self.levels.caller_db is not None and s.foreground_db > 0:
            near = self.levels.caller_db - s.foreground_db
        if level_db >= floor + s.barge_margin_db and f.recent_db >= near:  # near: over 100 ms
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

    def learn_level(self, event: SegmentEvent) -> None:
        """`event`'s utterance was the caller (its words were accepted): their level follows a
        louder utterance fast and a quieter one slowly, since the caller is the nearest talker
        and a quieter voice is more often someone behind them."""
        if event.voiced_ms < 500:
            return
        self.levels.learn_caller(event.level_db)

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
