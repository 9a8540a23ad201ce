"""End of the caller's speech -> the IVR's answer, over the golden scripted calls of the hotline
(tests/scripts), with the endpointing and turn joining of before (450 ms end of turn, no clause
wait, no join) and now (clause_silence_ms, join_grace_ms).

Time is the call's audio time in a deterministic replay: what the endpointing and the dialplan
make the caller wait (VAD silence, the lookups), not the models' compute, which is the same
before and after and is measured live, over real SIP, by bench/sip_load.py."""

from __future__ import annotations

import copy
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from common import ROOT, pct

from ivr.api import BackgroundServer, create_app
from ivr.call.build import DialplanVersion, dialplan_app
from ivr.dialplan import load_dialplan
from ivr.dialplan.understanding import Understanding
from ivr.events import EventType
from ivr.records import Store, read_directory
from ivr.script import load_script, script_session
from ivr.settings import Settings
from speech.vad import VadSettings

SCRIPTS = (
    "balance_known.yaml", "balance_unknown_spoken.yaml", "data_then_outage.yaml", "roaming.yaml", "lost_sim.yaml",
    "turn_dont_know_account.yaml", "turn_no_then_complaint.yaml", "turn_pay_then_wrong.yaml",
    "turn_request_at_yes_no.yaml", "turn_yes_and_request.yaml",
)  # fmt: skip
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London"))  # a Tuesday morning: open


async def waits(services, vad: VadSettings, join_grace_ms: int | None) -> tuple[list[int], int]:
    """(each answer's wait after the caller's voice ended, turns joined) over the scripts."""
    dp = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
    if join_grace_ms is not None:
        dp = copy.copy(dp)
        dp.settings = {**dp.settings, "join_grace_ms": join_grace_ms}
    nlu = Understanding.build(dp, services.embedder)
    out: list[int] = []
    joins = 0
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(create_app()) as api:
        store = Store(f"sqlite:///{Path(tmp) / 'd.sqlite3'}")
        store.directory.upsert(read_directory(ROOT / "dialplans" / "callers.csv"))
        try:
            async with httpx.AsyncClient() as client:
                for name in SCRIPTS:
                    script = load_script(ROOT / "tests" / "scripts" / name)
                    caller = store.directory.caller(script.caller) if script.caller else None
                    events: list = []
                    runner = dialplan_app(DialplanVersion(dp, nlu), caller, OPEN, api.base_url)
                    session = script_session(
                        script,
                        services,
                        Settings(vad=vad),
                        events.append,
                        runner,
                        client,
                        caller=script.caller,
                    )
                    await session.run()
                    says = [e.t_ms for e in events if e.type is EventType.SAY]
                    joins += sum(e.type is EventType.TURN_JOIN for e in events)
                    for end in session.transport.voice_ends:
                        answer = next((t for t in says if t >= end), None)
                        if answer is not None:
                            out.append(answer - end)
        finally:
            store.close()
    return out, joins


async def report(services) -> None:
    print(f"  end of speech -> the IVR's answer ({len(SCRIPTS)} golden scripted calls, audio time):")
    modes = {
        "before (450 ms, no clause wait, no join)": (VadSettings(clause_silence_ms=0), 0),
        "now (clause wait, grace join)": (VadSettings(), None),
    }
    for label, (vad, grace) in modes.items():
        w, joins = await waits(services, vad, grace)
        print(
            f"    {label:42s} p50 {pct(w, 50):4.0f} ms, p95 {pct(w, 95):4.0f} ms over {len(w)} answers; {joins} turns joined"
        )
