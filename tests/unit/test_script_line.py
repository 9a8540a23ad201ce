"""A scripted caller's line (`line:` in a caller script): read, refused with its reason, and
applied to every frame the caller sends. Category: unit (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.script import ScriptError, load_script
from speech.line import level_db

pytestmark = pytest.mark.unit


def script(tmp_path, line: str):
    p = tmp_path / "caller.yaml"
    p.write_text(f"line: {line}\nturns:\n  - silence: 1\n", encoding="utf-8")
    return p


def test_a_line_is_read_and_puts_its_noise_under_the_caller(tmp_path):
    s = load_script(script(tmp_path, "{noise: pink, snr_db: 10, loss: 0.02, seed: 4}"))
    assert s.line is not None and s.line.loss == 0.02 and s.line.snr_db == 10
    line = s.line.line(8000)
    frames = np.concatenate([line.frame(np.zeros(160, np.float32)) for _ in range(100)])
    assert abs(level_db(frames) - (-20 - 10)) < 2  # 10 dB under piper's -20 dBFS voice


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{noise: pink, loss: 0.5}", "loss is a share of packets"),
        ("{noise: pink, gain: 3}", "line takes {noise"),
        ("{noise: no_such.wav}", "no such file"),
        ("{snr_db: loud}", "line takes {noise"),
    ],
)
def test_a_wrong_line_is_refused_with_its_reason(tmp_path, line, says):
    with pytest.raises(ScriptError, match=says):
        load_script(script(tmp_path, line))
