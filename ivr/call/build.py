"""Call assembly: the one place a call is put together, for a live SIP call, a callback, a
replayed recording, a scripted caller, `ivr chat` and the benchmarks.

A call is a transport (where the audio comes from), the process's services, a record (where
its events go) and an application: the dialplan's runner for the caller, or a callback's
own steps. `build_call` wires them into a `CallSession`; `dialplan_app` and `call_record`
are the two parts every caller of it needs the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ivr.call.record import CallRecord, Summary
from ivr.call.services import CallServices
from ivr.call.session import App, CallSession
from ivr.dialplan.check import Dialplan
from ivr.dialplan.runner import DialplanRunner
from ivr.dialplan.understanding import Understanding
from ivr.events import Event
from ivr.settings import Settings
from ivr.store.writer import StoreWriter
from ivr.transport import Transport


@dataclass(frozen=True)
class DialplanVersion:
    """The dialplan a call runs and what it understands with: a call keeps the version it
    started with while a newer one is loaded."""

    dialplan: Dialplan
    understanding: Understanding


def dialplan_app(
    version: DialplanVersion, caller: Mapping[str, Any] | None, at: datetime | None, api_base: str,
    line: Mapping[str, Any] | None = None,
) -> DialplanRunner:  # fmt: skip
    """The dialplan's runner for one caller (`at`: the call's local time; None is now; `line`:
    the number called, its language, default queue and hours, from the numbers file)."""
    config = {"api_base": api_base, **({"line": dict(line)} if line else {})}
    return DialplanRunner(version.dialplan, version.understanding, caller, at, config)


def call_record(
    call_id: str,
    writer: StoreWriter | None,
    dialplan: Dialplan | None,
    *,
    caller: Mapping[str, Any] | None = None,
    source: str = "",
    called: tuple[str, str, str] = ("", "", ""),
    recording: Path | None = None,
    events_file: IO[str] | None = None,
    out: Callable[[Event], None] | None = None,
    on_end: Callable[[str, Summary], None] | None = None,
) -> CallRecord:
    """The call's record: what its dialplan is (name, version) and what it masks; `called`:
    the number the caller dialled and its line's name."""
    return CallRecord(
        call_id,
        writer,
        caller=dict(caller) if caller is not None else None,
        source=source,
        called=called,
        dialplan=dialplan.name if dialplan is not None else "",
        dialplan_version=(dialplan.version or dialplan.digest) if dialplan is not None else "",
        recording=recording,
        patterns=dialplan.redact if dialplan is not None else (),
        events_file=events_file,
        out=out,
        on_end=on_end,
    )


def build_call(
    transport: Transport,
    services: CallServices,
    settings: Settings,
    sink: Callable[[Event], None],
    *,
    app: App | None = None,
    source: str = "",
    http: Any = None,
    deterministic: bool = False,
    main_speaker: str = "caller",
    on_response_ms: Callable[[int], None] | None = None,
) -> CallSession:
    """The call's session: `transport`'s audio through the speech pipeline and the radar to
    `app` (None: a greeting), every event to `sink` (a CallRecord, or a list's append)."""
    session = CallSession(
        transport, services, settings, sink, app=app, deterministic=deterministic, source=source, http=http
    )
    session.main_speaker = main_speaker
    session.on_response_ms = on_response_ms
    return session
