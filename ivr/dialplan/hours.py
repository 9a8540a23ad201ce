"""Business hours: is the hotline open at a call's local time?"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.dialplan.check import Dialplan


def is_open(dialplan: Dialplan, now: datetime) -> bool:
    if not dialplan.hours and not dialplan.after_hours:
        return True
    local = now.astimezone(ZoneInfo(dialplan.timezone))
    t = local.time()
    return any(a <= t <= b for a, b in dialplan.hours.get(local.weekday(), []))
