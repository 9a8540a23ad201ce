"""The `ivr` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".au", ".aiff", ".aif"}


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


def _fail(message: str) -> None:
    print(f"ivr: error: {message}", file=sys.stderr)


def expand_inputs(paths: Sequence[str]) -> list[Path]:
    """Files as given; folders become the audio files below them, sorted."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise UsageError(f"{p}: folder holds no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            out.extend(found)
        else:
            out.append(p)
    return out


def parse_channel(value: str) -> int:
    names = {"left": 0, "right": 1}
    if value.lower() in names:
        return names[value.lower()]
    try:
        channel = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: use left, right or a channel number") from None
    if channel < 0:
        raise argparse.ArgumentTypeError("channel numbers start at 0")
    return channel


def parse_when(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: use ISO time, e.g. 2026-11-24T10:30") from None
    return when if when.tzinfo else when.astimezone()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="A voice call-center IVR.")
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser(
        "replay",
        help="replay recorded calls through the IVR and print what it heard and said",
        description="Replay recorded calls (files or folders), or a caller script, through the "
        "same pipeline a live call uses.",
    )
    rp.add_argument("paths", nargs="*", help="audio files (WAV, FLAC, ...) or folders of them")
    rp.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    rp.add_argument(
        "--out-audio", metavar="PATH", help="write what the IVR said as a WAV (a folder for several files)"
    )
    rp.add_argument("--dtmf", default="", metavar="SPEC", help="scripted digits, e.g. 3.2:1,5.0:#")
    rp.add_argument("--realtime", action="store_true", help="pace the audio on the wall clock")
    rp.add_argument(
        "--channel", type=parse_channel, default=0, help="channel of a stereo file: left (default), right, N"
    )
    rp.add_argument(
        "--greeting", default=None, help="without a dialplan: what the IVR says first ('' for nothing)"
    )
    rp.add_argument("--dialplan", metavar="FILE", help="run this dialplan in the call")
    rp.add_argument("--caller", metavar="NUMBER", help="the caller's number (looked up in the directory)")
    rp.add_argument(
        "--script", metavar="TURNS.yaml", help="a scripted caller: turns spoken when the IVR waits"
    )
    rp.add_argument(
        "--at", type=parse_when, metavar="ISO_TIME", help="the call's local time (business hours)"
    )
    rp.add_argument("--data-dir", metavar="DIR", help="where the store lives (default: data)")
    rp.add_argument(
        "--asr-model", default=None, help="a faster-whisper model folder (default: bundled tiny.en)"
    )
    rp.add_argument("--voice", default=None, help="a piper .onnx voice (default: bundled en_US-joe-medium)")

    vp = sub.add_parser("validate", help="check dialplans; errors as file:line:col: message")
    vp.add_argument("files", nargs="+")

    sub.add_parser("schema", help="print the dialplan JSON Schema (for editors)")

    cp = sub.add_parser("chat", help="try a dialplan by typing as the caller")
    cp.add_argument("file")
    cp.add_argument("--caller", metavar="NUMBER")
    cp.add_argument("--at", type=parse_when, metavar="ISO_TIME")
    cp.add_argument("--data-dir", metavar="DIR")

    dp = sub.add_parser("directory", help="the caller directory (number -> name, account, tier)")
    dsub = dp.add_subparsers(dest="action", required=True)
    di = dsub.add_parser("import", help="import callers from CSV (number,name,account,tier) or YAML")
    di.add_argument("file")
    di.add_argument("--data-dir", metavar="DIR")
    dl = dsub.add_parser("show", help="show one caller")
    dl.add_argument("number")
    dl.add_argument("--data-dir", metavar="DIR")

    sp = sub.add_parser(
        "serve", help="run the hotline: Kamailio + SIP workers, the API and demo billing backend, hot reload"
    )
    sp.add_argument("--dialplan", metavar="FILE")
    sp.add_argument("--host", help="API address (default 127.0.0.1)")
    sp.add_argument("--port", type=int, help="API port (default 8080)")
    sp.add_argument("--data-dir", metavar="DIR")
    sp.add_argument("--sip-port", type=int, help="the hotline's SIP port (Kamailio; default 5060)")
    sp.add_argument("--sip-workers", type=int, help="worker processes of 4 calls each (0: no SIP; default: sized to the machine)")
    sp.add_argument("--rtp-port", type=int, help="first RTP port of the workers (default 40000)")

    ra = sub.add_parser("radar", help="score recordings for anger and anxiety relative to the caller's voice")
    ra.add_argument("files", nargs="+", help="recordings of the caller (each is one utterance)")
    ra.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="FILE",
        help="a recording of the same caller's normal voice (repeatable)",
    )
    ra.add_argument("--json", action="store_true", help="one JSON object per file")

    wk = sub.add_parser("worker", help="one SIP worker process (ivr serve runs several behind Kamailio)")
    wk.add_argument("--sip-port", type=int, default=5070)
    wk.add_argument("--rtp-port", type=int, default=40000)
    wk.add_argument("--host", default="127.0.0.1")
    wk.add_argument("--dialplan", metavar="FILE")
    wk.add_argument("--api-base", default="", help="where lookups go (default: the API of ivr serve)")
    wk.add_argument("--data-dir", metavar="DIR")
    wk.add_argument("--sip-log", type=int, default=0, help="pjsip log level (0-5)")

    sv = sub.add_parser(
        "speech", help="the speech service: the machine's models, served to the workers over a socket"
    )
    sv.add_argument(
        "--listen", required=True, metavar="PATH|HOST:PORT", help="a Unix socket path, or HOST:PORT for TCP"
    )
    sv.add_argument("--asr-model", default=None, help="a faster-whisper model folder (default: bundled tiny.en)")
    sv.add_argument("--voice", default=None, help="a piper .onnx voice (default: bundled en_US-joe-medium)")

    rl = sub.add_parser("reload", help="ask a running `ivr serve` to reload its dialplan")
    rl.add_argument("--url", default="http://127.0.0.1:8080", help="the service's API address")
    return parser


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ivr.settings import Settings, SettingsError

    try:
        s = Settings.from_env()
    except SettingsError as e:
        raise UsageError(str(e)) from None
    if getattr(args, "data_dir", None):
        s = replace(s, data_dir=args.data_dir)
    if getattr(args, "asr_model", None):
        s = replace(s, asr=replace(s.asr, model_path=args.asr_model))
    if getattr(args, "voice", None):
        s = replace(s, tts=replace(s.tts, voice_path=args.voice))
    if getattr(args, "greeting", None) is not None:
        s = replace(s, greeting=args.greeting)
    return s


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "replay":
            return asyncio.run(_replay(args))
        if args.command == "validate":
            return _validate(args)
        if args.command == "schema":
            from ivr.dialplan.spec import json_schema

            print(json.dumps(json_schema(), indent=2))
            return 0
        if args.command == "chat":
            return asyncio.run(_chat(args))
        if args.command == "directory":
            return _directory(args)
        if args.command == "serve":
            from ivr.telephony.supervisor import serve

            return serve(_settings(args), args)
        if args.command == "reload":
            return _reload(args)
        if args.command == "radar":
            return _radar(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "speech":
            return _speech(args)
    except UsageError as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


# -- validate / directory / reload -----------------------------------------------------
def _validate(args: argparse.Namespace) -> int:
    from ivr.dialplan import check_dialplan

    errors = 0
    for f in args.files:
        dialplan, issues = check_dialplan(f)
        for issue in issues:
            print(issue)
        errors += sum(1 for i in issues if i.severity == "error")
        if dialplan is not None:
            warn = len(dialplan.warnings)
            print(
                f"{f}: ok ({len(dialplan.nodes)} nodes, {len(dialplan.intents)} intents"
                + (f", {warn} warning(s)" if warn else "")
                + ")",
                file=sys.stderr,
            )
    return 1 if errors else 0


def _directory(args: argparse.Namespace) -> int:
    from ivr.store import DirectoryError, Store, read_directory

    store = Store(_settings(args).store_path)
    try:
        if args.action == "import":
            try:
                rows = read_directory(args.file)
            except DirectoryError as e:
                raise UsageError(str(e)) from None
            n = store.upsert_callers(rows)
            print(f"imported {n} caller(s) into {store.path} ({store.count_callers()} in the directory)")
            return 0
        entry = store.caller(args.number)
        if entry is None:
            print(f"{args.number}: not in the directory", file=sys.stderr)
            return 1
        print(json.dumps(entry))
        return 0
    finally:
        store.close()


def _reload(args: argparse.Namespace) -> int:
    import httpx

    try:
        r = httpx.post(f"{args.url.rstrip('/')}/api/dialplan/reload", timeout=30)
    except httpx.HTTPError as e:
        raise UsageError(f"cannot reach the service at {args.url}: {e}") from None
    try:
        body = r.json()
    except ValueError:
        raise UsageError(f"{args.url} answered HTTP {r.status_code}, not as an ivr service") from None
    if r.status_code == 200:
        state = "reloaded" if body.get("changed") else "unchanged"
        print(f"{body.get('file')}: {state} (version {body.get('version')!r}, {body.get('digest')})")
        return 0
    for line in body.get("errors") or [body.get("detail", "refused")]:
        print(line, file=sys.stderr)
    print("refused: the running dialplan stays", file=sys.stderr)
    return 1


def _worker(args: argparse.Namespace) -> int:
    import logging

    from ivr.telephony.endpoint import SipSettings
    from ivr.telephony.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(args)
    sip = SipSettings(
        host=args.host, port=args.sip_port, rtp_port=args.rtp_port, rtp_ports=200, log_level=args.sip_log
    )
    api_base = args.api_base or f"http://{settings.api_host}:{settings.api_port}"
    return asyncio.run(run_worker(settings, sip, args.dialplan or settings.dialplan, api_base))


def _speech(args: argparse.Namespace) -> int:
    import logging

    from ivr.call.services import service_settings
    from speech.asr import AsrError
    from speech.embed import IntentModelError
    from speech.service.protocol import Address
    from speech.service.server import run_service
    from speech.tts import TtsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(args)
    try:
        address = Address.parse(args.listen)
    except ValueError as e:
        raise UsageError(f"--listen {e}") from None
    try:
        run_service(service_settings(settings), address)
    except (AsrError, TtsError, IntentModelError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot listen on {address}: {e.strerror or e}") from None
    return 0


def _radar(args: argparse.Namespace) -> int:
    """Each FILE is scored on its own radar, after the --baseline recordings."""
    from prosody.radar import Radar, RadarModel
    from speech.audio import AudioError, decode_file

    model = RadarModel.load()
    baselines = []
    for b in args.baseline:
        try:
            baselines.append(decode_file(b))
        except AudioError as e:
            raise UsageError(f"--baseline {e}") from None
    failures = 0
    for f in args.files:
        try:
            samples, rate = decode_file(f)
        except AudioError as e:
            _fail(str(e))
            failures += 1
            continue
        radar = Radar(model)
        for b_samples, b_rate in baselines:
            if not radar.learn_baseline(b_samples, b_rate):
                _fail("a --baseline recording has too little voice to learn from")
        update = radar.update(samples, rate)
        if update is None:
            _fail(f"{f}: too little voice to judge")
            failures += 1
            continue
        row = {
            "file": f,
            "anger": update.anger,
            "anxiety": update.anxiety,
            "level": update.level,
            "escalate": update.level == "escalate",
        }
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{f}: anger {update.anger:.2f}, anxiety {update.anxiety:.2f}, level {update.level}"
                + (" -> ESCALATE" if row["escalate"] else "")
            )
    return 2 if failures else 0


# -- dialplan plumbing shared by replay and chat ----------------------------------------
def _caller_entry(settings: Any, number: str | None) -> dict[str, Any]:
    if not number:
        return {}
    from ivr.store import Store, normalize_number

    path = Path(settings.store_path)
    if path.exists():
        store = Store(path)
        try:
            entry = store.caller(number)
        finally:
            store.close()
        if entry:
            return entry
    return {"number": normalize_number(number), "known": False}


def _load_dialplan(path: str):  # type: ignore[no-untyped-def]
    from ivr.dialplan import DialplanError, load_dialplan

    try:
        return load_dialplan(path)
    except DialplanError as e:
        raise UsageError(f"{path}: the dialplan has errors (run `ivr validate {path}`):\n{e}") from None


# -- chat --------------------------------------------------------------------------------
async def _chat(args: argparse.Namespace) -> int:
    import httpx

    from ivr.api import BackgroundServer, create_app
    from ivr.chat import HELP, ChatConversation, stdin_reader
    from ivr.dialplan.runner import DialplanRunner, Understanding

    settings = _settings(args)
    dialplan = _load_dialplan(args.file)
    caller = _caller_entry(settings, args.caller)
    interactive = sys.stdin.isatty()
    with BackgroundServer(create_app()) as api:
        async with _services(settings) as services, httpx.AsyncClient() as client:
            understanding = await asyncio.to_thread(Understanding.build, dialplan, services.embedder)
            print(f"{dialplan.name} ({args.file}). {HELP}")
            conv = ChatConversation(
                stdin_reader("you> " if interactive else ""),
                lambda line: print(line, flush=True),
                caller=caller.get("number", ""),
                http=client,
            )
            runner = DialplanRunner(dialplan, understanding, caller, args.at, {"api_base": api.base_url})
            conv.vars_view = lambda: runner.state.vars
            await runner(conv)
    return 0


# -- replay ------------------------------------------------------------------------------
async def _replay(args: argparse.Namespace) -> int:
    from ivr.call.session import CallSession
    from ivr.events import Event, format_event
    from ivr.replay import ReplayTransport, parse_dtmf_script
    from speech.audio import AudioError

    if not args.paths and not args.script:
        raise UsageError("replay needs audio files or folders, or --script TURNS.yaml")
    if args.script and not args.dialplan:
        raise UsageError("--script drives a dialplan: add --dialplan FILE")
    try:
        dtmf = parse_dtmf_script(args.dtmf)
    except ValueError as e:
        raise UsageError(str(e)) from None
    inputs = expand_inputs(args.paths)
    settings = _settings(args)
    script = None
    if args.script:
        from ivr.script import ScriptError, load_script

        try:
            script = load_script(args.script)
        except ScriptError as e:
            raise UsageError(str(e)) from None
    dialplan = _load_dialplan(args.dialplan) if args.dialplan else None
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
    async with contextlib.AsyncExitStack() as stack:
        services = await stack.enter_async_context(_services(settings))
        app_factory = None
        http = None
        if dialplan is not None:
            import httpx

            from ivr.api import BackgroundServer, create_app
            from ivr.dialplan.runner import DialplanRunner, Understanding

            api = stack.enter_context(BackgroundServer(create_app()))
            http = await stack.enter_async_context(httpx.AsyncClient())
            understanding = await asyncio.to_thread(Understanding.build, dialplan, services.embedder)

            def app_factory(number: str):  # type: ignore[no-untyped-def]
                caller = _caller_entry(settings, number)
                return DialplanRunner(dialplan, understanding, caller, args.at, {"api_base": api.base_url})

        jobs: list[tuple[str, Any]] = [(str(p), p) for p in inputs]
        if script is not None:
            jobs.append((str(script.path), script))
        try:
            for label, job in jobs:
                app = None
                try:
                    if job is script:
                        from ivr.script import script_session

                        app = app_factory(args.caller or script.caller)
                        session = script_session(
                            script,
                            services,
                            settings,
                            emit,
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
                        app = app_factory(transport.caller) if app_factory else None
                        session = CallSession(
                            transport,
                            services,
                            settings,
                            emit,
                            app=app,
                            deterministic=not args.realtime,
                            source=label,
                            http=http,
                        )
                except AudioError as e:
                    _fail(str(e))
                    failures += 1
                    if progress is not None:
                        progress.update(1)
                    continue
                if not args.json:
                    out(f"== {label} ({transport.sample_rate} Hz)")
                await session.run()
                if out_audio:
                    target = out_audio / f"{Path(label).stem}.ivr.wav" if several else out_audio
                    try:
                        transport.write_output(target)
                    except (OSError, RuntimeError) as e:
                        _fail(f"{target}: cannot write audio ({e})")
                        failures += 1
                if progress is not None:
                    progress.update(1)
        finally:
            if progress is not None:
                progress.close()
    return 2 if failures else 0


@contextlib.asynccontextmanager
async def _services(settings: Any) -> Any:
    """The speech service's client (one started in this process unless IVR_SPEECH names
    one); a model that cannot be loaded, or a service that does not answer, is a usage error."""
    from ivr.call.services import open_services
    from speech.asr import AsrError
    from speech.embed import IntentModelError
    from speech.service.client import SpeechUnavailable
    from speech.tts import TtsError

    try:
        cm = open_services(settings)
        services = await cm.__aenter__()
    except (AsrError, TtsError, IntentModelError, SpeechUnavailable) as e:
        raise UsageError(str(e)) from None
    try:
        yield services
    except BaseException as e:
        if not await cm.__aexit__(type(e), e, e.__traceback__):
            raise
    else:
        await cm.__aexit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
