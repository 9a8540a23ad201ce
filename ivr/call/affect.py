"""The emotion radar on each utterance of a call: the voice, the words of its final and what
the recogniser's encoder heard of it (pooled with the final) -> one affect event.

The event carries the model's version and the cues its heads read (`prosody.radar.Cues`:
numbers, never audio), so a call labelled later by an agent or a reviewer can refit the heads
(`ivr radar retrain`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from ivr.call.services import CallServices
from ivr.events import EventType, make
from ivr.nlu.intents import plain
from speech.audio import pcm16_to_float


class AffectJudge:
    def __init__(
        self,
        radar: Any,
        services: CallServices,
        call_id: str,
        sample_rate: int,
        emit: Callable[..., None],
        error: Callable[[Exception, str], None],
    ) -> None:
        self._radar = radar
        self._services = services
        self.call_id = call_id
        self.sample_rate = sample_rate
        self._emit = emit
        self._error = error

    @property
    def wants_pooled(self) -> bool:
        """Finals should come with the encoder's pooled states (the model has an encoder head)."""
        return self._radar is not None and getattr(self._radar.model, "encoder", None) is not None

    async def judge(self, pcm: bytes, t_ms: int, text: str | None, pooled: bytes = b"") -> None:
        """The radar's verdict on the utterance, voice and words (`text`, its final), just
        before the final is emitted (a few ms of CPU and one embedding, usually cached)."""
        radar = self._radar
        if radar is None:
            return
        words = await self._words(text) if text else None
        vector = np.frombuffer(pooled, dtype="<f2").astype(np.float64) if pooled else None
        try:
            update = radar.update(pcm16_to_float(pcm), self.sample_rate, words, vector)
        except Exception as e:  # the radar failing must not cost the call its transcript
            self._error(e, "radar")
            return
        if update is None:
            return
        extra: dict[str, Any] = {} if update.valence is None else {"valence": update.valence}
        cues = getattr(update, "cues", None)
        if cues is not None:
            extra["cues"] = cues.to_json()
        version = getattr(getattr(radar, "model", None), "version", 0)
        self._emit(
            make(
                self.call_id,
                t_ms,
                EventType.AFFECT,
                anger=update.anger,
                anxiety=update.anxiety,
                level=update.level,
                **extra,
                **({"model": version} if version else {}),
            )
        )

    async def _words(self, text: str) -> object | None:
        """What the words say (`prosody.words.Valence`), or None: the voice alone decides."""
        try:
            model = self._services.words_model
            if model is None:
                return None
            rows = await asyncio.to_thread(self._services.embedder.embed, [plain(text)])
            return model.valence(rows[0])
        except Exception as e:  # the service away, a bad model file: the voice still counts
            self._error(e, "radar")
            return None
