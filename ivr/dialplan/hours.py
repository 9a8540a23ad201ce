"""Business hours: is the hotline open at a call's local time?"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from ivr.dialplan.check import Dialplan


def is_open(
    dialplan: Dialplan, now: datetime, hours: dict[int, list[tuple[time, time]]] | None = None
) -> bool:
    """`hours`: the number called has its own (the numbers file's), in the dialplan's time zone."""
    if hours is None and not dialplan.hours and not dialplan.after_hours:
        return True
    local = now.astimezone(ZoneInfo(dialplan.timezone))
    t = local.time()
    return any(a <= t <= b for a, b in (dialplan.hours if hours is None else hours).get(local.weekday(), []))
