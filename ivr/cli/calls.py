"""`ivr chat` and `ivr replay`: one-shot calls through the same session and speech client
a live call uses."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

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
from ivr.replay import ReplayTransport, parse_dtmf_script
from ivr.script import ScriptError, load_script, script_session
from speech.audio import AudioError


# -- chat --------------------------------------------------------------------------------
async def cmd_chat(args: argparse.Namespace) -> int:
    import httpx

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
    if not args.paths and not args.script:
        raise UsageError("replay needs audio files or folders, or --script TURNS.yaml")
    if args.script and not args.dialplan:
        raise UsageError("--script drives a dialplan: add --dialplan FILE")
    try:
        dtmf = parse_dtmf_script(args.dtmf)
    except ValueError as e:
        raise UsageError(str(e)) from None
    inputs = expand_inputs(args.paths)
    settings = settings_from(args)
    script = None
    if args.script:
        try:
            script = load_script(args.script)
        except ScriptError as e:
            raise UsageError(str(e)) from None
    dialplan = load_dialplan(args.dialplan) if args.dialplan else None
    out_audio = Path(args.out_audio) if args.out_audio else None
    several = len(inputs) + (1 if script else 0) > 1
    if out_audio and several:
        out_audio.mkdir(parents=True, exist_ok=True)

    progress = None
    if not args.json and several and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(inputs) + (1 if script else 0), unit="call", file=sys.stderr)

    def out(line: str) -> None:
        if progress is not None:
            progress.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def emit(event: Event) -> None:
        out(event.to_json() if args.json else format_event(event))

    failures = 0
    store = open_store(settings) if args.record else None
    async with contextlib.AsyncExitStack() as stack:
        if store is not None:
            stack.callback(store.close)
        services = await stack.enter_async_context(speech_services(settings))
        app_factory = None
        http = None
        if dialplan is not None:
            import httpx

            api = stack.enter_context(BackgroundServer(create_app()))
            http = await stack.enter_async_context(httpx.AsyncClient())
            live = None
            if store is not None:
                live = LiveKnowledge(store.kb, services.embedder)
            understanding = await asyncio.to_thread(Understanding.build, dialplan, services.embedder, live)
            version = DialplanVersion(dialplan, understanding)

            def app_factory(number: str):
                return dialplan_app(version, caller_entry(settings, number, store), args.at, api.base_url)

        jobs: list[tuple[str, Any]] = [(str(p), p) for p in inputs]
        if script is not None:
            jobs.append((str(script.path), script))
        try:
            for label, job in jobs:
                app = None
                record = _record(label, job, store, dialplan, emit, out_audio, several)
                try:
                    if job is script:
                        app = app_factory(args.caller or script.caller)
                        session = script_session(
                            script,
                            services,
                            settings,
                            record,
                            app,
                            http,
                            caller=args.caller or "",
                            deterministic=not args.realtime,
                        )
                        transport = session.transport
                    else:
                        transport = ReplayTransport.from_file(
                            job,
                            channel=args.channel,
                            dtmf=dtmf,
                            realtime=args.realtime,
                            caller=args.caller or "",
                        )
                        app = app_factory(transport.caller) if dialplan is not None else None
                        session = build_call(
                            transport,
                            services,
                            settings,
                            record,
                            app=app,
                            deterministic=not args.realtime,
                            source=label,
                            http=http,
                        )
                except AudioError as e:
                    fail(str(e))
                    failures += 1
                    if progress is not None:
                        progress.update(1)
                    continue
                if app is not None:
                    record.caller = dict(getattr(app, "caller", {}) or {})
                if not args.json:
                    out(f"== {label} ({transport.sample_rate} Hz)")
                await session.run()
                if store is not None:
                    await asyncio.to_thread(store.writer.flush)
                    print(f"recorded as {record.call_id} ({record.outcome})", file=sys.stderr)
                if out_audio:
                    target = out_audio / f"{Path(label).stem}.ivr.wav" if several else out_audio
                    try:
                        transport.write_output(target)
                    except (OSError, RuntimeError) as e:
                        fail(f"{target}: cannot write audio ({e})")
                        failures += 1
                if progress is not None:
                    progress.update(1)
            if store is not None:  # the replayed calls get their QA, as `ivr serve` gives a live one
                await asyncio.to_thread(_screen, store, settings)
        finally:
            if progress is not None:
                progress.close()
    return 2 if failures else 0


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
