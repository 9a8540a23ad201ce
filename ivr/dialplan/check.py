"""Load and validate a dialplan: every error at once, as `file:line:col: message [code]`.

A dialplan that has errors is never run; warnings (unreachable nodes) are reported and
the dialplan still loads.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.dialplan import expr
from ivr.dialplan.spec import CASE, KB_ENTRY, TOP, VERBS, F, Spec
from ivr.dialplan.yamlpos import Located, PathKey, Pos, YamlError, load
from ivr.queues import QueueRules, rules_from

DTMF = set("0123456789*#")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


class DialplanError(Exception):
    """A dialplan with errors; `issues` lists them all."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        super().__init__("\n".join(str(i) for i in errors) or "invalid dialplan")


@dataclass(frozen=True)
class Step:
    verb: str
    args: dict[str, Any]
    where: str  # "file:line" for logs and errors


@dataclass
class Dialplan:
    file: str
    name: str
    version: str
    digest: str
    start: str
    nodes: dict[str, list[Step]]
    queues: dict[str, dict[str, Any]]
    queue_rules: dict[str, QueueRules]
    """`queues` parsed once: what a transfer to each queue carries."""
    intents: dict[str, list[str]]
    knowledge: list[dict[str, Any]]
    globals: dict[str, Any]
    settings: dict[str, Any]
    timezone: str
    hours: dict[int, list[tuple[dtime, dtime]]]
    after_hours: str | None
    base_dir: Path
    conditions: dict[str, Any] = field(default_factory=dict)
    warnings: list[Issue] = field(default_factory=list)
    redact: list[str] = field(default_factory=list)
    keywords: dict[str, list[str]] = field(default_factory=dict)
    """intent -> words that decide it (ahead of similarity)."""
    ask_as: dict[str, str] = field(default_factory=dict)
    """intent -> how the IVR names it when it asks which of two was meant ("paying your bill")."""


class _Checker:
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
            if value != "closed" and _parse_ranges(value) is None:
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


def _parse_ranges(value: str) -> list[tuple[dtime, dtime]] | None:
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


def _days(spec: str) -> list[int] | None:
    spec = spec.strip().lower()
    if spec in DAYS:
        return [DAYS.index(spec)]
    m = re.fullmatch(r"(\w{3})-(\w{3})", spec)
    if m and m.group(1) in DAYS and m.group(2) in DAYS:
        a, b = DAYS.index(m.group(1)), DAYS.index(m.group(2))
        return list(range(a, b + 1)) if a <= b else None
    return None


