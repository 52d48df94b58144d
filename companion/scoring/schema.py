"""The score document's JSON Schema and a small validator for the subset it uses.

``score.schema.json`` (JSON Schema draft 2020-12) is the contract documented in
``docs/score-schema.md``. The project does not depend on ``jsonschema``; :func:`validate`
implements exactly the keywords the schema uses: ``type`` (one or a list), ``properties``,
``required``, ``additionalProperties`` (bool or schema), ``items``, ``minItems``,
``maxItems``, ``enum``, ``const``, ``minimum``, ``anyOf`` and local ``$ref``
(``#/$defs/...``). Any other keyword in the schema is reported as unsupported, so the
validator cannot silently ignore a rule.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["SUPPORTED_KEYWORDS", "load_schema", "validate", "validate_score"]

SUPPORTED_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$ref",
        "title",
        "description",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "minimum",
        "anyOf",
    }
)

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


@cache
def load_schema() -> dict[str, Any]:
    """The shipped ``score.schema.json``."""
    text = (resources.files("companion.scoring") / "score.schema.json").read_text("utf-8")
    return json.loads(text)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        msg = f"only local $ref is supported, got {ref!r}"
        raise ValueError(msg)
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def validate(
    instance: Any, schema: dict[str, Any], *, root: dict[str, Any] | None = None, path: str = ""
) -> list[str]:
    """All violations of ``schema`` by ``instance`` as ``"/json/pointer: problem"`` strings."""
    root = schema if root is None else root
    errors: list[str] = []
    where = path or "/"
    unknown = set(schema) - SUPPORTED_KEYWORDS
    if unknown:
        msg = f"schema at {where} uses unsupported keywords {sorted(unknown)}"
        raise ValueError(msg)
    if "$ref" in schema:
        return validate(instance, _resolve(root, schema["$ref"]), root=root, path=path)
    if "anyOf" in schema:
        branches = [validate(instance, s, root=root, path=path) for s in schema["anyOf"]]
        if all(branches):
            best = min(branches, key=len)
            errors.append(f"{where}: matches none of anyOf (closest: {best[0]})")
        return errors
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](instance) for t in types):
            return [f"{where}: expected {' or '.join(types)}, got {type(instance).__name__}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {instance!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{where}: {instance!r} is not one of {schema['enum']}")
    if "minimum" in schema and _TYPES["number"](instance) and instance < schema["minimum"]:
        errors.append(f"{where}: {instance!r} is below the minimum {schema['minimum']}")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{where}: missing required key {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            sub = f"{path}/{key}"
            if key in props:
                errors.extend(validate(value, props[key], root=root, path=sub))
            elif extra is False:
                errors.append(f"{where}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errors.extend(validate(value, extra, root=root, path=sub))
    if isinstance(instance, list):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(instance):
                errors.extend(validate(item, schema["items"], root=root, path=f"{path}/{i}"))
    return errors


def validate_score(doc: dict[str, Any]) -> list[str]:
    """Violations of the shipped score schema by ``doc`` (empty when valid)."""
    return validate(doc, load_schema())
