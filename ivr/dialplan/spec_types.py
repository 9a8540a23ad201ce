"""The two shapes of the dialplan's schema table (`spec.py`, `spec_globals.py`): a field and an
object of fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Field kinds. Scalars: text, template, int, number, bool, node, queue, intent, file, url, sipuri,
# regex, condition, digit, name, clock. Containers: "list:KIND", "map:KIND", or a Spec.


@dataclass(frozen=True)
class F:
    kind: Any
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None


@dataclass(frozen=True)
class Spec:
    """An object with known fields; `shorthand` names the field a bare scalar fills."""

    fields: dict[str, F]
    doc: str = ""
    shorthand: str | None = None
    extra: Any = None  # kind of values under unknown keys (None: unknown keys are errors)
