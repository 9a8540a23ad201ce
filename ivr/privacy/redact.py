"""Card numbers out of everything stored: transcripts, events, logs.

A card number is 13-19 digits passing the Luhn check, written ("4111 1111 ..."), spoken
("four one one one ...", "double one"), keyed (DTMF), or split across turns ("4111 1111"
... "1111 1111"). Its digits but the last four become `*` (what a receipt shows).

Across events, a `Redactor` (one per call, sans-IO) holds back the events that follow a
caller's digit until the run of digits ends: a word that is not a digit or a filler, a `*`
or `#` key, `hold_ms` of audio with no digit, or the call's end. Then it knows which digits
formed a card and lets the held events go, masked, in their order. Runs of digits that are
no card (a menu key, an account number) come out as they were, a moment later.

Partial transcripts lose every digit (they are superseded, and a half-said card is still a
card); a gather marked `secure: true` keeps no digit at all (`Redactor.secure`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr.events import Event, EventType

MASK = "*"
MASKED_KEY = "X"  # a masked DTMF digit (not "*", which is a key)
SECURE_TEXT = "[secure input]"
MIN_CARD, MAX_CARD = 13, 19
KEEP_LAST = 4

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0",
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
REPEAT_WORDS = {"double": 2, "triple": 3}
FILLERS = {"and", "um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm", "then", "dash", "space", "hyphen"}
Span = tuple[int, int]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def find_cards(digits: str, starts: Sequence[bool] | None = None) -> set[int]:
    """Positions in `digits` to mask: every 13-19 digit window passing Luhn, but for its last
    four. With `starts` (True where a token begins: "4111" is one token, a spoken digit or a
    key is one each) a window begins and ends on tokens, so "4111 1111 1111 1112" is not
    taken for the 13-digit card hiding inside it."""
    masked: set[int] = set()
    n = len(digits)
    if n < MIN_CARD:
        return masked
    bound = [True] * (n + 1) if starts is None else [*starts, True]
    for start in range(n - MIN_CARD + 1):
        if not bound[start]:
            continue
        for length in range(MIN_CARD, min(MAX_CARD, n - start) + 1):
            if bound[start + length] and luhn_ok(digits[start : start + length]):
                masked.update(range(start, start + length - KEEP_LAST))
    return masked


Digit = tuple[str, Span, bool]  # the digit, the characters that said it, whether a token starts there
_TOKEN = re.compile(r"\d+|[A-Za-z']+")
_SPOKEN_DIGIT = re.compile(r"\b(" + "|".join([*DIGIT_WORDS, *REPEAT_WORDS]) + r")\b", re.IGNORECASE)


def scan(text: str) -> list[list[Digit]]:
    """The runs of digits in a text. A run is broken by a word that is neither a digit nor a
    filler; punctuation is transparent."""
    runs: list[list[Digit]] = [[]]
    repeat = 1
    repeat_start = -1
    for m in _TOKEN.finditer(text):
        tok = m.group().lower()
        if tok.isdigit():
            runs[-1].extend((ch, (m.start() + i, m.start() + i + 1), i == 0) for i, ch in enumerate(tok))
            repeat, repeat_start = 1, -1
        elif tok in DIGIT_WORDS:
            start = repeat_start if repeat > 1 else m.start()
            runs[-1].extend((DIGIT_WORDS[tok], (start, m.end()), True) for _ in range(repeat))
            repeat, repeat_start = 1, -1
        elif tok in REPEAT_WORDS:
            repeat, repeat_start = REPEAT_WORDS[tok], m.start()
        elif tok in FILLERS:
            continue
        else:
            repeat, repeat_start = 1, -1
            if runs[-1]:
                runs.append([])
    return runs


def _mask_spans(text: str, spans: Iterable[Span]) -> str:
    out = text
    for start, end in sorted(set(spans), reverse=True):
        out = out[:start] + MASK * (1 if not out[start:end].isdigit() else end - start) + out[end:]
    return out


def redact_text(text: str, patterns: Sequence[re.Pattern[str]] = ()) -> str:
    """A text with its card numbers (13-19 digits passing Luhn) and `patterns` masked."""
    spans: list[Span] = []
    for run in scan(text):
        digits = "".join(d for d, _, _ in run)
        spans.extend(run[i][1] for i in find_cards(digits, [s for _, _, s in run]))
    out = _mask_spans(text, spans) if spans else text
    for p in patterns:
        out = p.sub("[redacted]", out)
    return out


def _redact_value(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, fn) for v in value]
    return value


@dataclass(slots=True)
class _Held:
    event: Event
    spans: dict[str, list[Span]] = field(default_factory=dict)  # field -> spans to mask


class Redactor:
    """Masks one call's events before they are stored, printed or logged (see the module)."""

    def __init__(self, patterns: Sequence[str] = (), hold_ms: int = 15000) -> None:
        self.patterns = [re.compile(p) for p in patterns]
        self.hold_ms = hold_ms
        self.secure = False
        """True while a `secure: true` gather listens: keys and words are not kept at all."""
        self._held: list[_Held] = []
        self._run: list[tuple[str, int, str, Span, bool]] = []  # digit, held index, field, span, token start
        self._last_digit_ms = 0
        self._masked: dict[str, str] = {}  # caller's words as said -> as stored

    def feed(self, event: Event) -> list[Event]:
        """Events that may go out now (masked), in their order."""
        out: list[Event] = []
        if self._run and event.t_ms - self._last_digit_ms > self.hold_ms:
            out += self._end_run()
        if self.secure and event.type in (
            EventType.DTMF,
            EventType.FINAL_TRANSCRIPT,
            EventType.PARTIAL_TRANSCRIPT,
        ):
            key = "digit" if event.type is EventType.DTMF else "text"
            if key == "text":
                self._masked[str(event.data["text"])] = SECURE_TEXT  # its copies (an intent's text) too
            hidden = {key: MASKED_KEY if key == "digit" else SECURE_TEXT}
            if "heard_as" in event.data:
                hidden["heard_as"] = SECURE_TEXT
            event = Event(event.call, event.t_ms, event.type, {**event.data, **hidden})
        held = _Held(event)
        if self._run or self._held:
            self._held.append(held)
        index = len(self._held) - 1 if self._held and self._held[-1] is held else -1
        if not self.secure:
            if event.type is EventType.DTMF:
                digit = str(event.data["digit"])
                if digit.isdigit():
                    if index < 0:
                        self._held.append(held)
                        index = len(self._held) - 1
                    self._run.append((digit, index, "digit", (0, len(digit)), True))
                    self._last_digit_ms = event.t_ms
                elif self._run:
                    out += self._end_run()
                    return out
            elif event.type is EventType.FINAL_TRANSCRIPT and event.data.get("ignored"):
                pass  # judged noise, not the caller's words: a card said across turns goes on
            elif event.type is EventType.FINAL_TRANSCRIPT:
                runs = scan(str(event.data["text"]))
                for i, run in enumerate(runs):
                    if i > 0 and self._run:
                        self._end_run_marks()
                    if run:
                        if index < 0:
                            self._held.append(held)
                            index = len(self._held) - 1
                        self._run.extend((d, index, "text", span, start) for d, span, start in run)
                        self._last_digit_ms = event.t_ms
                if len(runs) > 1 and not runs[-1] and self._run:
                    self._end_run_marks()
                elif not any(runs) and self._run:  # words with no digit: the run is over
                    self._end_run_marks()
        if index < 0:
            out.append(self._release(held))
        elif not self._run:
            out += self._release_all()
        return out

    def flush(self) -> list[Event]:
        """At the call's end: everything still held."""
        return self._end_run()

    # -- internals --------------------------------------------------------------------------
    def _end_run_marks(self) -> None:
        digits = "".join(d for d, _, _, _, _ in self._run)
        for pos in find_cards(digits, [s for _, _, _, _, s in self._run]):
            _, index, key, span, _ = self._run[pos]
            self._held[index].spans.setdefault(key, []).append(span)
        self._run = []

    def _end_run(self) -> list[Event]:
        if self._run:
            self._end_run_marks()
        return self._release_all()

    def _release_all(self) -> list[Event]:
        held, self._held = self._held, []
        return [self._release(h) for h in held]

    def _release(self, held: _Held) -> Event:
        e = held.event
        data = dict(e.data)
        for key, spans in held.spans.items():
            data[key] = MASKED_KEY if key == "digit" else _mask_spans(str(data[key]), spans)
        if e.type is EventType.PARTIAL_TRANSCRIPT:  # numerals and digits said as words alike
            for key in ("text", "stable"):  # the committed words too ("My card number is 4539")
                if key in data:
                    data[key] = _SPOKEN_DIGIT.sub(MASK, re.sub(r"\d", MASK, str(data[key])))
        if e.type is EventType.FINAL_TRANSCRIPT:
            said = str(e.data["text"])
            data["text"] = redact_text(str(data["text"]), self.patterns)
            if data["text"] != said:
                self._masked[said] = data["text"]
            if "heard_as" in data:  # what was heard before the step's words: no number kept
                data["heard_as"] = _SPOKEN_DIGIT.sub(MASK, re.sub(r"\d", MASK, str(data["heard_as"])))
        else:
            data = {k: _redact_value(v, self._text) for k, v in data.items()}
        return Event(e.call, e.t_ms, e.type, data)

    def mask(self, value: Any) -> Any:
        """Any value (text, mapping, list) as it may be shown: the call's card numbers masked,
        also those said across turns (as far as the call has been heard)."""
        return _redact_value(value, self._text)

    def _text(self, text: str) -> str:
        for said, stored in self._masked.items():
            if len(said) >= 4 and said in text:
                text = text.replace(said, stored)
        return redact_text(text, self.patterns)


class RedactingFilter(logging.Filter):
    """A log handler's filter: a card number in any log line is masked before it is written."""

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is logging's error to report, not ours
            return True
        clean = redact_text(message, self.patterns)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_log_filter(patterns: Sequence[str] = ()) -> None:
    """Every handler of the root logger masks card numbers (call after logging.basicConfig)."""
    flt = RedactingFilter(patterns)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
