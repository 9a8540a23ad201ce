"""`answer`: the knowledge base's best answer to the caller's question (`not_found` when
none is good enough)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("answer")
async def answer(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    question = r.render(a["question"]) if a.get("question") else r.state.last.get("text", "")
    entry, score = await r.conv.compute(lambda: r.nlu.knowledge(question))
    if entry is None or score < float(a.get("min_score", 0.5)):
        return str(a["not_found"])
    await r.say_answer(entry)
    found: str | None = a.get("found")
    return found
