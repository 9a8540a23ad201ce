"""`ivr qa`, `ivr kb` and `ivr report` as an operator runs them, on a store holding a generated
day of calls. Category: e2e."""

from __future__ import annotations

import json
import subprocess

import pytest

from ivr.records import Store
from ivr.store.tables import kb_candidates
from tests.tools.synthetic import generate_day

pytestmark = pytest.mark.e2e


def run(ivr_cmd, data, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*ivr_cmd, *args, "--data-dir", str(data)], capture_output=True, text=True, timeout=300
    )


def test_qa_kb_and_report_from_the_shell(ivr_cmd, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    store = Store(f"sqlite:///{data / 'ivr.sqlite3'}")
    generate_day(store.engine, 500, day="2026-11-30", tz="Europe/London")
    with store.engine.begin() as conn:
        conn.execute(kb_candidates.insert().values(call_id="", agent="ann", question="can I get a paper bill",
                                                   answer="Yes, by post.", created_at=1.0))  # fmt: skip
    store.close()
    p = run(ivr_cmd, data, "qa", "run", "--since", "2026-11-30")
    assert p.returncode == 0 and "screened 500 call(s)" in p.stdout, p.stderr
    q = json.loads(run(ivr_cmd, data, "qa", "queue", "--json").stdout)
    assert q and q[0]["score"] >= q[-1]["score"] and any(f["name"] == "radar_escalate" for f in q[0]["flags"])
    p = run(
        ivr_cmd,
        data,
        "report",
        "--since",
        "2026-11-30",
        "--until",
        "2026-12-01",
        "--json",
        "--csv",
        str(tmp_path / "csv"),
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (
        r["calls"] == 500 and r["containment"] == 0.7 and r["tiers"] == {"L1": 0.78, "L2": 0.17, "L3": 0.05}
    )
    assert (
        r["top_intents"][0]["intent"] == "check_balance"
        and r["abandon_rate"] > 0
        and r["escalation_rate"] == 0.04
    )
    assert (tmp_path / "csv" / "queues.csv").read_text().startswith("queue,offered,answered")
    p = run(
        ivr_cmd, data, "kb", "approve", "1", "--answer", "Yes, we post a paper bill monthly.", "--by", "sue"
    )
    assert p.returncode == 0 and "can_i_get_a_paper_bill v1 is live" in p.stdout, p.stderr
    p = run(ivr_cmd, data, "kb", "approve", "1")
    assert p.returncode == 2 and "already approved" in p.stderr
    assert "Yes, we post a paper bill monthly." in run(ivr_cmd, data, "kb", "export").stdout
    p = run(ivr_cmd, data, "report", "--since", "yesterday")
    assert p.returncode == 2 and "--since 'yesterday'" in p.stderr
