"""What the recogniser is told the caller is about to say: the dialplan's hints, or digits
(decoded as the words said, with a number said the way callers say them as context)."""

from __future__ import annotations

from typing import Any

DIGITS_GO_ON_MS = 1500
"""An utterance starting this soon after one of digits is heard as digits too (the caller goes on
correcting them while the IVR has moved on: the turn joins the digits gather again)."""
DIGIT_HINTS = "My number is oh seven nine double one four six triple two oh five."
"""The decoder's context while the caller says digits: a number said the way callers say them
(with numerals suppressed, on bench/digits.py's dev numbers: 23 of 24 read right, against 15
with a list of the digit words and 8 with no context)."""


class Expecting:
    def __init__(self) -> None:
        self.hints = ""
        """Words the caller is likely to say (the dialplan's `asr_hints`), sent with each decode."""
        self.kind = ""
        """What the step listening expects: "digits" decodes numbers as the words said."""
        self.words: tuple[str, ...] = ()
        """The words the step's requests are said with: a final is rescored towards them."""
        self.digits_now = False  # this utterance is digits (expected, or going on from digits)
        self._digits_end_ms = -(10**9)  # when the last utterance of digits ended

    def utterance_starts(self, onset_ms: int) -> None:
        self.digits_now = self.kind == "digits" or onset_ms - self._digits_end_ms <= DIGITS_GO_ON_MS

    def utterance_ends(self, t_ms: int) -> None:
        if self.digits_now:
            self._digits_end_ms = t_ms

    def decode_options(self, final: bool = False) -> dict[str, Any]:
        """The transcription request's hints (and spelling) for the utterance now; a final's
        also carries the words expected (partials are not rescored)."""
        if self.digits_now or self.kind == "digits":  # "one zero zero ...", not whisper's "1000002"
            return {"hints": DIGIT_HINTS, "spelled": True}
        out: dict[str, Any] = {"hints": self.hints} if self.hints else {}
        if final and self.words:
            out["expect"] = self.words
        return out

    def echo_hints(self) -> str:
        """Hints whose echo is suspect: the dialplan's, or the digits context."""
        return DIGIT_HINTS if self.digits_now or self.kind == "digits" else self.hints
