"""The transcript policy of one growing utterance, without a model.

`LocalAgreement` commits the tokens that two successive hypotheses agree on (cut at a word
boundary). `UtteranceTranscriber` re-decodes the growing utterance for partials, passing the
committed tokens as the decoder prefix, so at end of speech only the tail remains to decode.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speech.asr import AsrSettings, Decoded, WhisperRunner
from speech.text import _trim_loop, drop_echoed_ending, is_loop


class LocalAgreement:
    """Commit the longest prefix two successive hypotheses share, cut at a word boundary.

    A hypothesis is a `Decoded`: its tokens and the indices where words begin. No I/O:
    feed hypotheses, read `committed` (tokens) and `committed_text`.
    """

    def __init__(self) -> None:
        self.committed: tuple[int, ...] = ()
        self.committed_text = ""
        self._previous: Decoded | None = None

    def update(self, hypothesis: Decoded) -> tuple[int, ...]:
        """Take a full hypothesis (committed prefix included); return the new committed prefix."""
        hyp, prev = hypothesis, self._previous
        self._previous = hyp
        if prev is None:
            return self.committed
        h, p = hyp.tokens, prev.tokens
        h_starts, p_starts = hyp.word_starts, prev.word_starts
        n = 0
        limit = min(len(p), len(h))
        while n < limit and p[n] == h[n]:
            n += 1
        # step back to a boundary where both hypotheses begin a new word (or end)
        k = n
        while k > len(self.committed):
            next_ok_h = k == len(h) or k in h_starts
            next_ok_p = k == len(p) or k in p_starts
            if next_ok_h and next_ok_p and k < len(h):
                break
            k -= 1
        if k > len(self.committed):
            self.committed = h[:k]
            self.committed_text = hyp.text_before(k)
        return self.committed


class UtteranceTranscriber:
    """The transcript policy of one growing utterance, without a model: which prefix to
    decode with, and what to make of each decode (partial hypotheses while it grows, then
    the final). The decodes themselves are the speech service's."""

    def __init__(self, settings: AsrSettings | None = None) -> None:
        self._settings = settings or AsrSettings()
        self._agreement = LocalAgreement()
        self.last_partial = ""

    @property
    def committed_text(self) -> str:
        return self._agreement.committed_text

    @property
    def partial_prefix(self) -> tuple[int, ...]:
        return self._agreement.committed

    @property
    def final_prefix(self) -> tuple[int, ...]:
        return self._agreement.committed if self._settings.final_with_prefix else ()

    def is_loop(self, text: str) -> bool:
        return is_loop(text, self._settings.compression_ratio_threshold)

    def take_partial(self, decoded: Decoded, audio_ms: int) -> str:
        """A hypothesis for the audio so far (a looping decode is trimmed and not committed)."""
        if self.is_loop(decoded.text):
            return _trim_loop(decoded.text)  # shown, but not trusted for agreement
        if audio_ms >= self._settings.commit_after_ms:
            self._agreement.update(decoded)
        self.last_partial = drop_echoed_ending(decoded.text)
        return self.last_partial

    def take_final(self, decoded: Decoded, prefix: Sequence[int]) -> str | None:
        """The final text of a decode made with `prefix`; None when the prefix led astray
        (a loop) and the utterance should be decoded afresh."""
        if self.is_loop(decoded.text):
            return None if prefix else _trim_loop(decoded.text)
        return drop_echoed_ending(decoded.text)

    def final_with(self, runner: WhisperRunner, audio16k: np.ndarray) -> str:
        """The final decoded by a model in this process (benchmarks, tests)."""
        prefix = self.final_prefix
        text = self.take_final(runner.decode(audio16k, prefix), prefix)
        return text if text is not None else self.take_final(runner.decode(audio16k), ()) or ""


def transcribe_utterance(runner: WhisperRunner, audio16k: np.ndarray) -> str:
    """One utterance's final transcript with a model in this process."""
    return UtteranceTranscriber(runner.settings).final_with(runner, audio16k)
