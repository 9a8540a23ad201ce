"""The levels a call's voice detection is measured against, per call and adapting:

- the floor: the quietest 20 ms frame, rising ~3 dB/s (webrtcvad's gate; a lost packet's
  silence pulls it down, so it is not the line's level);
- the bed: what the line sounds like while nobody near speaks (100 ms averages, a running mean
  then a ~1 s average, kept in the whole band and above the rumble): chatter, a car, a radio;
- the caller's level, learnt from the utterances whose words were accepted.

No I/O; dBFS throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WINDOW = 5  # frames in the short average (100 ms of 20 ms frames)


def db(power: float) -> float:
    return 10 * math.log10(power + 1e-20)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame's levels: its own, the last 100 ms's, and the last 100 ms's above the rumble."""

    level_db: float
    recent_db: float
    bright_db: float


class LineLevels:
    def __init__(self, frame_ms: int) -> None:
        self.floor_db: float | None = None
        self.bed_db: float | None = None
        self.bed_bright_db = -200.0
        self.caller_db: float | None = None
        """The caller's speaking level, learnt from their accepted utterances (None: not yet heard)."""
        self._bed_frames = 0
        self._recent: list[float] = []
        self._recent_hp: list[float] = []
        self._floor_rise_db = 3.0 * frame_ms / 1000  # a louder line is followed slowly

    def measure(self, pcm16: np.ndarray) -> Frame:
        """A frame's levels (16-bit samples as float); the floor follows it."""
        x = pcm16 / 32768.0
        power = float(np.dot(x, x)) / max(1, x.size)
        hp = np.diff(x, prepend=x[:1])  # first difference: a car's or a road's rumble is below the voice
        hp_power = float(np.dot(hp, hp)) / max(1, hp.size)
        self._recent = [*self._recent[-(WINDOW - 1) :], power] if self._recent else [power] * WINDOW
        self._recent_hp = (
            [*self._recent_hp[-(WINDOW - 1) :], hp_power] if self._recent_hp else [hp_power] * WINDOW
        )
        level = 10 * math.log10(power + 1e-10)
        if self.floor_db is None or level < self.floor_db:
            self.floor_db = level
        else:
            self.floor_db += self._floor_rise_db
        return Frame(level, db(sum(self._recent) / WINDOW), db(sum(self._recent_hp) / WINDOW))

    def learn_bed(self, f: Frame) -> None:
        """`f` was heard while nobody near spoke."""
        self._bed_frames += 1
        rate = max(0.02, 1.0 / self._bed_frames)  # a running mean at first, then ~1 s
        if self.bed_db is None:
            self.bed_db, self.bed_bright_db = f.recent_db, f.bright_db
        else:
            self.bed_db += rate * (f.recent_db - self.bed_db)
            self.bed_bright_db += rate * (f.bright_db - self.bed_bright_db)

    def above_bed(self, f: Frame, gate_db: float) -> bool:
        """Over the bed in the whole band or above the rumble: a voice over a car's drone is well
        over it above 300 Hz, a voice over hiss in the whole band."""
        if gate_db <= 0 or self.bed_db is None:
            return True
        return f.recent_db >= self.bed_db + gate_db or f.bright_db >= self.bed_bright_db + gate_db

    def learn_caller(self, level_db: float) -> None:
        """An utterance of the caller's: up fast, down slowly (the caller is the nearest talker,
        and a quieter voice is more often someone behind them)."""
        if self.caller_db is None:
            self.caller_db = level_db
        else:
            self.caller_db += (0.5 if level_db > self.caller_db else 0.2) * (level_db - self.caller_db)

    @property
    def line_db(self) -> float:
        """The line's level while nobody near speaks: its bed, else its floor (-200: no audio yet)."""
        if self.bed_db is not None:
            return self.bed_db
        return -200.0 if self.floor_db is None else self.floor_db

    @property
    def snr_db(self) -> float:
        """The caller's level over the line's (99 while either is unknown)."""
        if self.caller_db is None or self.line_db <= -200:
            return 99.0
        return self.caller_db - self.line_db
