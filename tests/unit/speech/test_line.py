"""A caller's line: noise at an SNR, mu-law, lost packets concealed. Category: unit (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from speech.line import (
    active_level_db,
    babble,
    brown_noise,
    level_db,
    lose_packets,
    mix,
    mulaw,
    phone_line,
    pink_noise,
)
from tests.conftest import voiced

pytestmark = pytest.mark.unit
RATE = 8000


def test_noise_is_mixed_at_the_asked_snr_against_the_active_speech_level():
    rng = np.random.default_rng(0)
    speech = np.concatenate([np.zeros(RATE), voiced(2.0, RATE) * 0.3, np.zeros(RATE)])
    noise = pink_noise(5 * RATE, rng)
    for snr in (20, 10, 5, 0):
        noisy = mix(speech, noise, snr, RATE, np.random.default_rng(1))
        bed = noisy - speech
        assert abs(active_level_db(speech, RATE) - level_db(bed) - snr) < 0.5
    # the pauses do not lower the speech level: a padded clip has the level of the clip
    assert abs(active_level_db(speech, RATE) - level_db(voiced(2.0, RATE) * 0.3)) < 1.0


def test_pink_and_brown_noise_fall_off_by_octave():
    rng = np.random.default_rng(2)

    def octave_drop(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / RATE)
        low = power[(f >= 250) & (f < 500)].sum()
        high = power[(f >= 500) & (f < 1000)].sum()
        return float(10 * np.log10(low / high))

    # per octave band: pink has equal power (0 dB), brown 3 dB less per octave band
    assert abs(octave_drop(pink_noise(8 * RATE, rng))) < 1.0
    assert 2.0 < octave_drop(brown_noise(8 * RATE, rng)) < 4.0


def test_babble_is_many_talkers_at_one_level():
    rng = np.random.default_rng(3)
    talkers = [voiced(1.0, RATE, f0=f) * g for f, g in ((110, 0.1), (180, 0.5), (240, 0.9))]
    x = babble(talkers, 3 * RATE, rng, count=4)
    assert len(x) == 3 * RATE
    assert abs(level_db(x) + 30) < 0.1


def test_mulaw_keeps_speech_within_the_codec_s_quantisation():
    x = voiced(1.0, RATE) * 0.5
    y = mulaw(x)
    err = level_db(y - x) - level_db(x)
    assert -45 < err < -30  # G.711 gives ~38 dB SNR on speech
    assert np.array_equal(mulaw(y), y)  # a second pass changes nothing


def test_lost_packets_are_concealed_then_faded_to_silence():
    rng = np.random.default_rng(4)
    step = RATE // 50
    noise = (rng.standard_normal(2000 * step) * 0.1).astype(np.float32)  # no packet repeats another
    y = lose_packets(noise, RATE, 0.05, rng)
    lost = np.flatnonzero(np.abs((y - noise).reshape(-1, step)).max(axis=1) > 1e-6)
    assert 0.035 < len(lost) / 2000 < 0.065  # about the asked loss
    assert np.any(np.diff(lost) == 1)  # in bursts, as mobile links lose them
    # a lost packet of a voice is not silence: its last pitch period goes on, then fades
    x = voiced(10.0, RATE) * 0.5
    z = lose_packets(x, RATE, 0.05, np.random.default_rng(6))
    assert level_db(z - x) < level_db(x) - 10
    assert np.array_equal(lose_packets(x, RATE, 0.0, rng), x)  # no loss, no change


def test_a_phone_line_is_the_same_for_the_same_seed():
    x = voiced(1.0, RATE) * 0.3
    noise = brown_noise(RATE * 2, np.random.default_rng(5))
    a = phone_line(x, RATE, noise, 10, 0.02, seed=7)
    b = phone_line(x, RATE, noise, 10, 0.02, seed=7)
    c = phone_line(x, RATE, noise, 10, 0.02, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
