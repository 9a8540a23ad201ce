"""YAML loading that remembers where every value came from (line and column).

Admins get errors as `file:line:col: message`, so each mapping key and value keeps its
position. Values are plain Python objects; positions live in a side table keyed by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Pos:
    line: int
    col: int


class YamlError(Exception):
    def __init__(self, file: str, pos: Pos, message: str) -> None:
        super().__init__(f"{file}:{pos.line}:{pos.col}: {message}")
        self.file, self.pos, self.message = file, pos, message


@dataclass
class Located:
    """A document and the position of every path in it (keys: the key's position)."""

    file: str
    data: Any
    positions: dict[PathKey, Pos]

    def pos(self, path: PathKey) -> Pos:
        """The position of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p and p not in self.positions:
            p = p[:-1]
        return self.positions.get(p, Pos(1, 1))


def _mark(node: yaml.Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


def load(path: str | Path, text: str | None = None) -> Located:
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise YamlError(file, Pos(1, 1), "no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise YamlError(file, Pos(1, 1), f"cannot read: {e}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = Pos(mark.line + 1, mark.column + 1) if mark else Pos(1, 1)
        raise YamlError(file, pos, f"YAML syntax: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise YamlError(file, Pos(1, 1), f"YAML: {e}") from None
    positions: dict[PathKey, Pos] = {}
    if root is None:
        return Located(file, None, positions)
    constructor = yaml.constructor.SafeConstructor()

    def build(node: yaml.Node, path: PathKey) -> Any:
        positions.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlError(file, _mark(key_node), "mapping keys must be text")
                key = str(key_node.value)  # keys are text as written: `yes:` stays "yes"
                if key in out:
                    raise YamlError(file, _mark(key_node), f"duplicate key {key!r}")
                positions[path + (key,)] = _mark(key_node)
                out[key] = build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(child, path + (i,)) for i, child in enumerate(node.value)]
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag == "tag:yaml.org,2002:bool"
            and node.value.lower() not in ("true", "false")
        ):
            return node.value  # YAML 1.2: yes/no/on/off are words, not booleans
        try:
            return constructor.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            raise YamlError(file, _mark(node), f"bad value: {e}") from None

    return Located(file, build(root, ()), positions)
