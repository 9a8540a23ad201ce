"""Prosodic features of telephone speech (8 kHz), cheap enough for every live call.

Per 10 ms frame (40 ms window): F0 from the normalised autocorrelation (computed for all
frames at once with one FFT; `librosa.pyin` is ~60x too slow for live calls), a voicing
decision, energy in dB, spectral centroid, alpha ratio (spectral tilt) and Hammarberg
index. Per utterance: statistics over voiced frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from speech.audio import resample

RATE = 8000
WIN = 320  # 40 ms: two periods of a 50 Hz voice
HOP = 80  # 10 ms
NFFT = 512  # >= WIN + longest lag: the circular autocorrelation does not wrap
F0_MIN, F0_MAX = 60.0, 400.0
_FREQS = np.fft.rfftfreq(NFFT, 1 / RATE)
_HANN = np.hanning(WIN).astype(np.float32)
# autocorrelation of the window itself: dividing by it undoes the window's taper (Boersma 1993)
_WIN_AC = np.fft.irfft(np.abs(np.fft.rfft(_HANN, NFFT)) ** 2, NFFT)[:WIN]
_WIN_AC = (_WIN_AC / _WIN_AC[0]).astype(np.float32)
_BAND_LO = (_FREQS >= 80) & (_FREQS < 1000)
_BAND_HI = (_FREQS >= 1000) & (_FREQS < 3400)
_BAND_0_2K = (_FREQS >= 80) & (_FREQS < 2000)
_BAND_2_4K = (_FREQS >= 2000) & (_FREQS < 3800)
_BAND_ALL = (_FREQS >= 80) & (_FREQS < 3800)


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    f0_hz: np.ndarray  # 0 where unvoiced
    voiced: np.ndarray  # bool
    energy_db: np.ndarray
    centroid_hz: np.ndarray
    alpha_db: np.ndarray  # energy 1-3.4 kHz over 80-1000 Hz: flatter tilt = more effort
    hammarberg_db: np.ndarray  # peak 0-2 kHz minus peak 2-4 kHz
    high_db: np.ndarray  # energy 1-3.4 kHz
    periodicity: np.ndarray  # normalised autocorrelation peak: 1 = a clean harmonic voice


def frame_features(samples: np.ndarray) -> FrameFeatures:
    """Features of 8 kHz float audio, one row per 10 ms."""
    x = np.asarray(samples, dtype=np.float32)
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    n = 1 + (len(x) - WIN) // HOP
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[idx]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.mean(frames * frames, axis=1)
    energy_db = 10 * np.log10(energy + 1e-10)

    # one FFT per frame serves the spectrum and (as |X|^2) the autocorrelation
    power = (np.abs(np.fft.rfft(frames * _HANN, NFFT)) ** 2).astype(np.float32) + 1e-12
    lag_min, lag_max = int(RATE / F0_MAX), int(RATE / F0_MIN)
    lags = np.arange(lag_min, lag_max + 1)
    ac = np.fft.irfft(power, NFFT)[:, : lag_max + 1]
    norm = ac[:, lags] / (ac[:, :1] + 1e-10) / _WIN_AC[lags][None, :]
    best = np.argmax(norm, axis=1)
    peak = norm[np.arange(n), best]
    # octave-error guard: take the shortest lag whose peak is nearly as strong
    strong = norm >= (0.9 * peak)[:, None]
    local = np.zeros_like(strong)
    local[:, 1:-1] = (norm[:, 1:-1] >= norm[:, :-2]) & (norm[:, 1:-1] >= norm[:, 2:])
    cand = strong & local
    first = np.where(cand.any(axis=1), np.argmax(cand, axis=1), best)
    # parabolic interpolation around the chosen lag
    i = np.clip(first, 1, len(lags) - 2)
    a, b, c = norm[np.arange(n), i - 1], norm[np.arange(n), i], norm[np.arange(n), i + 1]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    lag = lags[i] + np.clip(shift, -1, 1)
    f0 = RATE / lag
    loud_enough = energy_db > (np.max(energy_db) - 35.0)
    voiced = (norm[np.arange(n), i] > 0.45) & loud_enough & (energy_db > -60)
    f0 = np.where(voiced, f0, 0.0)
    f0 = _median3(f0, voiced)

    # spectral shape
    centroid = (power[:, _BAND_ALL] @ _FREQS[_BAND_ALL]) / power[:, _BAND_ALL].sum(axis=1)
    alpha = 10 * np.log10(power[:, _BAND_HI].sum(axis=1) / power[:, _BAND_LO].sum(axis=1))
    hammarberg = 10 * np.log10(power[:, _BAND_0_2K].max(axis=1) / power[:, _BAND_2_4K].max(axis=1))
    periodicity = np.clip(norm[np.arange(n), i], 0.0, 0.999)
    high = 10 * np.log10(power[:, _BAND_HI].sum(axis=1) / (NFFT * WIN) + 1e-10)
    return FrameFeatures(f0, voiced, energy_db, centroid, alpha, hammarberg, high, periodicity)


def _median3(f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Median of 3 over voiced neighbours: removes single-frame octave jumps."""
    if len(f0) < 3:
        return f0
    stacked = np.stack([np.roll(f0, 1), f0, np.roll(f0, -1)])
    stacked[0, 0] = f0[0]
    stacked[2, -1] = f0[-1]
    med = np.median(stacked, axis=0)
    return np.where(voiced & (med > 0), med, np.where(voiced, f0, 0.0))


