"""What an admin does with the radar, for the command line and the console alike: retrain on
the labelled calls (a proposal, or only a report), approve, reject, roll back, the budget."""

from __future__ import annotations

from typing import Any

from ivr.radar.live import LiveRadar
from ivr.radar.records import RadarRecords
from ivr.radar.retrain import retrain
from prosody.radar import RadarModel


def run_retrain(
    records: RadarRecords, shipped: RadarModel, since: float, since_text: str, until: float | None = None,
    budget: float | None = None, dry_run: bool = False, author: str = "",
) -> dict[str, Any]:  # fmt: skip
    """Refit on the calls labelled since `since`; unless `dry_run`, an accepted model becomes
    the next version, proposed (live once approved). The answer says which, why and the figures."""
    per_100 = records.budget() if budget is None else budget
    live = LiveRadar(records, shipped, refresh_s=0).current()
    rows = records.labelled_calls(since, until)
    outcome = retrain(rows, shipped, live, per_100)
    out: dict[str, Any] = {
        "accepted": outcome.accepted,
        "reason": outcome.reason,
        "since": since_text,
        "dry_run": dry_run,
        "live_version": live.version,
        **outcome.report,
    }
    if outcome.model is not None and not dry_run:
        out["version"] = records.propose(
            outcome.model.to_json(full=False), outcome.report, since_text, per_100, author
        )
    return out


def describe(out: dict[str, Any]) -> str:
    """A retraining's answer as an admin reads it."""
    lab = out.get("labels", {})
    lines = [
        f"labelled calls since {out['since']}: {lab.get('labelled', 0)} ({lab.get('upset', 0)} upset, "
        f"{lab.get('calm', 0)} calm; {lab.get('contradicted', 0)} of {lab.get('twice', 0)} labelled twice "
        f"contradict, {lab.get('without_cues', 0)} without the radar's cues)",
        f"false-alarm budget: {out.get('budget')} per 100 calm calls",
    ]
    if "before" in out:
        b, a = out["before"], out["after"]
        lines.append(f"held out: {out['held_out_calls']} calls ({b['upset_calls']} upset, {b['calm_calls']} calm); "
                     f"trained on {out['train_calls']}")  # fmt: skip
        lines.append(f"  {'':22s} {'UAR':>6s} {'angry':>6s} {'anxious':>8s} {'false/100':>10s}")
        rows = [
            (f"live (version {out['live_version']})", b),
            ("live at the budget", out["before_at_budget"]),
            ("retrained", a),
        ]
        for name, f in rows:
            lines.append(
                f"  {name:22s} {f['uar']:6.3f} {f['angry_caught']:6.0%} {f['anxious_caught']:8.0%} {f['false_per_100']:10.1f}"
            )
        lines.append(f"  thresholds: {out['thresholds']}")
    if not out["accepted"]:
        lines.append(f"refused: {out['reason']}")
    elif out.get("version"):
        lines.append(
            f"proposed as version {out['version']}: `ivr radar approve {out['version']}` makes it live"
        )
    else:
        lines.append(f"accepted ({out['reason']}); --dry-run: nothing kept")
    return "\n".join(lines)
