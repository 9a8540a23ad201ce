"""Reading digits, numbers and yes/no out of what a caller said."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ivr.dialplan.digits import spoken_digits

_UNITS = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}

YES = {
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "correct",
    "right",
    "ok",
    "okay",
    "please",
    "absolutely",
    "definitely",
    "affirmative",
    "indeed",
}
NO = {"no", "nope", "nah", "not", "don't", "dont", "negative", "never", "wrong", "incorrect"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+|'", text.lower().replace("-", " ").replace("'", ""))


def spoken_number(text: str) -> int | None:
    """'twenty three' -> 23, 'one hundred and five' -> 105, '42' -> 42; None if no number."""
    total = current = 0
    seen = False
    for w in _words(text):
        if w.isdigit():
            current += int(w)
            seen = True
        elif w in _UNITS:
            current += _UNITS[w]
            seen = True
        elif w in _TENS:
            current += _TENS[w]
            seen = True
        elif w == "hundred" and seen:
            current *= 100
        elif w in _SCALES and seen:
            total += current * _SCALES[w]
            current = 0
    return total + current if seen else None


_NO_PHRASES = re.compile(
    r"\b(that'?s (all|everything|it)|nothing (else|more)|i'?m (fine|good|ok|okay|sorted)|all (good|sorted|done)|"
    r"no thanks?|no thank you|that'?ll be all|that was (all|everything))\b"
)
_NEUTRAL = re.compile(r"\bnot (bad|too bad)\b")  # "not bad, thanks": no "no" in it
_NOT_RIGHT = re.compile(
    r"\b(not|isn'?t|wasn'?t|ain'?t) (quite )?(right|correct|it|what i said)\b|\bthat'?s wrong\b"
)
_IT_IS = re.compile(r"^\W*(yes\W+)?(that'?s (it|right|correct|the one)|exactly|spot on|correct)\b")
_LEADING = re.compile(r"^\s*((yes|yeah|yep|yup|sure|no|nope|nah|okay|ok|right|well|so)\b[\s,.!]*)+", re.I)


def strip_yes_no(text: str) -> str:
    """What follows a leading yes or no: "Yes, how much data have I got?" -> "how much data have I got?"."""
    return _LEADING.sub("", text).strip()


def yes_or_no(text: str, readback: bool = False) -> bool | None:
    """True for a yes, False for a no, None when it is neither (or both). Read as an answer to
    the question: "that's all" and "not bad, thanks, that's all" are a no to "anything else?";
    after a read-back ("is that right?", `readback`) "that's it" is a yes and "that's not
    right" a no."""
    low = text.lower().replace("’", "'")
    if _NOT_RIGHT.search(low):
        return False
    if readback and _IT_IS.search(low):
        return True
    if _NO_PHRASES.search(low):
        return False
    words = set(_words(_NEUTRAL.sub(" ", low)))
    yes, no = bool(words & YES), bool(words & NO)
    if yes == no:
        return None
    return yes


def whole_answer(kind: str, a: Mapping[str, Any]) -> Callable[[str], bool] | None:
    """When a spoken answer to this gather is whole (whisper writes "1 0 0 0 0 2" with no
    full stop): enough digits for a digits gather; a yes or a no."""
    if kind == "digits":
        lo, hi = int(a.get("min_digits", 1)), int(a.get("max_digits", 32))
        if hi - lo > 4:
            return None  # open-ended: the length does not tell when the caller is done
        # all the digits it can take; more cannot be mended by waiting: the caller is asked again
        return lambda text: len(spoken_digits(text)) >= hi
    if kind == "yes_no":
        return lambda text: yes_or_no(text) is not None
    return None
