"""The process-wide memory budget: what every integration together holds for its clients.

Counted: the decoded bytes of staged pages, the applied records (each its JSON size plus
``RECORD_OVERHEAD_BYTES`` of bookkeeping), and the request bodies being received right now. A push
that would take the total past ``memory_budget_bytes`` is refused with 507
``memory_budget_exceeded`` before it is staged (a body that cannot fit, before it is read), so a
flood of small gzip bodies that inflate ~1000x, spread over many integrations, stops at the budget
instead of at the machine's memory.
"""

from __future__ import annotations

from typing import Any

from .codes import MEMORY_BUDGET_EXCEEDED
from .errors import ApiError

# An applied record is stored as its compact JSON bytes in a dict under its key: about 70 bytes of
# dict slot and bytes header, and the key itself (tracemalloc on 100,000 User records, 2026).
RECORD_OVERHEAD_BYTES = 128


class MemoryBudget:
    """Bytes held (staged + applied) and reserved (bodies being read), against one limit."""

    __slots__ = ("held", "limit", "peak", "reserved")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.held = 0  # staged pages and applied records of the integrations the emulator holds
        self.reserved = 0  # request bodies being received
        self.peak = 0

    @property
    def total(self) -> int:
        return self.held + self.reserved

    def fits(self, more: int) -> bool:
        return self.limit is None or self.total + more <= self.limit

    def check(self, more: int) -> None:
        """Raise 507 ``memory_budget_exceeded`` unless ``more`` bytes fit."""
        if not self.fits(more):
            raise self.exceeded(more)

    def exceeded(self, more: int) -> ApiError:
        return ApiError.of(
            MEMORY_BUDGET_EXCEEDED,
            f"the emulator already holds {self.total} bytes for its clients and this needs {more} more "
            f"(setting memory_budget_bytes = {self.limit}); close or discard sessions, delete "
            "integrations or reset",
            budget_bytes=self.limit,
            held_bytes=self.total,
        )

    def add(self, delta: int) -> None:
        self.held += delta
        if self.total > self.peak:
            self.peak = self.total

    def reserve(self, size: int) -> None:
        """Count ``size`` bytes of a body being received (``check`` first); ``release`` them after."""
        self.reserved += size
        if self.total > self.peak:
            self.peak = self.total

    def release(self, size: int) -> None:
        self.reserved -= size

    def public(self) -> dict[str, int | None]:
        return {"budget_bytes": self.limit, "held_bytes": self.total, "peak_bytes": self.peak}


# Once this much held data has been freed (staged pages dropped: a session applied, discarded or
# purged; datasets replaced; integrations deleted or reset), however many small drops it took,
# the heap's free pages go back to the OS. glibc keeps freed page buffers between live objects:
# 100 integrations that pushed 23,822 pages and discarded them kept 765 MiB of RSS, 93 MiB after a
# malloc_trim (issue 21); 1,000,000 applied User records held ~765 MiB where they use ~460.
TRIM_AFTER_BYTES = 16 * 2**20
_trim: list[Any] = []  # the C function, looked up on first use
_freed = [0]  # bytes freed since the last trim


def freed(nbytes: int) -> None:
    """Count ``nbytes`` of held data as freed; ``trim_if_due`` hands the heap back once enough was."""
    _freed[0] += max(nbytes, 0)


def trim_if_due() -> bool:
    """Give the free heap back when ``TRIM_AFTER_BYTES`` were freed since the last time: call it
    once the freed objects are unreachable. True when it trimmed."""
    if _freed[0] < TRIM_AFTER_BYTES:
        return False
    _freed[0] = 0
    give_back_free_heap()
    return True


def give_back_free_heap() -> None:
    """``malloc_trim(0)`` where the C library has it (glibc); nothing elsewhere. A few ms on a
    GiB-sized heap, so only after freeing at least ``TRIM_AFTER_BYTES`` (``trim_if_due``)."""
    if not _trim:
        import ctypes

        try:
            _trim.append(ctypes.CDLL(None).malloc_trim)
        except (OSError, AttributeError, TypeError):
            _trim.append(None)
    if _trim[0] is not None:
        _trim[0](0)
