"""`ivr intents test` as an admin runs it: accuracy, per-intent figures, failures with their
line, overlapping examples; a broken test file is refused with its line. Category: e2e."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.model]
ROOT = Path(__file__).resolve().parents[2]


def test_intents_test_reports_what_failed_and_why(ivr_cmd, tmp_path):
    tsv = tmp_path / "t.tsv"
    tsv.write_text("text\tintent\nwhat's my balance\tcheck_balance\n# a comment\n"
                   "I want to complain about my bill, it is wrong again\tcomplaint\n"
                   "what's the weather like\tnone\nhow much data is left\troaming\n")  # fmt: skip
    p = subprocess.run([*ivr_cmd, "intents", "test", str(ROOT / "dialplans" / "hotline.yaml"), str(tsv), "--json"],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["tests"] == 4 and r["accuracy"] == 0.75 and r["out_of_scope_recall"] == 1.0
    (failed,) = r["failed"]
    assert failed == {**failed, "line": 6, "expected": "roaming", "got": "data_usage"}
    assert r["per_intent"]["complaint"]["recall"] == 1.0  # the complaint word wins over "bill"
    assert r["confusions"] == [{"expected": "roaming", "got": "data_usage", "count": 1}]
    tsv.write_text("what's my balance\tbalance_check\n")
    p = subprocess.run([*ivr_cmd, "intents", "test", str(ROOT / "dialplans" / "hotline.yaml"), str(tsv)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 2 and "t.tsv:1: intent 'balance_check' is not in the dialplan" in p.stderr
