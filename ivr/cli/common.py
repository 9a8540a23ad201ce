"""What the `ivr` sub-commands share: usage errors, settings from the flags, inputs,
the dialplan and caller plumbing of replay and chat, and the speech service's client."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

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


# -- dialplan plumbing shared by replay and chat ----------------------------------------
def open_store(settings: Any):
    """The store of IVR_STORE_URL (default: the SQLite file in the data dir), migrated."""
    from ivr.records import Store, StoreError

    try:
        return Store(settings.store)
    except StoreError as e:
        raise UsageError(str(e)) from None


def caller_entry(settings: Any, number: str | None, store: Any = None) -> dict[str, Any]:
    if not number:
        return {}
    from ivr.records import normalize_number

    own = store is None
    if own:
        store = open_store(settings)
    try:
        entry = store.directory.caller(number)
    finally:
        if own:
            store.close()
    return entry or {"number": normalize_number(number), "known": False}


def load_dialplan(path: str):
    from ivr.dialplan import DialplanError, load_dialplan

    try:
        return load_dialplan(path)
    except DialplanError as e:
        raise UsageError(f"{path}: the dialplan has errors (run `ivr validate {path}`):\n{e}") from None


@contextlib.asynccontextmanager
async def speech_services(settings: Any) -> Any:
    """The speech service's client (one started in this process unless IVR_SPEECH names
    one); a model that cannot be loaded, or a service that does not answer, is a usage error."""
    from ivr.call.services import open_services
    from speech.asr import AsrError
    from speech.embed import IntentModelError
    from speech.service.client import SpeechUnavailable
    from speech.tts import TtsError

    async with contextlib.AsyncExitStack() as stack:
        try:
            opened = await stack.enter_async_context(open_services(settings))
        except (AsrError, TtsError, IntentModelError, SpeechUnavailable) as e:
            raise UsageError(str(e)) from None
        yield opened
