"""JSON text in parts, for answers too large to build (or to make) in one step of the event loop.

A large control-plane answer (a HAR export, every applied record, the journal, a state bundle) is
written as a sequence of byte strings: ``http.common.stream_parts`` writes them a chunk at a time,
yielding to the other clients between chunks, and a part is made only when it is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson


def array_parts(opening: bytes, items: Iterable[bytes], closing: bytes) -> Iterator[bytes]:
    """``opening``, the ``items`` (each one serialized JSON value) separated by commas, ``closing``."""
    return array_of_parts(opening, ((item,) for item in items), closing)


def array_of_parts(opening: bytes, items: Iterable[Iterable[bytes]], closing: bytes) -> Iterator[bytes]:
    """``array_parts`` for items that are themselves written in parts (one integration of a state
    bundle, whose records come a few thousand at a time)."""
    yield opening
    first = True
    for item in items:
        if not first:
            yield b","
        first = False
        yield from item
    yield closing


def object_opening(head: dict[str, Any], member: str) -> bytes:
    """The text of ``head`` left open, up to the start of one more member's array:
    ``{"a":1,"b":2,"member":[``."""
    text = orjson.dumps(head)
    return (text[:-1] + b"," if len(text) > 2 else b"{") + orjson.dumps(member) + b":["
