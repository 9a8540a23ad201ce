"""Was it the caller? The judgement on a decoded utterance before the IVR acts on it.

Whisper writes words for any sound: on a short burst of noise it writes the phrases it saw
most in its training subtitles ("Thank you.", "Bye.", "you"), and it transcribes the talkers
behind the caller as readily as the caller. A final that is mostly noise, or a voice well
below the caller's own, is kept in the call's log as ignored and never becomes a turn.
The evidence, all already at hand: whisper's no-speech probability and average token
log-probability, the text's compression ratio (loops), the voice detector's confidence over
the utterance, and its level against the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from speech.text import compression_ratio

HALLUCINATIONS = frozenset(
    {
        "thank you", "thank you very much", "thanks", "thanks for watching", "thank you for watching",
        "bye", "bye bye", "goodbye", "you", "okay", "ok", "so", "oh", "hmm", "uh", "um", "yeah",
        "i", "the", "a", "and", "please subscribe", "subtitles by the amara org community",
    }
)  # fmt: skip
"""What whisper says on noise alone. Said by a caller they are real words: they are accepted
only when the audio clearly holds a voice."""

_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True, slots=True)
class Heard:
    """A decoded utterance: its text and what whisper thought of it."""

    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    heard_as: str = ""
    """What the recogniser first heard, when the step's expected words changed it."""
    pooled: bytes = b""
    """The encoder's states pooled over the utterance (float16), for the radar."""


@dataclass(frozen=True, slots=True)
class HearingSettings:
    """When a decoded utterance is not the caller's speech."""

    enabled: bool = True
    """False: every decode is a turn (as before noise was judged; bench/noise.py's "before")."""

    background_db: float = 10.0
    """An utterance this far below the caller's speaking level is someone behind them (a caller
    who shouted once and then speaks calmly drops ~6 dB: still the caller)."""
    nominal_db: float = -23.0
    """Telephone speech's nominal level (-20 dBm0 through G.711 mu-law), dBFS..."""
    distant_db: float = 12.0
    """...and an utterance this far under it, before the caller has been heard, is someone
    behind them (a network's level control keeps callers near nominal)."""
    min_voice_prob: float = 0.4
    """Mean voice-detector probability of the utterance's voiced frames below which it is noise
    (real speech on the dev set: 0.7 and over; JFK's field recording: 0.57)."""
    sure_voice_prob: float = 0.8
    """A phrase whisper invents on noise ("Thank you.") counts only above this probability..."""
    sure_logprob: float = -0.6
    """...and this average log-probability, and with a no-speech probability under `sure_no_speech`."""
    sure_no_speech: float = 0.3
    echo_voice_prob: float = 0.75
    """A phrase of the dialplan's hints said back is the caller's when the voice detector is
    this sure (callers say the hints' phrases: "I want to cancel my contract" at 0.77 on a
    clean line); whisper's echoes over noise come with a weaker voice."""
    no_speech_prob: float = 0.4
    """Whisper's no-speech probability above which, with a log-probability under
    `logprob`, the decode is noise (with a dialplan's hints whisper rarely says "no speech":
    measured on bench/noise.py's dev set, real speech stays under 0.46, noise reaches 0.65)."""
    logprob: float = -0.7
    unsure_logprob: float = -1.5
    """An average log-probability below this is a guess, whatever else: on the dev set 5% of
    the caller's sentences (nearly all at 0 dB, mostly misheard) and 40% of noise."""
    max_compression: float = 2.4
    """A text compressing better than this is a repetition loop."""


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def echoes(words: list[str], hints: str) -> bool:
    """The words are one of the hints' phrases (or most of one): whisper, given the hints as
    previous text, repeats them over audio it cannot make out."""
    if len(words) < 2:
        return False
    for phrase in re.split(r"[.?!,;]", hints.lower()):
        said = words_of(phrase)
        if said and " ".join(words) in " ".join(said) and len(words) >= 0.6 * len(said):
            return True
    return False


def noise_reason(
    heard: Heard,
    voice_prob: float = 1.0,
    level_db: float = 0.0,
    caller_db: float | None = None,
    settings: HearingSettings | None = None,
    hints: str = "",
) -> str:
    """Why this utterance is not the caller's speech ("" when it is):

    - "background": a voice well below the caller's level (someone behind them);
    - "noise": the voice detector was not sure there was a voice, or whisper said no speech;
    - "unsure": whisper's own confidence says it guessed;
    - "invented": a phrase whisper makes up on noise (or repeats from the hints), without a
      clear voice under it;
    - "loop": a repetition loop."""
    s = settings or HearingSettings()
    words = words_of(heard.text)
    if not words or not s.enabled:
        return ""
    if caller_db is not None and level_db < caller_db - s.background_db:
        return "background"
    if caller_db is None and level_db < s.nominal_db - s.distant_db:
        return "background"  # before the caller is heard: far under telephone speech's level
    if voice_prob < s.min_voice_prob:
        return "noise"
    if heard.no_speech_prob > s.no_speech_prob and heard.avg_logprob < s.logprob:
        return "noise"
    if heard.avg_logprob < s.unsure_logprob:
        return "unsure"
    sure = heard.avg_logprob >= s.sure_logprob and heard.no_speech_prob < s.sure_no_speech
    if " ".join(words) in HALLUCINATIONS and not (sure and voice_prob >= s.sure_voice_prob):
        return "invented"
    if echoes(words, hints) and not (sure and voice_prob >= s.echo_voice_prob):
        return "invented"
    if len(heard.text) > 24 and compression_ratio(heard.text) > s.max_compression:
        return "loop"
    return ""
