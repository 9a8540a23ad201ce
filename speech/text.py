"""What a transcript's words say about the turn, with no model: a decode that loops
("no no no no"), an echo of the prompt at the end, a sentence left open ("I want to ...,")
or finished. The streaming policy (`asr.py`) and the endpointing use them."""

from __future__ import annotations

import zlib
from collections.abc import Sequence


def is_loop(text: str, ratio_threshold: float = 2.4) -> bool:
    """True when `text` repeats itself like a decoding loop (gzip ratio, or a phrase 3x)."""
    return compression_ratio(text) > ratio_threshold or repeated_tail(text) >= 0


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    if len(data) < 24:
        return 1.0
    return len(data) / len(zlib.compress(data))


def _norm_word(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum() or ch == "'")


_NUMBER_WORDS = frozenset(
    "zero oh one two three four five six seven eight nine ten double triple hundred thousand".split()
)


def _is_number(phrase: Sequence[str]) -> bool:
    """Digits repeat in account and phone numbers ("1 0 0 0 0 2"): that is not a loop."""
    return all(w.isdigit() or w in _NUMBER_WORDS for w in phrase)


def repeated_tail(text: str, min_repeats: int = 3) -> int:
    """Index of the word where a phrase starts repeating itself `min_repeats` times in a row
    (a decoding loop), or -1. "ask not. ask not. ask not." -> 2 (keep the first "ask not").
    Numbers are exempt: "1 0 0 0 0 2" is an account number."""
    words = [_norm_word(w) for w in text.split()]
    for i in range(len(words)):
        for n in range(1, (len(words) - i) // min_repeats + 1):
            phrase = words[i : i + n]
            if _is_number(phrase):
                continue
            if all(words[i + k * n : i + (k + 1) * n] == phrase for k in range(1, min_repeats)):
                return i + n
    return -1


def _trim_loop(text: str) -> str:
    """Cut a looping text after the first occurrence of the repeated phrase."""
    cut = repeated_tail(text)
    if cut < 0:
        cut = repeated_tail(text, 2) if compression_ratio(text) > 2.4 else -1
    return text if cut < 0 else " ".join(text.split()[:cut])


def drop_echoed_ending(text: str) -> str:
    """Whisper tiny often says the last phrase twice at the end of the audio ("ask not. ask
    not."): drop an immediate repeat of a final phrase of 2+ words, a restart, or a sentence
    begun again and cut off (whisper base: "X. X. X-begun"), until none is left."""
    for _ in range(8):
        shorter = _drop_one_echo(text)
        if shorter == text:
            break
        text = shorter
    return text


def _drop_one_echo(text: str) -> str:
    words = text.split()
    norm = [_norm_word(w) for w in words]
    for n in range(len(words) // 2, 1, -1):
        if norm[-n:] == norm[-2 * n : -n] and not _is_number(norm[-n:]):
            return " ".join(words[:-n])
    # ... or starts over at the end ("and so my fellow americans and so my"): a restart loop
    for n in range(len(words) // 2, 2, -1):
        if norm[-n:] == norm[:n]:
            return " ".join(words[:-n])
    # ... or, a sentence done, begins it again and is cut ("Dogs are sitting by the door. Dogs")
    ends = [i for i, w in enumerate(words[:-1]) if w.endswith((".", "?", "!"))]
    if ends and not words[-1].endswith((".", "?", "!")):
        tail = norm[ends[-1] + 1 :]
        if len(tail) <= 2 and tail == norm[: len(tail)]:
            return " ".join(words[: ends[-1] + 1])
    return text


# words a sentence does not end on: the caller paused mid-thought ("I want to pay my ...")
_CONTINUES = frozenset(
    "a an the my your our their his her its this that these those to of for with from at in on"
    " by about into and or but so because if when then than as is are was were be been am"
    " i i'm i'd i've we they he she um uh er erm ah hmm like just also".split()
)


# a turn made only of these is an opener: the request usually follows ("Hi, ... what's my bill")
_OPENERS = frozenset(
    "hi hello hey hiya morning afternoon evening good yeah yes well okay ok right so oh".split()
)


_OPEN_ENDS = (",", ";", ":", "-", "–", "—", "...", "…")


def looks_unfinished(text: str) -> bool:
    """Whether a transcript stops mid-thought: on a comma or a dash, a trailing "...", or a
    word that needs more after it ("and", "because", "the"), or it is a bare "yes,"/"so,".
    The caller is still thinking: the end of the turn waits a little longer."""
    text = text.strip()
    if not text:
        return False
    if text.endswith(_OPEN_ENDS):
        return True
    words = [_norm_word(w) for w in text.rstrip(".?!").split()]
    return bool(words) and text[-1] not in "?!" and words[-1] in _CONTINUES


def looks_complete(text: str) -> bool:
    """Whether a transcript reads as a finished turn: whisper closed it with . ? or ! and it
    does not end on a word that needs more after it. Used to end an utterance after a
    shorter pause (adaptive endpointing); a wrong "yes" costs one early turn, a wrong
    "no" only the normal end-of-speech silence."""
    text = text.strip()
    if not text or text[-1] not in ".?!" or text.endswith(("...", "…")):
        return False
    words = [_norm_word(w) for w in text.rstrip(".?!").split()]
    if not words or words[-1] in _CONTINUES:
        return False
    # "Hi." / "Hello, hello." wait for the usual end silence; "Yes." alone is an answer
    return not (all(w in _OPENERS for w in words) and set(words) - {"yes"})
