"""Templates ("Hello {caller.name}") and conditions ("caller.tier == 'vip'") for dialplans.

Both are parsed when the dialplan loads, so a typo is an error with a line number, never a
surprise in a live call. Conditions are a small safe subset of Python expressions: names,
attributes, constants, comparisons, `in`, `and`/`or`/`not`. Nothing is ever executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

ROOTS = {
    "caller": {"number", "name", "account", "tier", "known"},
    "intent": {"name", "confidence", "text"},
    "last": {"text", "digits"},
    "call": {"id", "hour", "weekday", "date", "time", "agent_key"},
    "hours": {"open"},
    "vars": None,  # any name the dialplan assigns (set, gather var, lookup var)
    "config": None,  # values the service supplies (e.g. config.api_base)
}

_TEMPLATE_VAR = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ExprError(ValueError):
    """A template or condition that cannot be used; the message says why."""


def template_paths(text: str) -> list[str]:
    """The variable paths a template refers to. Raises ExprError on a malformed one."""
    paths: list[str] = []
    for m in _TEMPLATE_VAR.finditer(text):
        if m.group(1) is None:
            continue
        inner = m.group(1).strip()
        if not _PATH.match(inner):
            raise ExprError(f"bad template variable {{{m.group(1)}}}: use {{root.name}}")
        paths.append(inner)
    stray = _TEMPLATE_VAR.sub("", text)
    if "{" in stray or "}" in stray:
        raise ExprError("unbalanced { or } in template (write {{ or }} for a literal brace)")
    return paths


def check_path(path: str, assigned: set[str]) -> str | None:
    """Why `path` can never have a value, or None when it can."""
    root, _, rest = path.partition(".")
    if root not in ROOTS:
        return f"unknown variable {path!r}: roots are {', '.join(sorted(ROOTS))}"
    allowed = ROOTS[root]
    first = rest.split(".")[0] if rest else ""
    if not first:
        return f"{path!r}: name a field, e.g. {root}.{sorted(allowed)[0] if allowed else 'name'}"
    if root == "vars" and first not in assigned:
        return f"variable {path!r} is never set (no set, gather var or lookup var names {first!r})"
    if allowed is not None and first not in allowed:
        return f"unknown field {path!r}: {root} has {', '.join(sorted(allowed))}"
    return None


def lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    return value


def render(text: str, context: Mapping[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        value = lookup(context, m.group(1).strip())
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.2f}".rstrip("0").rstrip(".")
        return str(value)

    return _TEMPLATE_VAR.sub(sub, text)


_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Attribute,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Load,
)


def compile_condition(source: str) -> tuple[ast.Expression, list[str]]:
    """Parse a condition; returns its tree and the variable paths it reads."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"condition {source!r} is not valid: {e.msg}") from None
    paths: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(
                f"condition {source!r}: {type(node).__name__} is not allowed "
                "(use names, constants, ==, !=, <, >, in, and, or, not)"
            )
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            path = _dotted(node)
            if path is None:
                raise ExprError(f"condition {source!r}: only dotted names like caller.tier")

    # collect outermost dotted names only
    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Attribute, ast.Name)):
            paths.append(_dotted(node) or "")
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return tree, paths


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def evaluate(tree: ast.Expression, context: Mapping[str, Any]) -> bool:
    return bool(_eval(tree.body, context))


def _eval(node: ast.AST, ctx: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Name, ast.Attribute)):
        return lookup(ctx, _dotted(node) or "")
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, ctx) for e in node.elts]
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, ctx) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        return not _eval(node.operand, ctx)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, ctx)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, ctx)
            try:
                ok = _compare(op, left, right)
            except TypeError:
                ok = False  # e.g. None < 3: a missing value satisfies no comparison
            if not ok:
                return False
            left = right
        return True
    raise ExprError(f"cannot evaluate {type(node).__name__}")


def _compare(op: ast.cmpop, a: Any, b: Any) -> bool:
    if isinstance(op, ast.Eq):
        return bool(a == b)
    if isinstance(op, ast.NotEq):
        return bool(a != b)
    if isinstance(op, ast.In):
        return b is not None and a in b
    if isinstance(op, ast.NotIn):
        return b is None or a not in b
    if a is None or b is None:
        return False
    if isinstance(op, ast.Lt):
        return bool(a < b)
    if isinstance(op, ast.LtE):
        return bool(a <= b)
    if isinstance(op, ast.Gt):
        return bool(a > b)
    if isinstance(op, ast.GtE):
        return bool(a >= b)
    raise ExprError(f"unsupported comparison {type(op).__name__}")
