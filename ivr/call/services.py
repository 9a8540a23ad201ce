"""What every call of a process shares: the speech service's client and the radar's
coefficients. A worker holds no model of its own (the speech service has them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ivr.acd.desk import ConsoleRecords
from ivr.acd.transfers import Transfers
from ivr.console.handoff import ConsoleHandoff
from ivr.conversation import Handoff, TransferRequest
from ivr.telephony.handoff import PhoneHandoff
from prosody.radar import RadarModel
from prosody.words import WORDS_PATH, WordsModel
from speech.service.client import SpeechClient
from speech.service.embedder import BlockingEmbedder
from speech.service.local import LocalService
from speech.service.pool import Members, PoolEmbedder, Speech, SpeechPool
from speech.service.protocol import Address

APOLOGY = "Sorry, one moment please."
"""What a caller hears when the speech service is away (pre-synthesised: it plays without it)."""


@dataclass
class CallServices:
    speech: Speech
    _radar_model: Any = None
    queue: Handoff | None = None
    """The hand-over to a queue's agents (`ivr.acd.waiting.QueueHandoff`): a queue with no
    phone of its own waits there. None: such a queue goes to the console (a replay, a lone
    worker)."""
    phone: Handoff = field(default_factory=PhoneHandoff)
    """The hand-over to a queue's own phone (bridge or REFER)."""
    console: Handoff = field(default_factory=ConsoleHandoff)
    desk: ConsoleRecords | None = None
    """Where a supervisor's request to listen in is read (None: no monitoring)."""
    transfers: Transfers | None = None
    """Where an agent's request to hand their caller on is read (None: agents cannot)."""
    agent_uri: str = ""
    """How an agent or supervisor is dialled, `{name}` filled in (sip:{name}@the hotline)."""

    def handoff_for(self, request: TransferRequest) -> Handoff:
        if request.uri:
            return self.phone
        return self.queue if self.queue is not None else self.console

    @property
    def embedder(self) -> BlockingEmbedder | PoolEmbedder:
        """Sentence embeddings for intents and the knowledge base (blocking; use in threads)."""
        return self.speech.embedder

    _words_model: Any = None

    @property
    def words_model(self) -> Any:
        """What the words say, for the radar (models/words.json), loaded on first use; None
        when the file is absent or unreadable (the radar then hears the voice alone; said once
        in the log, not on every utterance)."""
        if self._words_model is None:
            try:
                self._words_model = WordsModel.load() if WORDS_PATH.exists() else False
            except (OSError, ValueError, KeyError, TypeError) as e:
                logging.getLogger("ivr.radar").error(
                    "%s: unreadable (%s): the radar hears the voice alone", WORDS_PATH, e
                )
                self._words_model = False
        return self._words_model or None

    radar_live: Any = None
    """The store's live radar version (`ivr.radar.live.LiveRadar`); None: the shipped model."""

    @property
    def radar_model(self) -> Any:
        """The emotion radar's coefficients: the live version an admin approved, else
        models/radar.json (loaded on first use)."""
        if self.radar_live is not None:
            return self.radar_live.current()
        if self._radar_model is None:
            self._radar_model = RadarModel.load()
        return self._radar_model


@contextlib.asynccontextmanager
async def open_services(
    settings: Any, rates: tuple[int, ...] = (8000, 16000), speech_members: Members | None = None
) -> AsyncIterator[CallServices]:
    """The services of a process: the speech service at `settings.speech` (several, comma-
    separated: a pool), the pool of `speech_members` (the store's speech hosts), or, when
    neither is given, one started in this process (the same service and protocol, for one-shot
    commands). The apology for a service outage is pinned at each of `rates`."""
    local = None
    client: Speech
    if speech_members is not None:
        client = SpeechPool(speech_members)
    elif "," in settings.speech:
        client = SpeechPool(
            [Address.parse(a, settings.speech_secret) for a in settings.speech.split(",") if a.strip()]
        )
    elif settings.speech:
        client = SpeechClient(Address.parse(settings.speech, settings.speech_secret))
    else:
        local = await asyncio.to_thread(LocalService(settings.speech_service()).start)
        client = SpeechClient(local.address)
    try:
        await client.connect(timeout_s=settings.speech_wait_s)
        for rate in rates:
            await client.pin(APOLOGY, rate)
        yield CallServices(client)
    finally:
        await client.close()
        if local is not None:
            await asyncio.to_thread(local.stop)
