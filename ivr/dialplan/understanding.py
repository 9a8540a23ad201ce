"""The models a dialplan version uses: its intent matcher, its knowledge base, and the store's
approved entries when a store is at hand; built once per loaded dialplan, shared by its calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.dialplan.check import Dialplan
from ivr.nlu.intents import NONE, IntentMatcher, KnowledgeBase
from speech.rescore import MAX_WORDS, vocabulary


@dataclass
class Understanding:
    matcher: IntentMatcher
    kb: KnowledgeBase
    live: Any = None  # ivr.kb.live.LiveKnowledge: the store's approved entries, if a store is at hand
    phrases: Mapping[str, list[str]] = field(default_factory=dict)
    """Each intent's examples, keywords and `ask_as`: the words a caller asking for it says."""
    _words: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, dialplan: Dialplan, embedder: Any, live: Any = None) -> Understanding:
        threshold = float(dialplan.settings.get("intent_threshold", 0.5))
        phrases = {
            name: [
                *examples,
                *dialplan.keywords.get(name, ()),
                *([dialplan.ask_as[name]] if name in dialplan.ask_as else []),
            ]
            for name, examples in dialplan.intents.items()
            if name != NONE  # what is out of scope is not listened for
        }
        return cls(
            IntentMatcher(embedder, dialplan.intents, threshold, dialplan.keywords),
            KnowledgeBase(embedder, dialplan.knowledge),
            live,
            phrases,
        )

    def words_for(self, intents: Iterable[str] | None = None) -> tuple[str, ...]:
        """The words a caller asking for one of `intents` (all when None) is expected to say,
        as written: what the recogniser is told to listen for."""
        key = tuple(sorted(intents)) if intents is not None else ()
        got = self._words.get(key)
        if got is None:
            chosen = [p for name, ps in self.phrases.items() if not key or name in key for p in ps]
            # at most what the speech service takes: a dialplan of many examples keeps its first words
            got = self._words[key] = tuple(sorted(vocabulary(chosen).values())[:MAX_WORDS])
        return got

    def knowledge(self, question: str) -> tuple[Mapping[str, Any] | None, float]:
        """The best entry for `question`, of the dialplan's and the store's approved ones (the
        question embedded once for both)."""
        live = self.live.current() if self.live is not None else None
        if not question.strip() or (not len(self.kb) and not (live is not None and len(live))):
            return None, 0.0
        vector = self.matcher.embed(question)
        entry, score = self.kb.best_of(vector)
        if live is not None:
            live_entry, live_score = live.best_of(vector)
            if live_entry is not None and live_score > score:
                return live_entry, live_score
        return entry, score
