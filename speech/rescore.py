"""Hearing what the step expects: a final whose words sound like words the dialplan expects at
this step ("ballot" where the route's examples say "balance", "front" where they say "France")
is rescored. Each candidate (the heard text with such a word put in) is scored by the
recogniser itself against the same audio - the log-probability of its tokens, teacher forced -
and a candidate wins only if the audio supports it about as well as what was heard, or better
(`margin`: how far under it may be). Words are only ever swapped for sound-alikes, so a caller
who says something else entirely is never heard as a request.

Tried and not kept: whisper's own n-best (a beam of 5, +20 ms a final) as candidates. It does
hold "what do I owe" behind "what do I know", but on clean requests it also turned "owe" into
"know" and "put me through" into "let me through" within the margin."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from difflib import SequenceMatcher

MAX_WORDS = 2000
"""Expected words a transcription request may carry."""
MAX_WORD_CHARS = 40
MAX_CANDIDATES = 6
"""Texts scored per round (one teacher-forced pass over them all)."""
ROUNDS = 2
"""Swaps tried one after another (a second misheard word in the same final)."""
MIN_LIKE = 0.5
"""How alike (difflib ratio of the sound keys) a heard word and an expected word must be."""
MARGIN = 1.0
"""How far under the heard text (in nats of the whole text's log-probability, scored with no
context) a swap may score and still win: the expected words' prior. On the dev sets (the
conversation set, the intent paraphrases) the swaps that were right scored from 0.12 under the
heard text to 2.3 over it, the nearest wrong one ("worst" -> "work") 2.2 under."""

_VOWELS = frozenset("aeiou")
_ENDINGS = frozenset({"s", "es", "'s", "d", "ed", "ing", "ly", "er", "ers"})
_WORD = re.compile(r"[A-Za-z']+")
_COMMON = frozenset(
    """a an the my your our their his her its it it's is are was were be been am i i'm me we you
    to of for on in at by with and or but so if not no yes do does did have has had can could
    would will shall should may might what when where who why how which that this these those
    there here just some any all about up out off get got please thanks thank okay ok well
    yeah yep yup nope nah sure right correct cheers bye goodbye sorry hello um erm""".split()
)


def key(word: str) -> str:
    """A rough sound key: lower case, 'ph' as 'f', 'ck' as 'k', no doubled letters, no silent
    final 'e' (enough to rank sound-alikes; the recogniser's score decides)."""
    w = word.lower().replace("'", "").replace("ph", "f").replace("ck", "k")
    w = re.sub(r"^(k(?=n)|w(?=r)|h(?=w))", "", w)  # a silent first letter: know, write
    w = re.sub(r"(.)\1+", r"\1", w)
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def vocabulary(phrases: Iterable[str]) -> dict[str, str]:
    """The expected words of some phrases (a route's examples), without common words: each in
    lower case, with how it is written (a name keeps its capital: "france": "France")."""
    out: dict[str, str] = {}
    for p in phrases:
        for n, m in enumerate(_WORD.finditer(p)):
            w, low = m.group(), m.group().lower()
            if (
                len(w) < 3 or len(w) > MAX_WORD_CHARS or low in _COMMON or "'" in w
            ):  # "i'll": nothing to mishear
                continue
            if n > 0 and w[0].isupper() or low not in out:
                out[low] = w if n > 0 and w[0].isupper() else low
    return out


def expected_words(words: object) -> dict[str, str]:
    """A transcription request's expected words (a list of written words), checked."""
    if words is None:
        return {}
    if not isinstance(words, list) or len(words) > MAX_WORDS:
        raise ValueError(f"'expect' must be a list of at most {MAX_WORDS} words")
    out: dict[str, str] = {}
    for w in words:
        if not isinstance(w, str) or not 0 < len(w) <= MAX_WORD_CHARS or not _WORD.fullmatch(w):
            raise ValueError(f"'expect' holds {w!r}: not a word of 1-{MAX_WORD_CHARS} letters")
        out[w.lower()] = w
    return out


def sound_alikes(word: str, expected: Mapping[str, str]) -> list[tuple[float, str]]:
    """The expected words that sound like a heard `word` (they begin with the same sound and
    are spelled alike, or the heard word is one with the previous word's last consonant run
    on: "do I know you" for "do I owe you"), likeliest first; [] when the word is expected or
    common."""
    low = word.lower()
    if low in expected or low in _COMMON or len(low) < 3:
        return []
    k = key(low)
    out = []
    for e in expected:
        ke = key(e)
        if ke == k or _variant(low, e):
            continue  # the same word spelled or inflected otherwise: nothing misheard
        if ke[0] == k[0] or (ke[0] in _VOWELS and k[0] in _VOWELS):
            like = SequenceMatcher(None, k, ke).ratio()
        elif ke[0] in _VOWELS and k[0] not in _VOWELS and len(k) > 2:  # a consonant run on
            like = SequenceMatcher(None, k[1:], ke).ratio() - 0.2
        else:
            continue
        if like >= MIN_LIKE and abs(len(e) - len(low)) <= 4:
            out.append((like, e))
    return sorted(out, reverse=True)


def _variant(a: str, b: str) -> bool:
    """One word is the other inflected ("month's", "charged", "calls", "stopped", "using")."""
    for short, long in (sorted((a, b), key=len), sorted((key(a), key(b)), key=len)):
        if long.startswith(short) and long[len(short) :] in _ENDINGS:
            return True
        if short.endswith("e") and long.startswith(short[:-1]) and long[len(short) - 1 :] in _ENDINGS:
            return True
    return False


def _cased(written: str, heard: str) -> str:
    return written[:1].upper() + written[1:] if heard[:1].isupper() else written


def candidates(text: str, expected: Mapping[str, str]) -> list[str]:
    """The heard text with one word that sounds like an expected word swapped for it (each time
    it is heard: whisper may have said the sentence twice), most alike first (at most
    MAX_CANDIDATES)."""
    spans: dict[str, list[re.Match[str]]] = {}
    for m in _WORD.finditer(text):
        spans.setdefault(m.group().lower(), []).append(m)
    scored: list[tuple[float, int, str]] = []
    for matches in spans.values():
        for like, e in sound_alikes(matches[0].group(), expected):
            out, last = [], 0
            for m in matches:
                out.append(text[last : m.start()] + _cased(expected[e], m.group()))
                last = m.end()
            scored.append((-like, matches[0].start(), "".join(out) + text[last:]))
    return [t for _, _, t in sorted(scored)[:MAX_CANDIDATES]]


def rescore(
    text: str,
    expected: Mapping[str, str],
    score: Callable[[Sequence[str]], list[float]],
    margin: float = MARGIN,
) -> str | None:
    """The text the audio supports best, if a swap beats the heard `text` (less `margin`, once
    for the whole text); None when no word sounds like an expected one or the heard text stays
    the likeliest. `score(texts)` gives each text's log-probability against the utterance's
    audio (with no context before it: the margin is the expected words' prior)."""
    best, best_score, heard = text, 0.0, None
    for _ in range(ROUNDS):
        texts = candidates(best, expected)
        if not texts:
            break
        scores = score(texts if heard is not None else [text, *texts])
        if heard is None:
            heard, scores = scores[0], scores[1:]
            best_score = heard - margin
        j = max(range(len(texts)), key=lambda k: scores[k])
        if scores[j] < best_score:
            break
        best, best_score = texts[j], scores[j]
    return best if best != text else None
