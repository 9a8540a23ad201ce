"""What the agent hears before the caller is put through (at most `MAX_BRIEFING_S` of speech)
and the screen pop's history: built from the call's context (tier, name, mood, intent, what
the IVR already told them) and the caller's past calls in the store.

The briefing is a list of parts in order of worth; when the synthesised speech runs over the
limit, the least worth goes first (`fit`), so the agent always hears who and why.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

MAX_BRIEFING_S = 5.0
NONE_INTENTS = ("", "none", None)


def past_calls(
    records: Any, number: str, exclude: str, now: float | None = None, days: int = 30
) -> dict[str, Any]:
    """The caller's calls of the last `days` (not this one): how many, and the latest."""
    now = time.time() if now is None else now
    if not number:
        return {"count": 0}
    page = records.list(caller=number, since=now - days * 86400, limit=20)
    items = [c for c in page.calls if c.get("id") != exclude]
    if not items:
        return {"count": 0}
    last = items[0]
    intents = last.get("intents") or []
    return {
        "count": len(items),
        "days": days,
        "last_days_ago": round((now - float(last.get("started_at") or now)) / 86400, 1),
        "last_outcome": last.get("outcome") or "",
        "last_intent": intents[-1]["name"] if intents else "",
        "last_id": last.get("id"),
    }


def _words(name: str) -> str:
    return str(name).replace("_", " ")


def parts(context: Mapping[str, Any], history: Mapping[str, Any] | None = None) -> list[str]:
    """The briefing's phrases, most worth first."""
    caller = context.get("caller") or {}
    tier = str(caller.get("tier") or "").lower()
    name = caller.get("name") or ""
    who = (
        f"{tier.upper() if tier == 'vip' else tier.capitalize()} caller"
        if tier and tier != "standard"
        else "Caller"
    )
    who = f"{who} {name}" if name else ("Unknown caller" if who == "Caller" else who)
    out = [who]
    level = (context.get("affect") or {}).get("level")
    if level == "escalate":
        out.append("sounds angry")
    elif level == "rising":
        out.append("sounds upset")
    intent = (context.get("intent") or {}).get("name")
    reason = str(context.get("reason") or "")
    if intent not in NONE_INTENTS:
        out.append(f"about {_words(intent)}")
    elif reason and not reason.startswith("route to"):
        out.append(
            reason.rstrip(".").replace("caller asked for a person", "asked for a person").split(":")[0]
        )
    vars_ = context.get("vars") or {}
    if vars_.get("answer_id"):
        out.append(f"already told about {_words(vars_['answer_id'])}")
    h = history or {}
    if h.get("count"):
        n = int(h["count"])
        when = "today" if h.get("last_days_ago", 99) < 1 else f"{round(h['last_days_ago'])} days ago"
        if n == 1:
            what = f" about {_words(h['last_intent'])}" if h.get("last_intent") not in NONE_INTENTS else ""
            out.append(f"called {when}{what}")
        else:
            out.append(f"{n} calls this month, last {when}")
    return out


def text_of(phrases: list[str]) -> str:
    return ", ".join(phrases) + "."


async def fit(
    phrases: list[str],
    synthesize: Callable[[str], Awaitable[bytes]],
    rate: int,
    limit_s: float = MAX_BRIEFING_S,
) -> tuple[str, bytes]:
    """The longest head of `phrases` whose speech fits in `limit_s`, and that speech."""
    keep = list(phrases)
    while True:
        text = text_of(keep)
        pcm = await synthesize(text)
        if len(pcm) / (2 * rate) <= limit_s or len(keep) <= 1:
            return text, pcm
        keep.pop()
