"""The queues of a dialplan (`queues:`) as a typed config, parsed once when the dialplan loads
and carried by each transfer: what the dialplan, the queue (`ivr.acd`) and the hand-over all read,
with one default for each rule. A module of its own, below all three."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RING_TIMEOUT_S = 20.0
"""How long an agent's phone rings when the queue does not say (the one default)."""


@dataclass(frozen=True, slots=True)
class QueueRules:
    """A queue of the dialplan (`queues:`), parsed once when the dialplan loads."""

    name: str
    skills: frozenset[str] = frozenset()
    """An agent with any of these serves the queue (none: every agent)."""
    strategy: str = "longest_idle"
    ring_timeout_s: float = RING_TIMEOUT_S
    max_wait_s: float = 300.0
    """After this long the caller is offered a callback."""
    wrap_up_s: float = 30.0
    max_missed: int = 2
    """Rings missed in a row before the agent is set away (reason `missed`)."""
    uri: str = ""
    """The queue's own agent phone or ACD (sip:...); empty: the queue's agents are rung."""
    mode: str = "bridge"
    """With a uri: bridge (whisper, then connect) or refer (a blind SIP transfer)."""
    unavailable: str = ""
    """Said to the caller when nobody could be reached (empty: the dialplan runner's own words)."""


def rules_from(queues: Mapping[str, Mapping[str, Any]]) -> dict[str, QueueRules]:
    """A dialplan's `queues:` section as the queues' rules (the defaults of QueueRules where
    an entry says nothing)."""
    out = {}
    for name, q in queues.items():
        out[name] = QueueRules(
            name,
            frozenset(q.get("skills") or ()),
            str(q.get("strategy") or "longest_idle"),
            float(q.get("ring_timeout_s") or RING_TIMEOUT_S),
            float(q.get("max_wait_s") or 300),
            float(q["wrap_up_s"]) if q.get("wrap_up_s") is not None else 30.0,
            int(q.get("max_missed") or 2),
            str(q.get("uri") or ""),
            str(q.get("mode") or "bridge"),
            str(q.get("unavailable") or ""),
        )
    return out
