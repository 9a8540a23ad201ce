"""How the caller's speech is cut into utterances: the segmenter's settings (`speech/vad.py`)."""

from __future__ import annotations

from dataclasses import dataclass

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
        for name in ("foreground_db", "bed_gate_db", "barge_margin_db", "silero_gate_db"):
            if getattr(self, name) < 0:
                raise ValueError(f"vad.{name} must not be negative (0 turns it off)")
        if not 0 <= self.voice_floor <= self.voice_release <= self.voice_threshold <= 1:
            raise ValueError(
                "vad needs 0 <= voice_floor <= voice_release <= voice_threshold <= 1 (Silero probabilities),"
                f" got {self.voice_floor}, {self.voice_release}, {self.voice_threshold}"
            )
