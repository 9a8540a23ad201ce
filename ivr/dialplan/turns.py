"""Turns the VAD cut mid-thought, joined back (the runner's side of patient endpointing).

The caller says "I'd like to pay my bill," pauses, and goes on "but it's wrong again": the
VAD may end the turn at the pause, and the IVR starts answering the first part. When the
next turn starts within `join_grace_ms` of the end of that one (`Input.gap_ms`), the two are
one turn: the runner goes back to the state before the step that heard the first part, and
that step takes the whole turn without saying its prompt again (`turn_join` event). A key, a
silence or a secure answer in between ends the chance to join, and so does a step that
changed something outside the call (a POST lookup: going back would send it twice).
"""

from __future__ import annotations

import copy
from typing import Any

from ivr.conversation import Input, InputKind

JOIN_GRACE_MS = 1200
"""A turn that starts this soon after the caller's previous one ended continues it."""
LAST_WORD_MS = 300
"""After a goodbye that answered the caller's last turn, how long the line is listened to
before the hang-up (the caller may not have finished)."""

Mark = tuple[str, int, Any]  # (node, step index, the call state before that step)


class Rejoin(Exception):
    """The caller went on speaking just after a turn the IVR had begun to answer."""

    def __init__(self, mark: Mark, text: str, gap_ms: int) -> None:
        super().__init__(text)
        self.mark, self.text, self.gap_ms = mark, text, gap_ms


class Turns:
    def __init__(self, grace_ms: int = JOIN_GRACE_MS) -> None:
        self.grace_ms = grace_ms
        self._step: Mark | None = None  # the step being run, and the state before it
        self._last: tuple[Mark, str] | None = None  # the last turn heard: where, and its text
        self.replay: Input | None = None  # a joined turn, for the re-run step to take

    def at_step(self, node: str, index: int, state: Any) -> None:
        self._step = (node, index, copy.deepcopy(state))

    def heard(self, item: Input, secure: bool) -> None:
        """An input the runner takes: raises Rejoin when it continues the last turn."""
        if item.kind is InputKind.AFFECT or (item.kind is InputKind.SPEECH and not item.text.strip()):
            return  # the radar's verdict on the same words, or noise: the turn may still go on
        if item.kind is not InputKind.SPEECH or secure:
            self._last = None  # a key, a silence, a secure answer came between: nothing to join
            return
        last, gap = self._last, item.gap_ms
        if last is not None and gap is not None and 0 < self.grace_ms >= gap:
            self._last = None
            raise Rejoin(last[0], f"{last[1]} {item.text.strip()}", gap)
        if self._step is not None:
            self._last = (self._step, item.text.strip())

    def commit(self) -> None:
        """Something outside the call was changed (a POST): the turns before it stay as heard."""
        self._last = None

    @property
    def may_go_on(self) -> bool:
        """The last input was a turn the caller may still be finishing."""
        return self._last is not None and self.grace_ms > 0

    def take_replay(self) -> Input | None:
        item, self.replay = self.replay, None
        return item

    def rejoin(self, r: Rejoin) -> tuple[str, int, Any]:
        """(node, step, the state to restore); the step's gather then takes the whole turn."""
        node, index, saved = r.mark
        self.replay = Input(InputKind.SPEECH, text=r.text)
        return node, index, copy.deepcopy(saved)
