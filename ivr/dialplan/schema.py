"""The dialplan's JSON Schema, made from its spec (`spec.py`), for editors (`ivr schema`)."""

from __future__ import annotations

from typing import Any

from ivr.dialplan.spec import CASE, KB_ENTRY, TOP, VERBS, F, Spec

_SCALAR_SCHEMA: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "template": {"type": "string"},
    "name": {"type": "string", "pattern": r"^[A-Za-z_]\w*$"},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "node": {"type": "string"},
    "queue": {"type": "string"},
    "intent": {"type": "string"},
    "file": {"type": "string"},
    "url": {"type": "string", "pattern": "^(https?://|\\{)"},
    "sipuri": {"type": "string", "pattern": "^(sips?:[^@ ]+@[^ ]+|tel:[+0-9].*)$"},
    "regex": {"type": "string", "format": "regex"},
    "condition": {"type": "string"},
    "digit": {"type": "string", "pattern": "^[0-9*#]$"},
    "hours": {"type": "string", "pattern": r"^(closed|\d\d:\d\d-\d\d:\d\d(,\s*\d\d:\d\d-\d\d:\d\d)*)$"},
}


def kind_schema(kind: Any) -> dict[str, Any]:
    if isinstance(kind, Spec):
        return spec_schema(kind)
    if kind == "steps":
        return {"type": "array", "items": {"$ref": "#/$defs/step"}}
    if kind == "case":
        return spec_schema(CASE)
    if kind == "kb":
        return spec_schema(KB_ENTRY)
    if kind.startswith("list:"):
        return {"type": "array", "items": kind_schema(kind[5:])}
    if kind.startswith("map:"):
        return {"type": "object", "additionalProperties": kind_schema(kind[4:])}
    return dict(_SCALAR_SCHEMA[kind])


def field_schema(f: F) -> dict[str, Any]:
    s = kind_schema(f.kind)
    s["description"] = f.doc
    if f.choices:
        s["enum"] = list(f.choices)
    if f.minimum is not None:
        s["minimum"] = f.minimum
    return s


def spec_schema(spec: Spec) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "object",
        "properties": {k: field_schema(f) for k, f in spec.fields.items()},
        "additionalProperties": kind_schema(spec.extra) if spec.extra is not None else False,
    }
    required = [k for k, f in spec.fields.items() if f.required]
    if required:
        obj["required"] = required
    if spec.doc:
        obj["description"] = spec.doc
    if spec.shorthand:
        short = field_schema(spec.fields[spec.shorthand])
        return {"description": spec.doc, "anyOf": [short, obj]}
    return obj


def json_schema() -> dict[str, Any]:
    """The dialplan format as JSON Schema (draft 2020-12), for editors."""
    steps = [
        {
            "type": "object",
            "properties": {verb: spec_schema(spec)},
            "required": [verb],
            "additionalProperties": False,
            "description": spec.doc,
        }
        for verb, spec in VERBS.items()
    ]
    schema = spec_schema(TOP)
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:ivr-hotline:dialplan",
            "title": "IVR dialplan",
            "$defs": {"step": {"oneOf": steps, "description": "One step: a single verb."}},
        }
    )
    return schema
