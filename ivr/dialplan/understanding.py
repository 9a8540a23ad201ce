"""The models a dialplan version uses: its intent matcher, its knowledge base, and the store's
approved entries when a store is at hand; built once per loaded dialplan, shared by its calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr.dialplan.check import Dialplan
from ivr.nlu.intents import IntentMatcher, KnowledgeBase


@dataclass
class Understanding:
    matcher: IntentMatcher
    kb: KnowledgeBase
    live: Any = None  # ivr.kb.live.LiveKnowledge: the store's approved entries, if a store is at hand

    @classmethod
    def build(cls, dialplan: Dialplan, embedder: Any, live: Any = None) -> Understanding:
        threshold = float(dialplan.settings.get("intent_threshold", 0.5))
        return cls(
            IntentMatcher(embedder, dialplan.intents, threshold, dialplan.keywords),
            KnowledgeBase(embedder, dialplan.knowledge),
            live,
        )

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
