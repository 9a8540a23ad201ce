"""The conversation set: multi-turn scripted callers (tests/conversations/*.yaml) with one
expected outcome each, run through audio against the hotline (piper speaks the caller, the
call's real pipeline and dialplan runner hear them) at a fixed open hour. Shared by
bench/conversations.py (every call, the share right per case type) and the e2e tests.

A script is a caller script (`caller`, `turns`, `line`, as tests/scripts/) plus:

    case: closing | fragment | digits | two_requests | correction | confirm
    expect:
      intents: [check_balance, data_usage]   # the requests routed, in order
      transfer: complaints                   # the queue, or "none"
      hangup: caller said goodbye            # the IVR's hang-up reason
      said: ["Your balance is"]              # the caller hears each of these
      not_said: ["Sorry, I didn't get that."]
      balance_for: "100003"                  # the balance of this account is said
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from ivr.api import BackgroundServer, create_app, demo_account
from ivr.call.build import DialplanVersion, dialplan_app
from ivr.dialplan import load_dialplan
from ivr.dialplan.understanding import Understanding
from ivr.events import Event, EventType
from ivr.records import Store, read_directory
from ivr.script import CallerScript, load_script, script_session
from ivr.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = ROOT / "tests" / "conversations"
CASES = ("closing", "fragment", "digits", "two_requests", "correction", "confirm")
EXPECT_KEYS = {"intents", "transfer", "hangup", "said", "not_said", "balance_for"}
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London"))  # a Tuesday morning


@dataclass
class Conversation:
    script: CallerScript
    case: str
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.script.path.stem


def load(path: Path) -> Conversation:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    case, expect = data.get("case"), data.get("expect") or {}
    if case not in CASES:
        raise ValueError(f"{path}: case is one of {', '.join(CASES)}")
    if not isinstance(expect, dict) or not expect or set(expect) - EXPECT_KEYS:
        raise ValueError(f"{path}: expect takes {', '.join(sorted(EXPECT_KEYS))}")
    return Conversation(load_script(path), case, expect)


def all_conversations() -> list[Conversation]:
    return [load(p) for p in sorted(CONVERSATIONS.glob("*.yaml"))]


def problems(c: Conversation, events: list[Event]) -> list[str]:
    """What the call did that the caller should not have got ([] when right)."""
    e = c.expect
    said = " | ".join(str(x.data["text"]) for x in events if x.type is EventType.SAY)
    routed: list[str] = []
    nodes: list[str] = []  # the words each was routed on
    for x in events:
        undone = x.type is EventType.TURN_JOIN and nodes and str(x.data["text"]).startswith(nodes[-1])
        # the caller was not done (the whole turn is heard again where it began), or said no
        # to "was that about ...?"
        undone = undone or (
            x.type is EventType.INTENT and x.data.get("by") == "confirmed" and x.data["name"] == "none"
        )
        if undone and routed:
            routed.pop()
            nodes.pop()
        if (
            x.type is EventType.INTENT
            and x.data["name"] not in ("none", "")
            and x.data.get("by") != "confirmed"
        ):
            if not routed or routed[-1] != x.data["name"]:
                routed.append(str(x.data["name"]))
                nodes.append(str(x.data.get("text", "")))
    transfer = next((str(x.data["queue"]) for x in events if x.type is EventType.TRANSFER), "none")
    hangup = next((str(x.data["reason"]) for x in events if x.type is EventType.HANGUP), "")
    out = []
    if "intents" in e and routed != list(e["intents"]):
        out.append(f"intents {routed} (expected {e['intents']})")
    if "transfer" in e and transfer != str(e["transfer"]):
        out.append(f"transfer to {transfer} (expected {e['transfer']})")
    if "hangup" in e and hangup != str(e["hangup"]):
        out.append(f"hung up {hangup!r} (expected {e['hangup']!r})")
    for text in e.get("said", []):
        if text not in said:
            out.append(f"never said {text!r}")
    for text in e.get("not_said", []):
        if text in said:
            out.append(f"said {text!r}")
    if "balance_for" in e:
        amount = demo_account(str(e["balance_for"]))["balance"]
        if f"Your balance is {amount:g} pounds" not in said:
            out.append(f"no balance of account {e['balance_for']}")
    return out


class Hotline:
    """The hotline, its intent model, the demo backend and the directory, for many calls."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.dp = load_dialplan(ROOT / "dialplans" / "hotline.yaml")
        self.nlu = Understanding.build(self.dp, services.embedder)
        self._tmp = tempfile.TemporaryDirectory()
        self.store = Store(f"sqlite:///{Path(self._tmp.name) / 'd.sqlite3'}")
        self.store.directory.upsert(read_directory(ROOT / "dialplans" / "callers.csv"))
        self.api = BackgroundServer(create_app())

    def __enter__(self) -> Hotline:
        self.api.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.__exit__(*exc)
        self.store.close()
        self._tmp.cleanup()

    async def call(self, c: Conversation, settings: Settings | None = None) -> list[Event]:
        """The conversation through audio; its events."""
        caller = self.store.directory.caller(c.script.caller) if c.script.caller else None
        events: list[Event] = []
        app = dialplan_app(DialplanVersion(self.dp, self.nlu), caller, OPEN, self.api.base_url)
        async with httpx.AsyncClient() as client:
            session = script_session(
                c.script,
                self.services,
                settings or Settings(),
                events.append,
                app,
                client,
                caller=c.script.caller,
            )
            await session.run()
        return events
