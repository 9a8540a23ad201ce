"""Hot reload: the running dialplan is replaced only by a version that validates.

A broken edit is refused with its errors logged and kept for the API; the running version
stays. Calls hold the version they started with, so they finish on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.dialplan.check import Dialplan, DialplanError, check_dialplan
from ivr.dialplan.checker import Issue
from ivr.dialplan.understanding import Understanding

log = logging.getLogger("ivr.dialplan")


@dataclass(frozen=True)
class Active:
    dialplan: Dialplan
    understanding: Understanding
    loaded_at: float


@dataclass
class ReloadResult:
    ok: bool
    changed: bool
    issues: list[Issue] = field(default_factory=list)


class DialplanManager:
    def __init__(self, path: str | Path, embedder: Any) -> None:
        self.path = Path(path)
        self._embedder = embedder
        self._live: Any = None
        self._active: Active | None = None
        self.last_error: list[Issue] = []
        self.last_error_at: float | None = None
        self._mtime = 0.0
        result = self.reload()
        if not result.ok:
            raise DialplanError(result.issues)

    @property
    def active(self) -> Active:
        """The version new calls start on (there is one from the start: a manager whose
        first load fails is never made)."""
        assert self._active is not None
        return self._active

    def reload(self) -> ReloadResult:
        """Validate the file; swap it in only when it has no errors."""
        try:
            self._mtime = self.path.stat().st_mtime
        except OSError:
            pass
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            issue = Issue(str(self.path), 1, 1, "E_READ", f"cannot read: {e}")
            return self._refuse([issue])
        if self._active is not None and self._active.dialplan.digest == _digest(text):
            return ReloadResult(True, False)
        dialplan, issues = check_dialplan(self.path, text)
        if dialplan is None:
            return self._refuse(issues)
        self._active = Active(
            dialplan, Understanding.build(dialplan, self._embedder, self._live), time.time()
        )
        self.last_error, self.last_error_at = [], None
        log.info("dialplan %s loaded (version %r, %s)", self.path, dialplan.version, dialplan.digest)
        return ReloadResult(True, True, issues)

    def use_live_knowledge(self, live: Any) -> None:
        """Answer from the store's approved entries too (ivr.kb.live.LiveKnowledge), in this
        version and every one loaded after."""
        self._live = live
        if self._active is not None:
            self._active.understanding.live = live

    def _refuse(self, issues: list[Issue]) -> ReloadResult:
        self.last_error, self.last_error_at = issues, time.time()
        for issue in issues:
            if issue.severity == "error":
                log.error("dialplan refused, keeping the running version: %s", issue)
        return ReloadResult(False, False, issues)

    def changed_on_disk(self) -> bool:
        try:
            return self.path.stat().st_mtime != self._mtime
        except OSError:
            return False

    async def watch(self, interval_s: float = 1.0) -> None:
        """Reload whenever the file changes (poll: works on every filesystem)."""
        while True:
            await asyncio.sleep(interval_s)
            if self.changed_on_disk():
                await asyncio.to_thread(self.reload)

    def status(self) -> dict[str, Any]:
        a = self._active
        return {
            "file": str(self.path),
            "name": a.dialplan.name if a else None,
            "version": a.dialplan.version if a else None,
            "digest": a.dialplan.digest if a else None,
            "loaded_at": a.loaded_at if a else None,
            "warnings": [str(i) for i in (a.dialplan.warnings if a else [])],
            "last_error": [str(i) for i in self.last_error if i.severity == "error"] or None,
            "last_error_at": self.last_error_at,
        }


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]
