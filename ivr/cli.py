"""The `ivr` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="A voice call-center IVR.")
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser(
        "replay",
        help="replay recorded calls through the IVR and print what it heard and said",
        description="Replay recorded calls (files or folders) through the same pipeline a live call uses.",
    )
    rp.add_argument("paths", nargs="+", help="audio files (WAV, FLAC, ...) or folders of them")
    rp.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    rp.add_argument(
        "--out-audio",
        metavar="PATH",
        help="write what the IVR said as a WAV (a folder when replaying several files)",
    )
    rp.add_argument("--dtmf", default="", metavar="SPEC", help="scripted digits, e.g. 3.2:1,5.0:#")
    rp.add_argument("--realtime", action="store_true", help="pace the audio on the wall clock")
    rp.add_argument(
        "--channel",
        type=parse_channel,
        default=0,
        help="channel of a stereo file: left (default), right, N",
    )
    rp.add_argument("--greeting", default=None, help="what the IVR says first ('' for nothing)")
    rp.add_argument(
        "--asr-model", default=None, help="a faster-whisper model folder (default: bundled tiny.en)"
    )
    rp.add_argument("--voice", default=None, help="a piper .onnx voice (default: bundled en_US-joe-medium)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "replay":
            return asyncio.run(_replay(args))
    except UsageError as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


async def _replay(args: argparse.Namespace) -> int:
    from ivr.engines import Engines
    from ivr.events import Event, format_event
    from ivr.replay import ReplayTransport, parse_dtmf_script
    from ivr.session import CallSession
    from ivr.settings import Settings
    from speech.asr import AsrError
    from speech.audio import AudioError
    from speech.tts import TtsError

    try:
        dtmf = parse_dtmf_script(args.dtmf)
    except ValueError as e:
        raise UsageError(str(e)) from None
    inputs = expand_inputs(args.paths)
    settings = Settings.from_env()
    if args.asr_model:
        settings = replace(settings, asr=replace(settings.asr, model_path=args.asr_model))
    if args.voice:
        settings = replace(settings, tts=replace(settings.tts, voice_path=args.voice))
    if args.greeting is not None:
        settings = replace(settings, greeting=args.greeting)
    out_audio = Path(args.out_audio) if args.out_audio else None
    several = len(inputs) > 1
    if out_audio and several:
        out_audio.mkdir(parents=True, exist_ok=True)

    try:
        engines = Engines.load(settings)
    except (AsrError, TtsError) as e:
        raise UsageError(str(e)) from None

    progress = None
    if not args.json and several and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(inputs), unit="call", file=sys.stderr)

    def out(line: str) -> None:
        if progress is not None:
            progress.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def emit(event: Event) -> None:
        out(event.to_json() if args.json else format_event(event))

    failures = 0
    try:
        for path in inputs:
            try:
                transport = ReplayTransport.from_file(
                    path, channel=args.channel, dtmf=dtmf, realtime=args.realtime
                )
            except AudioError as e:
                _fail(str(e))
                failures += 1
                if progress is not None:
                    progress.update(1)
                continue
            if not args.json:
                out(f"== {path} ({transport.sample_rate} Hz)")
            session = CallSession(
                transport,
                engines,
                settings,
                emit,
                deterministic=not args.realtime,
                source=str(path),
            )
            await session.run()
            if out_audio:
                target = out_audio / f"{path.stem}.ivr.wav" if several else out_audio
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
        engines.close()
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main(os.sys.argv[1:]))
