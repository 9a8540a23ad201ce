"""`gather`: an intent, digits, yes/no, a number or free text, with retries; a new request
heard at a yes/no, digits or number gather goes where it belongs (`requests:`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.inputs import FILLER, REQUEST, interpret
from ivr.dialplan.several import asks_what_else, next_waiting, now_about
from ivr.dialplan.spoken import whole_answer
from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("gather")
async def gather(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    kind = a["input"]
    if r.state.waiting and asks_what_else(kind, a):
        waiting = next_waiting(r, kind, a)  # a request the caller made with an earlier one
        if waiting is not None:
            await r.speak(now_about(r, waiting[0]))
            return waiting[1]
    prompt: str | None = a.get("prompt")
    attempt = 0
    secure = bool(a.get("secure"))
    if secure:
        r.conv.set_secure(True)
    if kind == "digits":
        r.conv.expect("digits")
    else:  # the words of the requests this step can take ("balance", "roaming", "France")
        r.conv.expect("", r.nlu.words_for(a.get("intents")))
    try:
        while True:
            item = await r.ask(
                prompt,
                a.get("timeout_ms"),
                digits=kind in ("digits", "number"),
                complete=whole_answer(kind, a),
                secure=secure,
            )
            value, target = await interpret(r, kind, a, item)
            if value is FILLER:  # "Sorry." / "erm": the request follows (joined, if soon)
                prompt = None
                continue
            if value is REQUEST:  # a new request heard at this gather: it goes where it belongs
                return target
            if value is not None:
                if a.get("var"):
                    r.state.vars[a["var"]] = value
                    if secure:
                        r.state.secret.add(a["var"])
                next_node: str | None = target or a.get("next")
                return next_node
            target = await r.retry(a, item, attempt)
            if target:
                return target
            attempt += 1
    finally:  # the step's expectation stays until the next gather's: what the caller says
        if secure:  # meanwhile goes on with this turn (and joins it)
            r.conv.set_secure(False)