def semitones(hz: np.ndarray | float) -> np.ndarray | float:
    """Semitones above 55 Hz."""
    return 12 * np.log2(np.maximum(hz, 1e-6) / 55.0)


@dataclass(frozen=True, slots=True)
class UtteranceStats:
    """Statistics of one utterance over its voiced frames."""

    duration_s: float
    voiced_ratio: float
    f0_st: float  # median F0, semitones above 55 Hz
    f0_range_st: float  # p90 - p10
    loud_db: float  # mean energy of voiced frames
    loud_p90_db: float
    loud_range_db: float  # p90 - p10 over voiced frames
    centroid_hz: float
    alpha_db: float
    hammarberg_db: float
    jitter: float  # mean |change of period| between voiced frames / mean period
    rate_hz: float  # voiced onsets per second: a speaking-rate proxy
    f0_p90_st: float = 0.0  # the top of the pitch range
    hnr_db: float = 0.0  # harmonics-to-noise ratio of voiced frames (pressed/rough voice is lower)
    loud_delta_db: float = 0.0  # mean |frame-to-frame energy change|: articulation force
    f0_slope_st_s: float = 0.0  # linear trend of F0 over the utterance (semitones per second)
    f0_end_st: float = 0.0  # F0 of the last third minus the first two thirds
    high_db: float = 0.0  # energy 1-3.4 kHz of voiced frames: vocal effort

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def utterance_stats(samples: np.ndarray, rate: int = RATE) -> UtteranceStats | None:
    """Statistics of an utterance; None when it has too little voice to judge."""
    if rate != RATE:
        samples = resample(samples, rate, RATE)
    ff = frame_features(samples)
    v = ff.voiced
    if v.sum() < 10:  # under 100 ms of voice
        return None
    f0 = np.asarray(semitones(ff.f0_hz[v]), dtype=np.float64)
    t_v = np.flatnonzero(v) * HOP / RATE
    loud = ff.energy_db[v]
    periods = 1.0 / ff.f0_hz[v]
    consecutive = v[1:] & v[:-1]
    dp = np.abs(np.diff(1.0 / np.where(ff.f0_hz > 0, ff.f0_hz, 1.0)))[consecutive]
    jitter = float(np.mean(dp) / np.mean(periods)) if dp.size else 0.0
    onsets = int(np.sum(v[1:] & ~v[:-1])) + int(v[0])
    duration = len(samples) / RATE
    return UtteranceStats(
        duration_s=duration,
        voiced_ratio=float(v.mean()),
        f0_st=float(np.median(f0)),
        f0_range_st=float(np.percentile(f0, 90) - np.percentile(f0, 10)),
        loud_db=float(np.mean(loud)),
        loud_p90_db=float(np.percentile(loud, 90)),
        loud_range_db=float(np.percentile(loud, 90) - np.percentile(loud, 10)),
        centroid_hz=float(np.mean(ff.centroid_hz[v])),
        alpha_db=float(np.mean(ff.alpha_db[v])),
        hammarberg_db=float(np.mean(ff.hammarberg_db[v])),
        jitter=min(jitter, 1.0),
        rate_hz=onsets / max(duration, 1e-3),
        f0_p90_st=float(np.percentile(f0, 90)),
        hnr_db=float(np.mean(10 * np.log10(ff.periodicity[v] / (1 - ff.periodicity[v])))),
        loud_delta_db=float(np.mean(np.abs(np.diff(ff.energy_db)))) if len(ff.energy_db) > 1 else 0.0,
        f0_slope_st_s=float(np.polyfit(t_v, f0, 1)[0]) if len(f0) > 2 and np.ptp(t_v) > 0 else 0.0,
        f0_end_st=float(np.median(f0[2 * len(f0) // 3 :]) - np.median(f0[: 2 * len(f0) // 3]))
        if len(f0) >= 6
        else 0.0,
        high_db=float(np.mean(ff.high_db[v])),
    )
