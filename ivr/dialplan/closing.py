"""What a caller says that is not a request: a goodbye ("lovely, thanks, bye", "great, that's
all I needed", "cheers") ends the call politely at any step, and a filler or an apology on its
own ("sorry", "erm", "well", "OK so") is never an intent: the caller's request follows.

Read on the whole turn: a goodbye needs a word that closes ("bye", "cheers", "that's all",
"nothing else", "I'm done") and nothing else of substance, so "thanks, and what's my balance?"
or "that's all wrong" is not one."""

from __future__ import annotations

import re

_CLOSERS = re.compile(
    r"\b(good ?bye|bye( bye| now| then)?|cheers|ta ta|see (you|ya)|take care|have a (good|nice|great)"
    r" (day|one|evening|afternoon|weekend)|that'?s (all|everything|it|great|perfect)|that is (all|everything|it)"
    r"|that'?ll be all|that was (all|everything|it)|(all|everything|what) i (needed|wanted)|nothing (else|more)"
    r"|i'?m (all )?(done|sorted|good|fine|ok|okay|set)|i am (done|sorted|good|fine)|all (sorted|done|good)"
    r"|no (more )?(thanks|thank you|that'?s all)|that'?s me( done| sorted)?|you'?ve been (very |really |a big )?"
    r"(helpful|a (great |big )?help)|that (answers|answered) (it|my question)|that helps)\b"
)
"""Phrases that close a call (said with thanks or alone)."""

_POLITE = frozenset(
    """
    thanks thank you very much so a lot lovely great perfect brilliant cheers okay ok right fine
    good wonderful excellent fab fantastic super cool awesome nice ace that's thats it is all
    everything oh ah well alright all sorted no nope yes yeah yep then for your help helping
    again indeed much appreciated appreciate really just bye goodbye now have day one evening actually
    afternoon weekend see ya take care ta i i'm im am done set was that that'll be what needed wanted
    nothing else more me been you've very helpful big answers answered my question helps
    """.split()
)
"""Words that may go with a goodbye without making it a request."""

_FILLERS = frozenset(
    """
    sorry erm er um uh uhm hmm mm ah oh well so ok okay right yeah yes hi hello hey alright
    like just actually basically anyway excuse me pardon hang on one sec second moment i i'm im am
    no wait mean meant scratch that lovely great perfect brilliant thanks thank you cheers
    """.split()
)
"""Words that carry no request on their own: an apology, a hesitation, a greeting, thanks (the
VAD often ends a turn after "Lovely." or "Sorry,": what follows is the rest of it)."""

_WORD = re.compile(r"[a-z']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def is_closing(text: str) -> bool:
    """The caller is saying goodbye (and asking for nothing more)."""
    low = " ".join(_words(text))
    if not low or not _CLOSERS.search(low):
        return False
    return all(w in _POLITE for w in low.split())


def is_filler(text: str) -> bool:
    """Only an apology, a hesitation or a greeting: no request in it (yet)."""
    words = _words(text)
    return bool(words) and all(w in _FILLERS for w in words)
