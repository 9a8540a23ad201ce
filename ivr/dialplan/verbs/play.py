"""`play`: a WAV prompt (its path relative to the dialplan)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivr.dialplan.verbs import verb

if TYPE_CHECKING:
    from ivr.dialplan.runner import DialplanRunner


@verb("play")
async def play(r: DialplanRunner, a: Mapping[str, Any]) -> str | None:
    await r.conv.play_file(str(r.dp.base_dir / a["file"]), interruptible=a.get("interruptible", True))
    return None
