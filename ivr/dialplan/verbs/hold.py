"""`hold`: hold music for up to `seconds` (a key or words end it early and go through the
global handlers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("hold")
async def hold(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    if a.get("say"):
        await r.speak(a["say"])
    music = str(r.dp.base_dir / a["music"]) if a.get("music") else None
    await r.conv.start_hold(music)
    try:
        await r.ask(None, timeout_ms=int(a["seconds"]) * 1000, count_silence=False)
    finally:
        await r.conv.stop_hold()
    return None
