"""The models and the worker pool one process shares between all its calls."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.settings import Settings
from speech.asr import WhisperRunner
from speech.pool import ModelPool
from speech.slots import CoreSlots
from speech.tts import PiperTts


@dataclass
class Engines:
    asr: WhisperRunner
    tts: PiperTts
    pool: ModelPool
    """Whisper decodes (finals before partials)."""
    voice: ModelPool | None = None
    """Piper synthesis, in a lane of its own so a long answer being synthesised never holds
    up another caller's final transcript (None: synthesis shares `pool`)."""

    @classmethod
    def load(cls, settings: Settings) -> Engines:
        slots = CoreSlots(settings.core_slots) if settings.core_slots else None
        return cls(
            asr=WhisperRunner(settings.asr),
            tts=PiperTts(settings.tts),
            pool=ModelPool(settings.asr.workers, name="model", slots=slots),
            voice=ModelPool(1, name="voice", slots=slots),
        )

    @property
    def voice_pool(self) -> ModelPool:
        return self.voice or self.pool

    _embedder: object = None

    @property
    def embedder(self):  # type: ignore[no-untyped-def]
        """The sentence-embedding model, loaded on first use (dialplans need it)."""
        if self._embedder is None:
            from ivr.intents import Embedder

            self._embedder = Embedder()
        return self._embedder

    _radar_model: object = None

    @property
    def radar_model(self):  # type: ignore[no-untyped-def]
        """The emotion radar's coefficients (models/radar.json), loaded on first use."""
        if self._radar_model is None:
            from prosody.radar import RadarModel

            self._radar_model = RadarModel.load()
        return self._radar_model

    def close(self) -> None:
        self.pool.close()
        if self.voice is not None:
            self.voice.close()
