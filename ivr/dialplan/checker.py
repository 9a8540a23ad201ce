"""The dialplan's checker: a YAML document walked against the spec (`spec.py`), every issue
with its file, line and column, and what the cross-checks need (references, templates)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import time as dtime
from typing import Any

from ivr.dialplan import expr
from ivr.dialplan.spec import CASE, KB_ENTRY, VERBS, F, Spec
from ivr.dialplan.yamlpos import Located, PathKey, Pos

DTMF = set("0123456789*#")


@dataclass(frozen=True)
class Issue:
    file: str
    line: int
    col: int
    code: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.file}:{self.line}:{self.col}: {tag}{self.message} [{self.code}]"


@dataclass(frozen=True)
class Step:
    verb: str
    args: dict[str, Any]
    where: str  # "file:line" for logs and errors


class Checker:
    """Walks a dialplan's YAML against its spec, collecting every issue with its position,
    the references between its parts and the templates' variables."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.issues: list[Issue] = []
        self.refs: list[tuple[str, str, PathKey]] = []  # (kind, name, path)
        self.templates: list[tuple[str, PathKey]] = []
        self.assigned: set[str] = set()
        self.conditions: dict[str, Any] = {}

    def err(self, path: PathKey, code: str, message: str, severity: str = "error") -> None:
        pos: Pos = self.doc.pos(path)
        self.issues.append(Issue(self.doc.file, pos.line, pos.col, code, message, severity))

    # -- structure ----------------------------------------------------------------------
    def check(self, value: Any, kind: Any, path: PathKey, f: F | None = None) -> Any:
        if isinstance(kind, Spec):
            return self.check_spec(value, kind, path)
        if kind == "steps":
            return self.check_steps(value, path)
        if kind == "case":
            return self.check_spec(value, CASE, path)
        if kind == "kb":
            return self.check_spec(value, KB_ENTRY, path)
        if kind.startswith("list:"):
            if not isinstance(value, list):
                return self.type_err(path, value, "a list")
            return [self.check(v, kind[5:], path + (i,)) for i, v in enumerate(value)]
        if kind.startswith("map:"):
            if not isinstance(value, dict):
                self.type_err(path, value, "a mapping")
                return None
            return {k: self.check(v, kind[4:], path + (k,)) for k, v in value.items()}
        return self.check_scalar(value, kind, path, f)

    def type_err(self, path: PathKey, value: Any, expected: str) -> None:
        self.err(path, "E_TYPE", f"{_name(path)}: expected {expected}, got {_type(value)}")
        return None

    def check_spec(self, value: Any, spec: Spec, path: PathKey) -> dict[str, Any] | None:
        if spec.shorthand and not isinstance(value, dict):
            value = {spec.shorthand: value}
        if not isinstance(value, dict):
            self.type_err(path, value, "a mapping")
            return None
        out: dict[str, Any] = {}
        for key, v in value.items():
            if key in spec.fields:
                out[key] = self.check(v, spec.fields[key].kind, path + (key,), spec.fields[key])
            elif spec.extra is not None:
                out[key] = self.check(v, spec.extra, path + (key,))
            else:
                hint = difflib.get_close_matches(key, list(spec.fields), n=1)
                known = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(spec.fields)}"
                self.err(
                    path + (key,), "E_UNKNOWN_FIELD", f"unknown field {key!r} in {_name(path)} ({known})"
                )
        for key, f in spec.fields.items():
            if f.required and key not in value:
                self.err(path, "E_MISSING_FIELD", f"{_name(path)}: missing required field {key!r}")
        return out

    def check_steps(self, value: Any, path: PathKey) -> list[Step] | None:
        if not isinstance(value, list):
            self.type_err(path, value, "a list of steps")
            return None
        steps: list[Step] = []
        for i, item in enumerate(value):
            p = path + (i,)
            if not isinstance(item, dict) or len(item) != 1:
                self.err(
                    p,
                    "E_STEP",
                    f"{_name(p)}: a step is one verb, e.g. '- say: Hello' (verbs: {', '.join(VERBS)})",
                )
                continue
            verb, args = next(iter(item.items()))
            if verb not in VERBS:
                hint = difflib.get_close_matches(verb, list(VERBS), n=1)
                more = f"did you mean {hint[0]!r}?" if hint else f"verbs: {', '.join(VERBS)}"
                self.err(p + (verb,), "E_UNKNOWN_VERB", f"unknown verb {verb!r} ({more})")
                continue
            checked = self.check_spec(args, VERBS[verb], p + (verb,))
            if checked is None:
                continue
            self.verb_rules(verb, checked, p + (verb,))
            pos = self.doc.pos(p + (verb,))
            steps.append(Step(verb, checked, f"{self.doc.file}:{pos.line}"))
        return steps

    def check_scalar(self, value: Any, kind: str, path: PathKey, f: F | None) -> Any:
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return self.type_err(path, value, "a whole number")
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return self.type_err(path, value, "a number")
        elif kind == "bool":
            if not isinstance(value, bool):
                return self.type_err(path, value, "true or false")
        else:
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and kind in ("text", "template", "digit")
            ):
                value = str(value)  # "1" keys and numbers in text are fine
            if not isinstance(value, str):
                return self.type_err(path, value, "text")
        if f is not None and f.minimum is not None and isinstance(value, (int, float)) and value < f.minimum:
            self.err(path, "E_RANGE", f"{_name(path)}: must be at least {f.minimum:g}, got {value}")
        if f is not None and f.choices and value not in f.choices:
            self.err(path, "E_CHOICE", f"{_name(path)}: {value!r} is not one of {', '.join(f.choices)}")
        if kind in ("template", "url"):
            try:
                paths = expr.template_paths(value)
            except expr.ExprError as e:
                self.err(path, "E_TEMPLATE", f"{_name(path)}: {e}")
            else:
                self.templates.extend((p, path) for p in paths)
        if kind == "url":
            bare = re.sub(r"\{[^{}]*\}", "", value)
            if not (value.startswith(("http://", "https://", "{")) and " " not in bare):
                self.err(path, "E_URL", f"{_name(path)}: {value!r} is not an http(s) URL")
        elif kind == "sipuri":
            if not re.fullmatch(
                r"(sips?:[^@\s<>\"]+@[^\s<>\";]+|tel:\+?[0-9][0-9\-.()]*)(;[^\s<>\"]*)?", value
            ):
                self.err(
                    path,
                    "E_SIP_URI",
                    f"{_name(path)}: {value!r} is not a SIP address like sip:agent@host:5060",
                )
        elif kind == "regex":
            try:
                re.compile(value)
            except re.error as e:
                self.err(path, "E_REGEX", f"{_name(path)}: invalid regular expression: {e}")
        elif kind == "condition":
            try:
                tree, paths = expr.compile_condition(value)
            except expr.ExprError as e:
                self.err(path, "E_CONDITION", f"{_name(path)}: {e}")
            else:
                self.conditions[value] = tree
                self.templates.extend((p, path) for p in paths)
        elif kind == "digit":
            if value not in DTMF:
                self.err(path, "E_DIGIT", f"{_name(path)}: {value!r} is not a key (0-9, *, #)")
        elif kind == "name":
            if not re.fullmatch(r"[A-Za-z_]\w*", value):
                self.err(path, "E_NAME", f"{_name(path)}: {value!r} is not a variable name")
        elif kind == "hours":
            if value != "closed" and parse_ranges(value) is None:
                self.err(
                    path,
                    "E_HOURS",
                    f"{_name(path)}: {value!r}: use 'HH:MM-HH:MM' (or several, comma-separated) or 'closed'",
                )
        elif kind in ("node", "queue", "intent", "file"):
            self.refs.append((kind, value, path))
        return value

    def verb_rules(self, verb: str, a: dict[str, Any], path: PathKey) -> None:
        if verb == "set":
            self.assigned.update(a)
            for k in a:
                if not re.fullmatch(r"[A-Za-z_]\w*", k):
                    self.err(path + (k,), "E_NAME", f"{k!r} is not a variable name")
        if verb in ("gather", "lookup") and a.get("var"):
            self.assigned.add(a["var"])
        if verb == "menu":
            for key in a.get("choices") or {}:
                if key not in DTMF:
                    self.err(
                        path + ("choices", key), "E_DIGIT", f"menu choice {key!r} is not a key (0-9, *, #)"
                    )
        if verb == "gather":
            kind = a.get("input")
            if kind == "intent" and not a.get("routes") and not a.get("next") and not a.get("var"):
                self.err(path, "E_GATHER", "gather input=intent needs routes (intent -> node), next or var")
            if kind == "yes_no" and not (a.get("yes") and a.get("no")) and not a.get("var"):
                self.err(path, "E_GATHER", "gather input=yes_no needs yes and no nodes, or a var")
            lo, hi = a.get("min_digits"), a.get("max_digits")
            if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                self.err(path + ("min_digits",), "E_RANGE", f"min_digits {lo} is more than max_digits {hi}")
            for k in ("min_digits", "max_digits", "terminator"):
                if k in a and kind != "digits":
                    self.err(path + (k,), "E_GATHER", f"{k} applies to input=digits only")
            if "routes" in a and kind != "intent":
                self.err(path + ("routes",), "E_GATHER", "routes apply to input=intent only")
            if "knowledge" in a and kind != "intent":
                self.err(path + ("knowledge",), "E_GATHER", "knowledge applies to input=intent only")
            if "corrects" in a and kind != "yes_no":
                self.err(
                    path + ("corrects",),
                    "E_GATHER",
                    "corrects applies to input=yes_no only (the question after a read-back)",
                )
            for intent in a.get("routes") or {}:
                self.refs.append(("intent", intent, path + ("routes", intent)))


def _name(path: PathKey) -> str:
    return ".".join(str(p) for p in path) or "the document"


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def parse_ranges(value: str) -> list[tuple[dtime, dtime]] | None:
    out = []
    for part in value.split(","):
        m = re.fullmatch(r"\s*(\d\d):(\d\d)-(\d\d):(\d\d)\s*", part)
        if not m:
            return None
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2, m2) <= (h1, m1):
            return None
        out.append((dtime(h1, m1), dtime(23, 59, 59) if h2 == 24 else dtime(h2, m2)))
    return out
