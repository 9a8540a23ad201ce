"""An in-process speech service for one-shot commands (`ivr replay`, `ivr chat`, tests).

The same `SpeechService` and the same socket protocol as `ivr speech`, on a private Unix
socket, with its own event loop on a background thread: a replay exercises exactly the
path a live call takes, only without a second process to start.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path

from speech.service.models import Models, ServiceSettings
from speech.service.protocol import Address
from speech.service.server import SpeechService


class LocalService:
    def __init__(self, settings: ServiceSettings | None = None, models: Models | None = None) -> None:
        self.settings = settings or ServiceSettings()
        self._models = models
        self._dir = Path(tempfile.mkdtemp(prefix="ivr-speech-"))
        self.address = Address(path=str(self._dir / "speech.sock"))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="speech-service", daemon=True)
        self.service: SpeechService | None = None

    def start(self) -> LocalService:
        """Load the models (in this thread, so a bad model path raises here) and listen."""
        self.service = SpeechService(self.settings, self._models)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(self.address), self._loop).result(30)
        return self

    def stop(self) -> None:
        if self.service is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.service.close(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
