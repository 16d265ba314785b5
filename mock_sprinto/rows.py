"""Objects kept as flat rows and made again when read.

What a long-running server keeps by the thousand (journal entries, a finished session's pages) is
kept as plain tuples of plain values, which the garbage collector stops tracking, so a full
collection does not walk them (issue 21). ``RowView`` reads such rows as the objects they were.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, overload

T = TypeVar("T")
Row = tuple[Any, ...]


class RowView(Sequence[T]):
    """Rows read as objects, oldest first, each made from its row when read (``_made``): a copy,
    so changing it changes nothing kept."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows

    def _made(self, row: Row) -> T:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            rows = self._rows if isinstance(self._rows, (tuple, list)) else list(self._rows)  # a deque: no slices
            return [self._made(row) for row in rows[index]]
        return self._made(self._rows[index])

    def __iter__(self) -> Iterator[T]:
        return map(self._made, self._rows)

    def __reversed__(self) -> Iterator[T]:
        return map(self._made, reversed(self._rows))
