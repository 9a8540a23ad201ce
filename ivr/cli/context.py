"""What the commands that open the store, load a dialplan or use the speech service share:
imported by those commands only (`ivr --help` and `ivr speech` do not load them)."""

from __future__ import annotations

import contextlib
from typing import Any

from ivr.call.services import open_services
from ivr.cli.common import UsageError
from ivr.dialplan import DialplanError
from ivr.dialplan import load_dialplan as read_dialplan
from ivr.records import Store, StoreError, normalize_number
from speech.asr import AsrError
from speech.embed import IntentModelError
from speech.service.replies import SpeechUnavailable
from speech.tts import TtsError


def open_store(settings: Any):
    """The store of IVR_STORE_URL (default: the SQLite file in the data dir), migrated."""

    try:
        return Store(settings.store)
    except StoreError as e:
        raise UsageError(str(e)) from None


def caller_entry(settings: Any, number: str | None, store: Any = None) -> dict[str, Any]:
    if not number:
        return {}

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
    """The dialplan at `path`, or a usage error that names its errors."""
    try:
        return read_dialplan(path)
    except DialplanError as e:
        raise UsageError(f"{path}: the dialplan has errors (run `ivr validate {path}`):\n{e}") from None


@contextlib.asynccontextmanager
async def speech_services(settings: Any) -> Any:
    """The speech service's client (one started in this process unless IVR_SPEECH names
    one); a model that cannot be loaded, or a service that does not answer, is a usage error."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            opened = await stack.enter_async_context(open_services(settings))
        except (AsrError, TtsError, IntentModelError, SpeechUnavailable) as e:
            raise UsageError(str(e)) from None
        yield opened
