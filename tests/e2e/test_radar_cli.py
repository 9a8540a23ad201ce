"""`ivr radar` as an admin runs it, on a store holding a generated labelled day (the development
clips' calls through the shipped radar, kept as cues): a dry run only reports; a retraining
proposes a version with its held-out figures; approve, versions, rollback, the budget, a label;
bad input is one clear line and changes nothing. Category: e2e."""

from __future__ import annotations

import json
import subprocess

import pytest

from ivr.records import Store
from tests.tools.radar_day import write_day

pytestmark = pytest.mark.e2e


def run(ivr_cmd, data, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*ivr_cmd, "radar", *args, "--data-dir", str(data)], capture_output=True, text=True, timeout=300
    )


def test_the_retraining_loop_from_the_shell(ivr_cmd, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    store = Store(f"sqlite:///{data / 'ivr.sqlite3'}")
    write_day(store.engine, day="2026-11-30")
    store.close()

    p = run(ivr_cmd, data, "retrain", "--since", "2026-11-30", "--dry-run")
    assert p.returncode == 0 and "--dry-run: nothing kept" in p.stdout, p.stdout + p.stderr
    assert "live at the budget" in p.stdout and "retrained" in p.stdout
    assert (
        "None yet" not in p.stdout
        and json.loads(run(ivr_cmd, data, "versions", "--json").stdout)["versions"] == []
    )

    p = run(ivr_cmd, data, "budget", "3")
    assert p.returncode == 0 and "3.0 per 100" in p.stdout, p.stderr
    p = run(ivr_cmd, data, "retrain", "--since", "2026-11-30", "--json", "--by", "ada")
    out = json.loads(p.stdout)
    assert p.returncode == 0 and out["accepted"] and out["version"] == 1 and out["budget"] == 3.0, out
    assert out["after"]["uar"] > out["before_at_budget"]["uar"]
    p = run(ivr_cmd, data, "approve", "1", "--by", "ada")
    assert p.returncode == 0 and "version 1 is live" in p.stdout, p.stderr
    v = json.loads(run(ivr_cmd, data, "versions", "--json").stdout)
    assert [(r["version"], r["state"], r["created_by"]) for r in v["versions"]] == [(1, "active", "ada")]
    assert v["budget"] == 3.0 and v["labels"]["angry"] > 0
    p = run(ivr_cmd, data, "retrain", "--since", "2026-11-30")
    assert p.returncode == 1 and "refused: no better on the held-out calls" in p.stdout, p.stdout
    p = run(ivr_cmd, data, "rollback")
    assert p.returncode == 0 and "the shipped model is live" in p.stdout, p.stderr
    assert "v1   rolled_back" in run(ivr_cmd, data, "versions").stdout

    p = run(ivr_cmd, data, "label", "rad-2026-11-30-00001", "angry", "--started-ms", "2000")
    assert p.returncode == 0 and "angry (qa" in p.stdout, p.stderr
    for bad, says in (
        (("retrain", "--since", "last tuesday"), "use an ISO date"),
        (("approve", "99"), "no radar version 99"),
        (("rollback",), "nothing to roll back"),
        (("label", "no-such-call", "angry"), "no call 'no-such-call'"),
        (("budget", "80"), "0 to 50"),
    ):
        p = run(ivr_cmd, data, *bad)
        assert p.returncode == 2 and says in p.stderr and "Traceback" not in p.stderr, (bad, p.stderr)


def test_too_few_labels_are_refused_from_the_shell(ivr_cmd, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    store = Store(f"sqlite:///{data / 'ivr.sqlite3'}")
    write_day(store.engine, day="2026-11-30", calls_n=30)
    store.close()
    p = run(ivr_cmd, data, "retrain", "--since", "2026-11-30")
    assert p.returncode == 1 and "refused: too few labels" in p.stdout, p.stdout + p.stderr