def _reachable(start: list[str], nodes: dict[str, list[Step]], edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [n for n in start if n in nodes]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(t for t in edges.get(n, ()) if t in nodes)
    return seen


def _knowledge_file(path: Path) -> tuple[list[dict[str, Any]], str | None, list[Issue]]:
    """A knowledge file's entries (`knowledge: [...]` or a bare list), checked, with its issues
    named by that file."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = load(path, text)
    except (OSError, UnicodeDecodeError) as e:
        return [], None, [Issue(str(path), 1, 1, "E_READ", str(e))]
    except YamlError as e:
        return [], "", [Issue(e.file, e.pos.line, e.pos.col, "E_YAML", e.message)]
    c = _Checker(doc)
    data, where = doc.data, cast(PathKey, ())
    if isinstance(data, dict):
        data, where = data.get("knowledge"), ("knowledge",)
    if not isinstance(data, list):
        c.err(
            where,
            "E_TYPE",
            "a knowledge file holds knowledge: with a list of entries (id, questions, answer)",
        )
        return [], text, c.issues
    entries = [e for e in (c.check(v, "kb", where + (i,)) for i, v in enumerate(data)) if e]
    return entries, text, c.issues


def load_dialplan(path: str | Path, text: str | None = None) -> Dialplan:
    """Load and validate; raises DialplanError listing every error."""
    dialplan, issues = check_dialplan(path, text)
    if dialplan is None:
        raise DialplanError(issues)
    return dialplan


def check_dialplan(path: str | Path, text: str | None = None) -> tuple[Dialplan | None, list[Issue]]:
    file = str(path)
    try:
        doc = load(path, text)
    except YamlError as e:
        return None, [Issue(e.file, e.pos.line, e.pos.col, "E_YAML", e.message)]
    raw_text = text if text is not None else Path(path).read_text(encoding="utf-8")
    c = _Checker(doc)
    if not isinstance(doc.data, dict):
        c.err((), "E_TYPE", "a dialplan is a mapping with at least start, queues and nodes")
        return None, c.issues
    top = c.check_spec(doc.data, TOP, ()) or {}
    nodes: dict[str, list[Step]] = {k: v for k, v in (top.get("nodes") or {}).items() if v is not None}
    queues = top.get("queues") or {}
    intents_raw = top.get("intents") or {}
    intents = {k: list((v or {}).get("examples") or []) for k, v in intents_raw.items()}
    keywords = {
        k: list(v["keywords"]) for k, v in intents_raw.items() if isinstance(v, dict) and v.get("keywords")
    }
    ask_as = {k: str(v["ask_as"]) for k, v in intents_raw.items() if isinstance(v, dict) and v.get("ask_as")}
    base_dir = Path(file).resolve().parent

    # a queue's phone settings mean nothing without its phone (a queue without one rings its
    # agents: ring_timeout_s and unavailable apply to those rings too)
    for qname, q in queues.items():
        for key in ("mode",):
            if isinstance(q, dict) and key in q and not q.get("uri"):
                c.err(
                    ("queues", qname, key),
                    "E_NEEDS_URI",
                    f"queues.{qname}.{key}: only applies to a queue with a phone (add uri: sip:...)",
                )

    # cross references
    for kind, name, p in c.refs:
        if kind == "node" and name not in nodes:
            hint = difflib.get_close_matches(name, list(nodes), n=1)
            c.err(
                p,
                "E_GOTO_TARGET",
                f"no node named {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
            )
        elif kind == "queue" and name not in queues:
            c.err(p, "E_UNKNOWN_QUEUE", f"no queue named {name!r} (queues: {', '.join(queues) or 'none'})")
        elif kind == "intent" and name not in intents:
            c.err(
                p, "E_UNKNOWN_INTENT", f"no intent named {name!r} (intents: {', '.join(intents) or 'none'})"
            )
        elif kind == "file" and not (base_dir / name).is_file():
            c.err(p, "E_PROMPT_FILE", f"prompt file {name!r} not found (looked in {base_dir})")
    for var_path, p in c.templates:
        reason = expr.check_path(var_path, c.assigned)
        if reason:
            c.err(p, "E_TEMPLATE_VAR", reason)

    # time zone and hours
    tz = top.get("timezone") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        c.err(("timezone",), "E_TIMEZONE", f"unknown time zone {tz!r} (use an IANA name like Europe/London)")
    hours: dict[int, list[tuple[dtime, dtime]]] = {}
    for days, ranges in (top.get("business_hours") or {}).items():
        idx = _days(days)
        if idx is None:
            c.err(("business_hours", days), "E_HOURS", f"{days!r}: use mon..sun or a range like mon-fri")
            continue
        parsed = [] if ranges in (None, "closed") else (_parse_ranges(ranges) or [])
        for d in idx:
            hours.setdefault(d, []).extend(parsed)
    if top.get("business_hours") and not top.get("after_hours"):
        c.err(
            ("business_hours",),
            "E_MISSING_FIELD",
            "business_hours needs after_hours: the node for closed hours",
        )

    knowledge = list(top.get("knowledge") or [])
    included = ""
    for i, name in enumerate(top.get("knowledge_files") or []):
        entries, text, issues = _knowledge_file(base_dir / str(name))
        if text is None:
            c.err(
                ("knowledge_files", i),
                "E_READ",
                f"knowledge file {name!r}: {issues[0].message if issues else 'unreadable'}",
            )
            continue
        c.issues.extend(issues)
        knowledge += entries
        included += text

    # reachability
    edges: dict[str, set[str]] = {n: set() for n in nodes}
    for kind, name, p in c.refs:
        if kind == "node" and len(p) >= 2 and p[0] == "nodes":
            edges.setdefault(str(p[1]), set()).add(name)
    roots = [top.get("start") or "", top.get("after_hours") or ""]
    roots += [name for kind, name, p in c.refs if kind == "node" and p[:1] != ("nodes",)]
    seen = _reachable(roots, nodes, edges)
    for n in nodes:
        if n not in seen:
            c.err(("nodes", n), "W_UNREACHABLE", f"node {n!r} is never reached", severity="warning")

    if any(i.severity == "error" for i in c.issues):
        return None, c.issues
    dialplan = Dialplan(
        file=file,
        name=str(top.get("name") or Path(file).stem),
        version=str(top.get("version") or ""),
        digest=hashlib.sha256((raw_text + included).encode()).hexdigest()[:12],
        start=top["start"],
        nodes=nodes,
        queues=queues,
        queue_rules=rules_from(queues),
        intents=intents,
        knowledge=knowledge,
        globals=top.get("globals") or {},
        settings=top.get("settings") or {},
        timezone=tz,
        hours=hours,
        after_hours=top.get("after_hours"),
        base_dir=base_dir,
        conditions=c.conditions,
        warnings=[i for i in c.issues if i.severity != "error"],
        redact=list(top.get("redact") or []),
        keywords=keywords,
        ask_as=ask_as,
    )
    return dialplan, c.issues
