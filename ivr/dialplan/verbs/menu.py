"""`menu`: DTMF and spoken choices together (`choices: {"1": {goto, phrases}}`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.conversation import InputKind
from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("menu")
async def menu(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    choices: Mapping[str, Mapping[str, Any]] = a["choices"]
    prompt: str | None = a["prompt"]
    attempt = 0
    while True:
        item = await r.ask(prompt)
        chosen = None
        if item.kind is InputKind.DTMF:
            chosen = choices.get(item.digit)
        elif item.kind is InputKind.SPEECH:
            said = " ".join(re.findall(r"[a-z0-9']+", item.text.lower()))
            for key, choice in choices.items():
                words = [key, *(choice.get("phrases") or [])]
                if any(re.search(rf"\b{re.escape(w.lower())}\b", said) for w in words):
                    chosen = choice
                    break
        if chosen is not None:
            if chosen.get("say"):
                await r.speak(chosen["say"])
            return str(chosen["goto"])
        target = await r.retry(a, item, attempt)
        if target:
            return target
        attempt += 1
