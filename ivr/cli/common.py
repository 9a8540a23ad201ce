"""What every `ivr` sub-command shares: usage errors, settings from the flags, input paths
(light: the parser and `ivr speech` import it; the store and models are in `context.py`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ivr.settings import Settings, SettingsError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".au", ".aiff", ".aif"}


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


def fail(message: str) -> None:
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


def settings_from(args: argparse.Namespace):
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


# -- dialplan plumbing shared by replay and chat ----------------------------------------


def when(value: str, flag: str = "--since") -> float:
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{flag} {value!r}: use an ISO date or time, e.g. 2026-12-01 or 2026-12-01T09:30"
        ) from None
    return (t if t.tzinfo else t.astimezone()).timestamp()
