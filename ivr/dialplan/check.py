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
from ivr.dialplan.checker import Checker, Issue, Step, parse_ranges
from ivr.dialplan.spec import TOP
from ivr.dialplan.yamlpos import PathKey, YamlError, load
from ivr.queues import QueueRules, rules_from

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DialplanError(Exception):
    """A dialplan with errors; `issues` lists them all."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        super().__init__("\n".join(str(i) for i in errors) or "invalid dialplan")


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
    act_threshold: dict[str, float] = field(default_factory=dict)
    """intent -> the confidence its route needs to start something that cannot be taken back."""


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
    c = Checker(doc)
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
    """The dialplan at `path` (or `text`), and every issue found: None when any is an error."""
    file = str(path)
    try:
        doc = load(path, text)
    except YamlError as e:
        return None, [Issue(e.file, e.pos.line, e.pos.col, "E_YAML", e.message)]
    raw_text = text if text is not None else Path(path).read_text(encoding="utf-8")
    c = Checker(doc)
    if not isinstance(doc.data, dict):
        c.err((), "E_TYPE", "a dialplan is a mapping with at least start, queues and nodes")
        return None, c.issues
    top = c.check_spec(doc.data, TOP, ()) or {}
    nodes: dict[str, list[Step]] = {k: v for k, v in (top.get("nodes") or {}).items() if v is not None}
    queues = top.get("queues") or {}
    intents_raw = top.get("intents") or {}
    intents = {k: list((v or {}).get("examples") or []) for k, v in intents_raw.items()}
    base_dir = Path(file).resolve().parent
    _check_queues(c, queues)
    _check_references(c, nodes, queues, intents, base_dir)
    tz, hours = _check_hours(c, top)
    knowledge, included = _knowledge(c, top, base_dir)
    _check_reachable(c, top, nodes)
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
        keywords={
            k: list(v["keywords"])
            for k, v in intents_raw.items()
            if isinstance(v, dict) and v.get("keywords")
        },
        ask_as={
            k: str(v["ask_as"]) for k, v in intents_raw.items() if isinstance(v, dict) and v.get("ask_as")
        },
        act_threshold={
            k: float(v["act_threshold"])
            for k, v in intents_raw.items()
            if isinstance(v, dict) and isinstance(v.get("act_threshold"), int | float)
        },
    )
    return dialplan, c.issues


def _check_queues(c: Checker, queues: dict[str, Any]) -> None:
    """A queue's phone settings mean nothing without its phone (a queue without one rings its
    agents: ring_timeout_s and unavailable apply to those rings too)."""
    for qname, q in queues.items():
        for key in ("mode",):
            if isinstance(q, dict) and key in q and not q.get("uri"):
                c.err(
                    ("queues", qname, key),
                    "E_NEEDS_URI",
                    f"queues.{qname}.{key}: only applies to a queue with a phone (add uri: sip:...)",
                )


def _check_references(
    c: Checker, nodes: dict[str, Any], queues: dict[str, Any], intents: dict[str, Any], base_dir: Path
) -> None:
    """Every goto, queue, intent, prompt file and template variable names something that exists."""
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


def week_hours(c: Checker, raw: Any, where: tuple[Any, ...]) -> dict[int, list[tuple[dtime, dtime]]]:
    """Open hours by weekday (0 = Monday) from `mon-fri: 09:00-17:00` entries; problems to `c`."""
    hours: dict[int, list[tuple[dtime, dtime]]] = {}
    for days, ranges in (raw or {}).items():
        idx = _days(str(days))
        if idx is None:
            c.err(where + (days,), "E_HOURS", f"{days!r}: use mon..sun or a range like mon-fri")
            continue
        parsed = [] if ranges in (None, "closed") else (parse_ranges(ranges) or [])
        for d in idx:
            hours.setdefault(d, []).extend(parsed)
    return hours


def _check_hours(c: Checker, top: dict[str, Any]) -> tuple[str, dict[int, list[tuple[dtime, dtime]]]]:
    """The time zone and the business hours by weekday."""
    tz = top.get("timezone") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        c.err(("timezone",), "E_TIMEZONE", f"unknown time zone {tz!r} (use an IANA name like Europe/London)")
    hours = week_hours(c, top.get("business_hours"), ("business_hours",))
    if top.get("business_hours") and not top.get("after_hours"):
        c.err(
            ("business_hours",),
            "E_MISSING_FIELD",
            "business_hours needs after_hours: the node for closed hours",
        )
    return tz, hours


def _knowledge(c: Checker, top: dict[str, Any], base_dir: Path) -> tuple[list[dict[str, Any]], str]:
    """The knowledge entries, the dialplan's own and its files' (and the files' text, which
    counts in the dialplan's digest)."""
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
    return knowledge, included


def _check_reachable(c: Checker, top: dict[str, Any], nodes: dict[str, list[Step]]) -> None:
    """A node nothing leads to is a warning (the dialplan still loads)."""
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
