"""`ivr chat` and `ivr replay`: one-shot calls through the same session and speech client
a live call uses."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from ivr.api import BackgroundServer, create_app
from ivr.call.build import DialplanVersion, build_call, call_record, dialplan_app
from ivr.chat import HELP, ChatConversation, stdin_reader
from ivr.cli.common import UsageError, expand_inputs, fail, settings_from
from ivr.cli.context import caller_entry, load_dialplan, open_store, speech_services
from ivr.dialplan.understanding import Understanding
from ivr.events import Event, format_event
from ivr.kb.live import LiveKnowledge
from ivr.qa.config import QaConfigError, load_qa_config
from ivr.qa.screen import Screener
from ivr.radar.live import LiveRadar
from ivr.replay import ReplayTransport, parse_dtmf_script
from ivr.script import CallerScript, ScriptError, load_script, script_session
from prosody.radar import RadarModel
from speech.audio import AudioError


# -- chat --------------------------------------------------------------------------------
async def cmd_chat(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    dialplan = load_dialplan(args.file)
    caller = caller_entry(settings, args.caller)
    interactive = sys.stdin.isatty()
    with BackgroundServer(create_app()) as api:
        async with speech_services(settings) as services, httpx.AsyncClient() as client:
            understanding = await asyncio.to_thread(Understanding.build, dialplan, services.embedder)
            print(f"{dialplan.name} ({args.file}). {HELP}")
            conv = ChatConversation(
                stdin_reader("you> " if interactive else ""),
                lambda line: print(line, flush=True),
                caller=caller.get("number", ""),
                http=client,
            )
            runner = dialplan_app(DialplanVersion(dialplan, understanding), caller, args.at, api.base_url)
            conv.vars_view = lambda: runner.state.vars
            await runner(conv)
    return 0


# -- replay ------------------------------------------------------------------------------
async def cmd_replay(args: argparse.Namespace) -> int:
    replay = _Replay(args)
    async with contextlib.AsyncExitStack() as stack:
        await replay.open(stack)
        try:
            for label, job in replay.jobs:
                await replay.one(label, job)
            if replay.store is not None:  # the replayed calls get their QA, as `ivr serve` gives a live one
                await asyncio.to_thread(_screen, replay.store, replay.settings)
        finally:
            if replay.progress is not None:
                replay.progress.close()
    return 2 if replay.failures else 0


class _Replay:
    """`ivr replay`: recordings and a scripted caller, one call each, through the same
    assembly a live call uses."""

    def __init__(self, args: argparse.Namespace) -> None:
        if not args.paths and not args.script:
            raise UsageError("replay needs audio files or folders, or --script TURNS.yaml")
        if args.script and not args.dialplan:
            raise UsageError("--script drives a dialplan: add --dialplan FILE")
        try:
            self.dtmf = parse_dtmf_script(args.dtmf)
        except ValueError as e:
            raise UsageError(str(e)) from None
        self.args = args
        inputs = expand_inputs(args.paths)
        self.settings = settings_from(args)
        self.script = None
        if args.script:
            try:
                self.script = load_script(args.script)
            except ScriptError as e:
                raise UsageError(str(e)) from None
        self.dialplan = load_dialplan(args.dialplan) if args.dialplan else None
        self.out_audio = Path(args.out_audio) if args.out_audio else None
        self.jobs: list[tuple[str, Any]] = [(str(p), p) for p in inputs]
        if self.script is not None:
            self.jobs.append((str(self.script.path), self.script))
        self.several = len(self.jobs) > 1
        if self.out_audio and self.several:
            self.out_audio.mkdir(parents=True, exist_ok=True)
        self.progress = None
        if not args.json and self.several and sys.stderr.isatty():
            self.progress = tqdm(total=len(self.jobs), unit="call", file=sys.stderr)
        self.failures = 0
        self.store = open_store(self.settings) if args.record else None
        self.http: Any = None
        self.version: DialplanVersion | None = None
        self.api_base = ""

    async def open(self, stack: contextlib.AsyncExitStack) -> None:
        """The speech service, and with a dialplan its understanding, the demo API and a client."""
        if self.store is not None:
            stack.callback(self.store.close)
        self.services = await stack.enter_async_context(speech_services(self.settings))
        if self.store is not None:  # the radar version an admin approved judges these calls too
            self.services.radar_live = LiveRadar(self.store.radar, RadarModel.load())
        if self.dialplan is None:
            return
        self.api_base = stack.enter_context(BackgroundServer(create_app())).base_url
        self.http = await stack.enter_async_context(httpx.AsyncClient())
        live = LiveKnowledge(self.store.kb, self.services.embedder) if self.store is not None else None
        understanding = await asyncio.to_thread(
            Understanding.build, self.dialplan, self.services.embedder, live
        )
        self.version = DialplanVersion(self.dialplan, understanding)

    def out(self, line: str) -> None:
        if self.progress is not None:
            self.progress.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def emit(self, event: Event) -> None:
        self.out(event.to_json() if self.args.json else format_event(event))

    def app(self, number: str) -> Any:
        if self.version is None:
            return None
        return dialplan_app(
            self.version, caller_entry(self.settings, number, self.store), self.args.at, self.api_base
        )

    def session(self, label: str, job: Any, record: Any) -> tuple[Any, Any]:
        """The call's session and its dialplan runner (None: no dialplan)."""
        args = self.args
        if isinstance(job, CallerScript):
            app = self.app(args.caller or job.caller)
            session = script_session(
                job, self.services, self.settings, record, app, self.http,
                caller=args.caller or "", deterministic=not args.realtime,
            )  # fmt: skip
            return session, app
        transport = ReplayTransport.from_file(
            job, channel=args.channel, dtmf=self.dtmf, realtime=args.realtime, caller=args.caller or ""
        )
        app = self.app(transport.caller)
        session = build_call(
            transport, self.services, self.settings, record, app=app,
            deterministic=not args.realtime, source=label, http=self.http,
        )  # fmt: skip
        return session, app

    async def one(self, label: str, job: Any) -> None:
        record = _record(label, job, self.store, self.dialplan, self.emit, self.out_audio, self.several)
        try:
            session, app = self.session(label, job, record)
        except AudioError as e:
            fail(str(e))
            self.failures += 1
        else:
            await self._run(label, session, app, record)
        if self.progress is not None:
            self.progress.update(1)

    async def _run(self, label: str, session: Any, app: Any, record: Any) -> None:
        transport = session.transport
        if app is not None:
            record.caller = dict(getattr(app, "caller", {}) or {})
        if not self.args.json:
            self.out(f"== {label} ({transport.sample_rate} Hz)")
        await session.run()
        if self.store is not None:
            await asyncio.to_thread(self.store.writer.flush)
            print(f"recorded as {record.call_id} ({record.outcome})", file=sys.stderr)
        if self.out_audio:
            target = self.out_audio / f"{Path(label).stem}.ivr.wav" if self.several else self.out_audio
            try:
                transport.write_output(target)
            except (OSError, RuntimeError) as e:
                fail(f"{target}: cannot write audio ({e})")
                self.failures += 1


