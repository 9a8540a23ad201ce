"""The dialplan's verbs, one module each (as jambonz's `lib/tasks/`): each registers the
coroutine that runs it with `@verb(NAME)`; the runner keeps only the flow (nodes, global
handlers, turns) and looks a step's verb up here. A verb returns the node to go to, `END` (the
call is over), or None (the next step)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner

END = "\x00end"
"""What a verb returns when it ended the call."""

Verb = Callable[["DialplanRunner", Mapping[str, Any]], Awaitable[str | None]]
REGISTRY: dict[str, Verb] = {}


def verb(name: str) -> Callable[[Verb], Verb]:
    """Register the coroutine that runs the verb `name`."""

    def register(fn: Verb) -> Verb:
        if name in REGISTRY:
            raise ValueError(f"verb {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return register


# each module registers its verb on import
from ivr.dialplan.verbs import (  # noqa: E402
    answer,
    branch,
    gather,
    goto,
    hangup,
    hold,
    lookup,
    menu,
    play,
    say,
    set_vars,
    transfer,
)

__all__ = [
    "END",
    "REGISTRY",
    "answer",
    "branch",
    "gather",
    "goto",
    "hangup",
    "hold",
    "lookup",
    "menu",
    "play",
    "say",
    "set_vars",
    "transfer",
    "verb",
]
