"""The QA config (dialplans/qa.yaml): flag weights and thresholds, the review sampling, and the
reviewers' form, which the admin defines. A broken file is refused with its line and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ivr.qa.flags import DEFAULT_WEIGHTS, Thresholds

QUESTION_TYPES = ("yes_no", "scale")


class QaConfigError(ValueError):
    """The QA config cannot be used; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    type: str = "yes_no"
    weight: float = 1.0
    scale: int = 5

    def points(self, answer: Any) -> float | None:
        """0-1 for an answer (None: not answered / not applicable)."""
        if answer is None or answer == "":
            return None
        if self.type == "yes_no":
            if isinstance(answer, bool):
                return 1.0 if answer else 0.0
            a = str(answer).lower()
            if a in ("yes", "y", "true", "1"):
                return 1.0
            if a in ("no", "n", "false", "0"):
                return 0.0
            if a in ("n/a", "na"):
                return None
            raise ValueError(f"{self.id}: answer yes, no or n/a, not {answer!r}")
        try:
            v = int(answer)
        except (TypeError, ValueError):
            raise ValueError(f"{self.id}: a number from 1 to {self.scale}, not {answer!r}") from None
        if not 1 <= v <= self.scale:
            raise ValueError(f"{self.id}: a number from 1 to {self.scale}, not {v}")
        return (v - 1) / (self.scale - 1)


@dataclass(frozen=True)
class ReviewForm:
    name: str
    questions: tuple[Question, ...]
    pass_mark: float = 0.8

    def score(self, answers: Mapping[str, Any]) -> float:
        """The share of the form's points the answers earn (unanswered questions left out)."""
        unknown = set(answers) - {q.id for q in self.questions}
        if unknown:
            raise ValueError(f"no question {sorted(unknown)[0]!r} on form {self.name}")
        got = total = 0.0
        for q in self.questions:
            p = q.points(answers.get(q.id))
            if p is not None:
                got += p * q.weight
                total += q.weight
        if total == 0:
            raise ValueError("answer at least one question of the form")
        return round(got / total, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pass_mark": self.pass_mark,
            "questions": [
                {"id": q.id, "text": q.text, "type": q.type, "weight": q.weight, "scale": q.scale}
                for q in self.questions
            ],
        }


DEFAULT_FORM = ReviewForm(
    "default",
    (
        Question("understood", "Did the IVR understand what the caller wanted?", weight=2),
        Question("correct", "Was the information given correct and complete?", weight=2),
        Question("escalated_right", "Was the caller handed to a person when they needed one?", weight=2),
        Question("tone", "How was the experience for the caller?", "scale", 1),
    ),
)


@dataclass(frozen=True)
class QaConfig:
    share: float = 0.2
    random_share: float = 0.03
    seed: str = "qa"
    min_score: float = 0.15
    timezone: str = "UTC"
    risky_at: float = 0.5
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: Thresholds = field(default_factory=Thresholds)
    form: ReviewForm = DEFAULT_FORM
    source: str = "(embedded defaults)"


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    out: dict[str, Any] = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    out["__line__"] = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_qa_config(path: str | Path | None) -> QaConfig:
    """The config at `path`; the embedded defaults if `path` is empty or does not exist."""
    if not path or not Path(path).exists():
        return QaConfig()
    p = Path(path)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_Loader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise QaConfigError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise QaConfigError(f"{p}:1: expected a mapping (sampling:, weights:, form:)")

    def err(node: Mapping[str, Any], msg: str) -> QaConfigError:
        return QaConfigError(f"{p}:{node.get('__line__', 1)}: {msg}")

    def num(node: Mapping[str, Any], key: str, default: float, lo: float = 0.0, hi: float = 1.0) -> float:
        v = node.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise err(node, f"{key}: a number from {lo:g} to {hi:g}, not {v!r}")
        return float(v)

    known = {"sampling", "risky_at", "weights", "thresholds", "form", "__line__"}
    for k in data:
        if k not in known:
            raise err(data, f"unknown key {k!r} (one of sampling, risky_at, weights, thresholds, form)")
    s = data.get("sampling") or {"__line__": data["__line__"]}
    tz = str(s.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise err(s, f"timezone: unknown time zone {tz!r}") from None
    weights = dict(DEFAULT_WEIGHTS)
    w = data.get("weights") or {}
    for k in w:
        if k == "__line__":
            continue
        if k not in DEFAULT_WEIGHTS:
            raise err(w, f"weights: unknown flag {k!r} (one of {', '.join(DEFAULT_WEIGHTS)})")
        weights[k] = num(w, k, 0)
    t = data.get("thresholds") or {}
    base = Thresholds()
    th_values: dict[str, Any] = {}
    for k in t:
        if k == "__line__":
            continue
        if not hasattr(base, k):
            raise err(t, f"thresholds: unknown {k!r}")
        th_values[k] = type(getattr(base, k))(num(t, k, 0, 0, 10**9))
    return QaConfig(
        share=num(s, "share", 0.2),
        random_share=num(s, "random_share", 0.03),
        seed=str(s.get("seed", "qa")),
        min_score=num(s, "min_score", 0.15),
        timezone=tz,
        risky_at=num(data, "risky_at", 0.5),
        weights=weights,
        thresholds=replace(base, **th_values),
        form=_form(data.get("form"), err, num),
        source=str(p),
    )


def _form(node: Any, err: Any, num: Any) -> ReviewForm:
    if node is None:
        return DEFAULT_FORM
    if not isinstance(node, dict):
        raise QaConfigError("form: expected name:, questions:")
    qs = node.get("questions")
    if not isinstance(qs, list) or not qs:
        raise err(node, "form: questions: a list of at least one question")
    out: list[Question] = []
    for q in qs:
        if not isinstance(q, dict) or not q.get("id") or not q.get("text"):
            raise err(node if not isinstance(q, dict) else q, "form: each question needs id: and text:")
        kind = str(q.get("type", "yes_no"))
        if kind not in QUESTION_TYPES:
            raise err(q, f"form: question {q['id']}: type {kind!r} (one of {', '.join(QUESTION_TYPES)})")
        if any(o.id == str(q["id"]) for o in out):
            raise err(q, f"form: question id {q['id']!r} twice")
        scale = int(num(q, "scale", 5, 2, 10))
        out.append(Question(str(q["id"]), str(q["text"]), kind, num(q, "weight", 1, 0, 100), scale))
    return ReviewForm(str(node.get("name", "form")), tuple(out), num(node, "pass_mark", 0.8))