def _screen(store: Any, settings: Any) -> None:
    try:
        config = load_qa_config(settings.qa_config)
    except QaConfigError as e:
        fail(f"QA not run: {e}")
        return
    results = Screener(store, config).screen_pending()
    for r in results:
        names = ", ".join(f["name"] for f in r["flags"]) or "no flags"
        print(f"QA {r['call_id']}: risk {r['score']:.2f} ({names})", file=sys.stderr)
    if results:
        print(f"QA: {len(store.qa.queue())} call(s) in the review queue (ivr qa queue)", file=sys.stderr)


def _record(
    label: str, job: Any, store: Any, dialplan: Any, emit: Any, out_audio: Path | None, several: bool
) -> Any:
    """The replayed call's sink: masked events printed, and kept in the store with --record
    (under an id of its own: the same file replayed twice is two calls)."""
    import uuid

    stem = Path(label).stem
    recording: Path | None = None
    if out_audio is not None:
        recording = out_audio / f"{stem}.ivr.wav" if several else out_audio
    elif isinstance(job, Path):
        recording = job
    return call_record(
        f"replay-{stem}-{uuid.uuid4().hex[:8]}" if store is not None else stem,
        store.writer if store is not None else None,
        dialplan,
        source=f"replay:{label}",
        recording=recording,
        out=emit,
    )
