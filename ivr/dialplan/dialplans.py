"""Several dialplans live at once (one a number, `ivr.telephony.numbers`): each is validated and
hot-reloaded on its own, so a broken edit of the VIP line's dialplan leaves the main line's
running, and a call keeps the version it started on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ivr.dialplan.manager import Active, DialplanManager


class Dialplans:
    def __init__(self, files: dict[str, Path], embedder: Any) -> None:
        """`files`: name -> dialplan file; the first is the default. Raises DialplanError
        (of the first broken file) when one cannot be loaded at all."""
        if not files:
            raise ValueError("no dialplan")
        self._embedder = embedder
        self._live: Any = None
        self.managers: dict[str, DialplanManager] = {
            name: DialplanManager(path, embedder) for name, path in files.items()
        }
        self.default = next(iter(files))

    def active(self, name: str = "") -> Active:
        """The version new calls on dialplan `name` start on (the default for "" or a name gone)."""
        manager = self.managers.get(name) or self.managers[self.default]
        return manager.active

    def use_live_knowledge(self, live: Any) -> None:
        self._live = live
        for manager in self.managers.values():
            manager.use_live_knowledge(live)

    def replace(self, files: dict[str, Path]) -> None:
        """A new numbers file: dialplans added are loaded, ones dropped are let go (their calls
        finish on the version they hold), the others kept as they are. A new one that does not
        load raises DialplanError and nothing changes."""
        added = {n: DialplanManager(p, self._embedder) for n, p in files.items() if n not in self.managers
                 or self.managers[n].path != Path(p)}  # fmt: skip
        if self._live is not None:
            for manager in added.values():
                manager.use_live_knowledge(self._live)
        kept = {n: self.managers[n] for n in files if n not in added}
        self.managers = {n: kept.get(n) or added[n] for n in files}
        self.default = next(iter(files))

    def queue_rules(self) -> dict[str, Any]:
        """Every live dialplan's queues (a queue two dialplans both define: the first's rules)."""
        rules: dict[str, Any] = {}
        for manager in self.managers.values():
            for name, rule in manager.active.dialplan.queue_rules.items():
                rules.setdefault(name, rule)
        return rules

    async def watch(self, interval_s: float = 1.0) -> None:
        """Reload each dialplan whose file changed (each on its own)."""
        while True:
            await asyncio.sleep(interval_s)
            for manager in list(self.managers.values()):
                if manager.changed_on_disk():
                    await asyncio.to_thread(manager.reload)

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: manager.status() for name, manager in self.managers.items()}
