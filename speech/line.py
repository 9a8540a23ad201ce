"""What a caller's line does to their voice: background noise at a signal-to-noise ratio,
G.711 mu-law, and lost packets concealed as a receiver does.

Used by the noise benchmark (bench/noise.py) and by scripted callers on a noisy line
(`line:` in a caller script), so the two hear the same line. Pure numpy: float32 mono
samples in [-1, 1] in, the same out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FRAME_MS = 20
MU = 255.0


def level_db(x: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-200 for silence)."""
    if x.size == 0:
        return -200.0
    return float(10 * np.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-20))


def active_level_db(x: np.ndarray, rate: int, floor_db: float = 40.0) -> float:
    """The level of the active part of a recording (frames within `floor_db` of its loudest
    20 ms frame), as ITU-T P.56 measures a talker: pauses do not lower it."""
    step = rate * FRAME_MS // 1000
    n = len(x) // step
    if n == 0:
        return level_db(x)
    frames = x[: n * step].reshape(n, step).astype(np.float64)
    power = np.mean(frames * frames, axis=1) + 1e-20
    db = 10 * np.log10(power)
    active = power[db >= db.max() - floor_db]
    return float(10 * np.log10(float(np.mean(active))))


def fit(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of `noise`: from a random start, looped when it is shorter."""
    if len(noise) == 0:
        return np.zeros(n, np.float32)
    start = int(rng.integers(0, len(noise)))
    reps = -(-(start + n) // len(noise))
    return np.tile(noise, reps)[start : start + n].astype(np.float32)


def mix(
    speech: np.ndarray, noise: np.ndarray, snr_db: float, rate: int, rng: np.random.Generator
) -> np.ndarray:
    """`speech` with `noise` under it at `snr_db` (active speech level over noise level)."""
    bed = fit(noise, len(speech), rng)
    gain = 10 ** ((active_level_db(speech, rate) - snr_db - level_db(bed)) / 20)
    return (speech + gain * bed).astype(np.float32)


def scale_to(x: np.ndarray, target_db: float) -> np.ndarray:
    return (x * 10 ** ((target_db - level_db(x)) / 20)).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling 3 dB an octave (1/f), like a ventilation or road rumble mix."""
    return _coloured(n, rng, 0.5)


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling 6 dB an octave (1/f^2): a car's cabin, distant traffic."""
    return _coloured(n, rng, 1.0)


def _coloured(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / f**exponent, n)
    return scale_to(x.astype(np.float32), -30.0)


def babble(talkers: Sequence[np.ndarray], n: int, rng: np.random.Generator, count: int = 6) -> np.ndarray:
    """`count` talkers at once, each a chain of clips from `talkers` at a random start,
    each brought to the same level: the chatter of an open office or a shop."""
    out = np.zeros(n, np.float64)
    for _ in range(count):
        chain: list[np.ndarray] = []
        total = 0
        while total < n + 1:
            clip = talkers[int(rng.integers(0, len(talkers)))]
            chain.append(clip)
            total += len(clip)
        voice = fit(np.concatenate(chain), n, rng)
        out += scale_to(voice, -30.0)
    return scale_to(out.astype(np.float32), -30.0)


def mulaw(x: np.ndarray) -> np.ndarray:
    """Through G.711 mu-law and back (8-bit companding: the telephone's quantisation)."""
    y = np.sign(x) * np.log1p(MU * np.abs(np.clip(x, -1, 1))) / np.log1p(MU)
    y = np.round(y * 127) / 127
    out: np.ndarray = (np.sign(y) * (np.expm1(np.abs(y) * np.log1p(MU)) / MU)).astype(np.float32)
    return out


class Line:
    """A line, frame by frame (a scripted caller's): noise added at a fixed gain, mu-law, and
    20 ms packets lost in bursts and concealed as a G.711 receiver does (ITU-T G.711
    Appendix I, which pjmedia's PLC follows in outline: the last pitch period is repeated,
    fading by 20% a packet, and silence after 60 ms)."""

    def __init__(
        self,
        rate: int,
        noise: np.ndarray | None = None,
        gain: float = 0.0,
        loss: float = 0.0,
        seed: int = 0,
        burst: float = 1.5,
        codec: bool = True,
    ) -> None:
        self.rate = rate
        self._rng = np.random.default_rng(seed)
        self._noise = noise if noise is not None and len(noise) and gain > 0 else None
        self._gain = gain
        self._pos = int(self._rng.integers(0, len(self._noise))) if self._noise is not None else 0
        self._loss = loss
        self._p_leave = 1.0 / max(1.0, burst)
        self._p_enter = loss * self._p_leave / max(1e-9, 1.0 - loss)
        self._codec = codec
        self._history = np.zeros(0, np.float32)  # the last 60 ms played out
        self._lost_run = 0

    def frame(self, x: np.ndarray) -> np.ndarray:
        y = x.astype(np.float32)
        if self._noise is not None:
            idx = (self._pos + np.arange(len(y))) % len(self._noise)
            self._pos = (self._pos + len(y)) % len(self._noise)
            y = (y + self._gain * self._noise[idx]).astype(np.float32)
        if self._codec:
            y = mulaw(np.clip(y, -1, 1))
        if self._loss > 0:
            lost = self._rng.random() < (1 - self._p_leave if self._lost_run else self._p_enter)
            self._lost_run = self._lost_run + 1 if lost else 0
            if lost:
                y = self._conceal(len(y))
        self._history = np.concatenate([self._history, y])[-3 * len(y) :]
        return y

    def _conceal(self, n: int) -> np.ndarray:
        if self._lost_run > 3 or len(self._history) == 0:
            return np.zeros(n, np.float32)
        period = _pitch_period(self._history, self.rate)
        cycle = self._history[-period:]
        return (np.tile(cycle, -(-n // period))[:n] * (1.0 - 0.2 * self._lost_run)).astype(np.float32)


def lose_packets(
    x: np.ndarray, rate: int, loss: float, rng: np.random.Generator, burst: float = 1.5
) -> np.ndarray:
    """`x` with 20 ms packets lost at the rate `loss` (in bursts averaging `burst` packets, as
    mobile links lose them) and concealed (`Line`)."""
    if loss <= 0:
        return x.astype(np.float32)
    line = Line(rate, loss=loss, seed=int(rng.integers(0, 2**31)), burst=burst, codec=False)
    return _by_frames(x, rate, line)


def _by_frames(x: np.ndarray, rate: int, line: Line) -> np.ndarray:
    step = rate * FRAME_MS // 1000
    out = [line.frame(x[i : i + step]) for i in range(0, len(x), step)]
    return np.concatenate(out).astype(np.float32) if out else x.astype(np.float32)


def _pitch_period(history: np.ndarray, rate: int) -> int:
    """The strongest period between 2.5 and 15 ms in the last 60 ms (a whole frame when unvoiced)."""
    lo, hi = int(rate * 0.0025), int(rate * 0.015)
    if len(history) < 2 * hi:
        return max(1, min(len(history), rate * FRAME_MS // 1000))
    tail = history[-hi:]
    scores = [float(np.dot(tail, history[-hi - lag : len(history) - lag])) for lag in range(lo, hi)]
    return lo + int(np.argmax(scores))


def phone_line(
    x: np.ndarray,
    rate: int,
    noise: np.ndarray | None = None,
    snr_db: float = 0.0,
    loss: float = 0.0,
    seed: int = 0,
    speech_level_db: float | None = None,
) -> np.ndarray:
    """`x` as it reaches the IVR: noise at `snr_db` under the caller's active level (or
    `speech_level_db`, for a recording that is mostly silence), then mu-law, then `loss`."""
    gain = 0.0
    if noise is not None and len(noise):
        ref = active_level_db(x, rate) if speech_level_db is None else speech_level_db
        gain = 10 ** ((ref - snr_db - level_db(noise)) / 20)
    return _by_frames(x, rate, Line(rate, noise, gain, loss, seed))
