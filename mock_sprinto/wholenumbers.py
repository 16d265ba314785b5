"""Whole numbers written as ``3.0``: JSON Schema counts them as integers, so a document that passed its
schema may hold them where the code wants an ``int`` (a count, an ordinal, a status). ``as_integers``
turns them into ints wherever the schema says ``integer`` (and not ``number``), nowhere else.

A state bundle of a full journal holds ~750,000 values, nearly all strings (headers, records' text):
walking each with a call of its own took ~1.5 s of one step of the loop. So a member's value is only
visited when it is a float, or a container whose schema can hold an integer somewhere below
(``_Shape``, worked out once per schema node)."""

from __future__ import annotations

from typing import Any

# The whole numbers orjson writes (every answer, export and save of the emulator is written with it):
# 64 bits, signed or not. One beyond them could not be written back.
WRITABLE_MIN, WRITABLE_MAX = -(2**63), 2**64 - 1


def header_whole(text: str | None, limit: int) -> int | None:
    """A header's whole number (delta-seconds, a length) up to ``limit``, else None: ASCII digits
    only, since ``str.isdigit`` also takes '²', which ``int`` refuses."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > len(str(limit)):
        return None
    number = int(text)
    return number if number <= limit else None


def as_integers(
    schema: dict[str, Any],
    value: Any,
    root: dict[str, Any] | None = None,
    *,
    too_wide: list[tuple[str | int, ...]] | None = None,
) -> Any:
    """``value`` (valid against ``schema``) with each whole float the schema types ``integer`` an int.

    A whole float beyond ``WRITABLE_MIN..WRITABLE_MAX`` (``1e300`` is an integer to JSON Schema) stays
    a float, since no answer could write it as an int; with ``too_wide``, the path of each one is
    appended to it (found only then, by a second walk: a document that has none pays nothing)."""
    shapes = _Shapes(schema if root is None else root)
    converted = shapes.convert(shapes.of(schema), value, None, None)
    if too_wide is not None and shapes.too_wide:
        too_wide.extend(_paths_to(converted, shapes.too_wide))
    return converted


def _paths_to(document: Any, places: list[tuple[Any, Any]]) -> list[tuple[str | int, ...]]:
    """The paths of ``places`` (container, key) in ``document``; a container is found by identity
    (two equal values are distinct objects, and ``(None, None)`` is the document itself)."""
    keys: dict[int, list[Any]] = {}
    for container, key in places:
        keys.setdefault(id(container), []).append(key)
    found: list[tuple[str | int, ...]] = [() for _ in keys.pop(id(None), ())]
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack and keys:
        node, path = stack.pop()
        found += [(*path, key) for key in keys.pop(id(node), ())]
        members: Any = node.items() if type(node) is dict else enumerate(node)
        stack += [(item, (*path, key)) for key, item in members if type(item) is dict or type(item) is list]
    return sorted(found, key=str)


class _Shape:
    """What ``as_integers`` needs of one schema node, its ``$ref`` followed."""

    __slots__ = ("extra", "float_to_int", "holds", "items", "prefix", "properties", "refs")

    def __init__(self) -> None:
        self.float_to_int = False  # a whole float here becomes an int
        self.holds = True  # an integer can be below (True until worked out: a schema may refer to itself)
        self.refs: list[_Shape] = []  # the oneOf/anyOf branches that are references, applied to a container
        self.properties: dict[str, _Shape | None] = {}
        self.extra: _Shape | None = None  # additionalProperties
        self.prefix: list[_Shape | None] = []
        self.items: _Shape | None = None


class _Shapes:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.made: dict[int, _Shape] = {}
        # (container, key) of each whole float left a float: an int of it could not be written
        self.too_wide: list[tuple[Any, Any]] = []

    def of(self, schema: Any) -> _Shape | None:
        if not isinstance(schema, dict):
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            return self.of(target)
        shape = self.made.get(id(schema))
        if shape is not None:
            return shape
        shape = self.made[id(schema)] = _Shape()
        kinds = schema.get("type")
        kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
        branches = schema.get("oneOf", ()) or schema.get("anyOf", ())
        shape.float_to_int = ("integer" in kinds and "number" not in kinds) or any(
            branch.get("type") == "integer" for branch in branches
        )
        shape.refs = [made for branch in branches if "$ref" in branch and (made := self.of(branch)) is not None]
        # None for a member whose schema is not an object (``true``): additionalProperties is not its schema.
        shape.properties = {key: self.of(inner) for key, inner in schema.get("properties", {}).items()}
        shape.extra = self.of(schema.get("additionalProperties"))
        shape.prefix = [self.of(inner) for inner in schema.get("prefixItems", [])]
        shape.items = self.of(schema.get("items"))
        below = [*shape.refs, *shape.properties.values(), shape.extra, *shape.prefix, shape.items]
        shape.holds = shape.float_to_int or any(inner is not None and inner.holds for inner in below)
        return shape

    def convert(self, shape: _Shape | None, value: Any, container: Any, key: Any) -> Any:
        """``value``, which is ``container[key]`` (the document itself: ``None, None``), converted."""
        if shape is None:
            return value
        kind = type(value)
        if kind is float:
            if shape.float_to_int and value.is_integer():
                if WRITABLE_MIN <= value <= WRITABLE_MAX:
                    return int(value)
                self.too_wide.append((container, key))
            return value
        if (kind is not dict and kind is not list) or not shape.holds:
            return value
        for branch in shape.refs:
            value = self.convert(branch, value, container, key)
        if kind is dict:
            properties, extra = shape.properties, shape.extra
            for name, item in value.items():
                inner = properties.get(name, extra)
                if inner is not None and (type(item) in (float, dict, list)):
                    value[name] = self.convert(inner, item, value, name)
        else:
            prefix, items = shape.prefix, shape.items
            for index, item in enumerate(value):
                inner = prefix[index] if index < len(prefix) else items
                if inner is not None and (type(item) in (float, dict, list)):
                    value[index] = self.convert(inner, item, value, index)
        return value
