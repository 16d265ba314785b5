"""A large JSON document sent as pieces, so that the process rebuilding it never parses much at once.

A state bundle checked in the judging child (``judging.py``) has to come back as objects of the
server's process. Parsed there whole, it held the GIL for one long C call (orjson on 15 MB: ~110 ms
on a slow machine), and every client of the server waited (issue 21: "no pause over 20 ms").
``split`` writes it instead as a skeleton, in which each long list is left empty, and each such
list's items as JSON texts of about ``CHUNK_BYTES``; ``joined`` parses the skeleton and extends
each list chunk by chunk, so the GIL can pass to the loop between two chunks; ``Joined.let_go``
frees it the same way once it is built.

A list is split only when its JSON text is longer than a chunk. An item longer than a chunk is
split in its turn (its own long lists emptied and sent after it), so no chunk is much longer than
``CHUNK_BYTES`` unless one string or a list's single item is. The lists are listed outer first, so
each path leads through lists that are already whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

CHUNK_BYTES = 262_144  # orjson parses this in ~1-2 ms (~5 on a slow machine)
# Lists this deep or deeper are sent whole, inside their chunk. A bundle's long lists sit 1-3 deep;
# a crafted document nested hundreds deep, each level over a chunk, would otherwise be serialized
# once a level and recurse past Python's limit.
MAX_SPLIT_DEPTH = 16

Path = tuple[str | int, ...]
Lists = list[tuple[Path, list[bytes]]]  # each split list's path and chunks, outer first


@dataclass
class Pieces:
    skeleton: bytes  # the document with each split list empty
    lists: Lists = field(default_factory=list)


def split(document: Any, chunk_bytes: int = CHUNK_BYTES) -> Pieces:
    """``document`` (parsed JSON: dicts, lists, strings, numbers, booleans, None) as pieces. It is
    emptied in place where it is split: the caller's copy is spent."""
    lists: Lists = []
    if isinstance(document, (dict, list)) and len(orjson.dumps(document)) > chunk_bytes:
        _split(document, (), chunk_bytes, lists)
    return Pieces(orjson.dumps(document), lists)


@dataclass
class Joined:
    """A document rebuilt from its pieces, and how to free it a chunk at a time."""

    document: Any
    slices: list[tuple[Path, list[int]]]  # each split list's path and its chunks' item counts, outer first

    def let_go(self) -> None:
        """Free the document a chunk's items at a time, inner lists first. Dropped at once, it was
        freed in one C cascade with the GIL held (~20 ms for 15 MB on a slow machine)."""
        for path, counts in reversed(self.slices):
            target = _at(self.document, path)
            for count in reversed(counts):
                del target[len(target) - count :]
        self.document = None


def joined(pieces: Pieces) -> Joined:
    """The document ``split`` was given, one chunk parsed at a time. ``pieces`` is spent."""
    document = orjson.loads(pieces.skeleton)
    slices: list[tuple[Path, list[int]]] = []
    for path, chunks in pieces.lists:
        target = _at(document, path)
        counts = []
        while chunks:
            items = orjson.loads(chunks.pop(0))
            target.extend(items)
            counts.append(len(items))
        slices.append((path, counts))
    return Joined(document, slices)


def _at(document: Any, path: Path) -> Any:
    for step in path:
        document = document[step]
    return document


def _split_within(value: Any, path: Path, chunk_bytes: int, lists: Lists) -> None:
    """Split the long lists inside ``value`` (not ``value`` itself)."""
    members = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in members:
        if isinstance(item, (dict, list)) and len(orjson.dumps(item)) > chunk_bytes:
            _split(item, (*path, key), chunk_bytes, lists)


def _split(value: dict[str, Any] | list[Any], path: Path, chunk_bytes: int, lists: Lists) -> None:
    """Split ``value``, longer than a chunk: a list into chunks, a dict's long lists; left whole
    at ``MAX_SPLIT_DEPTH``."""
    if len(path) >= MAX_SPLIT_DEPTH:
        return
    if isinstance(value, dict):
        _split_within(value, path, chunk_bytes, lists)
        return
    chunks: list[bytes] = []
    lists.append((path, chunks))  # before the lists inside its items: those paths go through it
    batch: list[bytes] = []
    size = 0
    for index, item in enumerate(value):
        text = orjson.dumps(item)
        if len(text) > chunk_bytes and isinstance(item, (dict, list)):
            _split(item, (*path, index), chunk_bytes, lists)  # its long lists are sent after it
            text = orjson.dumps(item)
        if batch and size + len(text) > chunk_bytes:
            chunks.append(b"[" + b",".join(batch) + b"]")
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 1
    if batch:
        chunks.append(b"[" + b",".join(batch) + b"]")
    value.clear()
