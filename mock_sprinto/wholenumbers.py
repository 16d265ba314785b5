"""Whole numbers written as ``3.0``: JSON Schema counts them as integers, so a document that passed its
schema may hold them where the code wants an ``int`` (a count, an ordinal, a status). ``as_integers``
turns them into ints wherever the schema says ``integer`` (and not ``number``), nowhere else."""

from __future__ import annotations

from typing import Any


def as_integers(schema: dict[str, Any], value: Any, root: dict[str, Any] | None = None) -> Any:
    """``value`` (valid against ``schema``) with each whole float the schema types ``integer`` an int."""
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return as_integers(target, value, root)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    if isinstance(value, float) and "integer" in kinds and "number" not in kinds and value.is_integer():
        return int(value)
    for branch in schema.get("oneOf", ()) or schema.get("anyOf", ()):
        if isinstance(value, float) and branch.get("type") == "integer" and value.is_integer():
            return int(value)
        if isinstance(value, (dict, list)) and "$ref" in branch:
            value = as_integers(branch, value, root)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            inner = properties.get(key, extra if isinstance(extra, dict) else None)
            if isinstance(inner, dict):
                value[key] = as_integers(inner, item, root)
    elif isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        items = schema.get("items")
        for index, item in enumerate(value):
            inner = prefix[index] if index < len(prefix) else items
            if isinstance(inner, dict):
                value[index] = as_integers(inner, item, root)
    return value
