"""The speech service's settings and its loaded models (whisper twice, piper, MiniLM)."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from speech.asr import AsrSettings, WhisperRunner
from speech.embed import Embedder
from speech.tts import PiperTts, TtsSettings

log = logging.getLogger("speech.service")

BACKGROUND_NICE = 19


def _lower_this_thread(nice: int) -> None:
    """Lower the calling thread's CPU priority (threads it creates inherit it)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):  # not Linux, or not allowed: partials just share
        log.warning("cannot lower the partial lane's CPU priority")


def _in_background_thread(fn: Any) -> Any:
    """Run `fn` in a thread at the background priority; its result (CTranslate2 starts its
    worker threads when a model loads, so they inherit that priority)."""
    out: dict[str, Any] = {}

    def run() -> None:
        _lower_this_thread(BACKGROUND_NICE)
        try:
            out["value"] = fn()
        except BaseException as e:
            out["error"] = e

    t = threading.Thread(target=run, name="speech-background-load")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """The speech service's settings."""

    asr: AsrSettings = field(default_factory=AsrSettings)
    """Whisper model and decoding (its `cpu_threads` is per lane)."""
    tts: TtsSettings = field(default_factory=TtsSettings)
    """Piper voice and cache."""
    embedder_path: str = ""
    """An all-MiniLM-style ONNX model; empty = the bundled int8 one."""
    lanes: int = 0
    """Model jobs that run at once; 0 = one per core."""
    max_batch: int = 4
    """Transcriptions decoded together at most (batch 4: ~1.8x the decodes a second of
    batch 1 on this box; 6 and 8 gained nothing more and each waits longer)."""
    partial_stale_ms: int = 400
    """A partial that waited longer than this is dropped (a newer one is on its way)."""

    def resolved_lanes(self) -> int:
        return self.lanes or max(1, os.cpu_count() or 1)


class Models:
    """The loaded models (whisper, piper, the sentence embedder)."""

    def __init__(self, settings: ServiceSettings) -> None:
        lanes = settings.resolved_lanes()
        finals = settings.asr.finals_settings()
        self.asr = WhisperRunner(replace(finals, workers=lanes))
        """The finals' model (`AsrSettings.final_model`; by default the partials' own)."""
        self.asr_partials = _in_background_thread(lambda: WhisperRunner(replace(settings.asr, workers=1)))
        """A second tiny.en (~75 MB) for partials, its threads at the lowest CPU priority."""
        self.finals_take_prefix = finals.model_path == settings.asr.model_path
        """A final may continue the partials' committed tokens only when one model made both."""
        self.tts = PiperTts(settings.tts)
        self.embedder = Embedder(settings.embedder_path or None)
        self.names = {
            "asr": Path(settings.asr.resolved_model_path()).name,
            "asr_finals": Path(finals.resolved_model_path()).name,
            "tts": Path(settings.tts.resolved_voice_path()).name,
        }
