"""Digits as callers say them: "one oh oh double five", "three hundred, zero four five",
"oh seven seven double oh, nine double oh, triple five", "four seven one... sorry, I mean four
seven two", and as whisper writes them ("471 103", "For seven one", "1-o-o-2").

`spoken_digits` reads every digit said; `read_digits` reads an answer to a gather that
expects `lo`..`hi` digits: a correction takes what follows it, a sequence whisper wrote twice
is taken once, and the reading says whether it needed mending (then the IVR reads it back)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGIT = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "nil": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEEN = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_SOUNDS_LIKE = {
    "for": 4, "fore": 4, "to": 2, "too": 2, "won": 1, "ate": 8, "tree": 3, "free": 3, "no": 0,
    "all": 0, "owe": 0, "low": 0, "wait": 8, "a": 8, "sex": 6,
}  # fmt: skip
"""Words whisper writes for a digit: read as that digit only between other digits."""
_REPEAT = {"double": 2, "triple": 3}
_CORRECTION = re.compile(
    r"\b(?:sorry|no wait|i mean|i meant|actually|scratch that|let me start again|start again|no no|correction)\b"
)


def _words(text: str) -> list[str]:
    low = text.lower().replace("’", "'").replace("'s", " ")
    # "1-o-o-2", "double-o": a hyphen joins spelt digits; "O'L" whisper's oh
    return re.findall(r"[a-z]+|\d+", re.sub(r"[-'/]", " ", low))


def _is_digitish(w: str | None) -> bool:
    return w is not None and (w.isdigit() or w in _DIGIT or w in _REPEAT or w in _TEEN or w in _TENS)


def spoken_digits(text: str) -> str:
    """Every digit said, in order: 'four five six, double seven' -> '45677', 'three hundred,
    oh four five' -> '300045', 'one hundred and two' -> '102', 'twenty' -> '20', digits written
    as numerals are kept ('471 103' -> '471103')."""
    words = _words(text)
    out: list[str] = []
    repeat = 1
    i = 0
    while i < len(words):
        w = words[i]
        prev = words[i - 1] if i else None
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w in _SOUNDS_LIKE and (_is_digitish(prev) or _is_digitish(nxt)):
            w = str(_SOUNDS_LIKE[w])
        if w.isdigit():
            out.append(w * repeat)
        elif w in _REPEAT:
            repeat = _REPEAT[w]
            i += 1
            continue
        elif w in _DIGIT:
            out.append(str(_DIGIT[w]) * repeat)
        elif w in _TEEN:
            out.append(str(_TEEN[w]))
        elif w in _TENS:
            unit = _DIGIT.get(nxt or "", 0) if nxt not in ("oh", "o", "nought", "nil", "zero") else 0
            out.append(str(_TENS[w] + unit))
            i += 1 if unit else 0
        elif w == "thousand" and out and len(out[-1]) <= 2:
            out[-1] += "000"
        elif w == "hundred" and out and len(out[-1]) == 1:
            rest, used = _under_hundred(words[i + 1 :])
            out[-1] += f"{rest:02d}" if used else "00"
            i += used
        repeat = 1
        i += 1
    return "".join(out)


def _under_hundred(words: list[str]) -> tuple[int, int]:
    """After "hundred": ("and") a number under 100, and how many words it took (0: none)."""
    k = 1 if words[:1] == ["and"] else 0
    w = words[k] if k < len(words) else ""
    if w in _TEEN:
        return _TEEN[w], k + 1
    if w in _TENS:
        nxt = words[k + 1] if k + 1 < len(words) else ""
        unit = _DIGIT.get(nxt, 0) if nxt in _DIGIT and nxt not in ("oh", "o", "nought", "nil", "zero") else 0
        return _TENS[w] + unit, k + (2 if unit else 1)
    if k and w in _DIGIT:  # "one hundred and two"; "three hundred, oh four five" is digits
        return _DIGIT[w], k + 1
    return 0, 0


def _looped(digits: str, hi: int) -> bool:
    """What follows the first `hi` digits is whisper going round again: the number from its
    start ("471103 47"), or its last one to four digits over and over ("583960 960 9")."""
    tail = digits[hi:]
    if digits.startswith(tail):
        return True
    return any((digits[hi - k : hi] * len(tail)).startswith(tail) for k in range(1, min(4, hi) + 1))


@dataclass(frozen=True, slots=True)
class Reading:
    digits: str
    sure: bool
    """False when the words had to be mended (a correction, a sequence said twice, a digit
    that was not the expected count): the IVR reads it back before using it."""


def read_digits(text: str, lo: int = 1, hi: int = 32) -> Reading:
    """The digits of an answer to a gather expecting `lo`..`hi` of them."""
    parts = _CORRECTION.split(text.lower())
    mended = False
    digits = spoken_digits(text)
    if len(parts) > 1:  # "471102, sorry, I mean 471103": what follows the last correction
        after = spoken_digits(parts[-1])
        before = spoken_digits("".join(parts[:-1]))
        if lo <= len(after) <= hi:
            digits, mended = after, True
        elif after and len(before) >= lo:  # "... sorry, five seven": the last digits again
            digits, mended = before[: len(before) - len(after)] + after, True
    if len(digits) > hi and _looped(digits, hi):
        digits, mended = digits[:hi], True  # whisper wrote the number again, or its end
    sounds_like = any(w in _SOUNDS_LIKE for w in _words(text))
    return Reading(digits, sure=not mended and not sounds_like and lo <= len(digits) <= hi)
