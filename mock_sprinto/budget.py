"""The process-wide memory budget: what every integration together holds for its clients.

Counted: the decoded bytes of staged pages and what applying them will hold (``RECORD_OVERHEAD_BYTES``
a staged record), the applied records (each its JSON size plus ``RECORD_OVERHEAD_BYTES``), the
request bodies being received right now, and the bookkeeping each integration keeps: the
integration itself, its sessions and the record of every page they received (with the validation
errors kept), its activity log, and the scenarios installed (``approx_bytes`` of each, estimated the
way CPython lays the objects out). An integration imported from a state bundle is counted the same
way (``bundle.restore``), so deleting it, or forgetting its sessions, gives back what was counted.
A push that would take the total past the budget less ``headroom`` is refused with 507
``memory_budget_exceeded`` before it is staged (a body that cannot fit, before it is read), so a
flood of small gzip bodies that inflate ~1000x, spread over many integrations, stops at the budget
instead of at the machine's memory. The headroom is kept for the bookkeeping that cannot be
refused: the record of a refused page, a new integration, a session.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .codes import MEMORY_BUDGET_EXCEEDED
from .errors import ApiError

# An applied record is stored as its compact JSON bytes in a dict under its key: about 70 bytes of
# dict slot and bytes header, and the key itself (tracemalloc on 100,000 User records, 2026).
RECORD_OVERHEAD_BYTES = 128
# Bookkeeping, measured with tracemalloc (Python 3.11, 2026): an integration with nothing in it
# (clock, counters, empty log), a session with no page, the record of one page (its counts, ids,
# digest; the errors of a rejected one are added by ``approx_bytes``), an activity item's object
# and id (its message and details are added by ``approx_bytes``).
TENANT_BYTES = 4_700
SESSION_BYTES = 1_300
PAGE_BYTES = 620
ACTIVITY_BYTES = 200
# Bodies this small are always read, even with the budget full (counted while they arrive): a close
# with discard, which frees memory, must never be refused for lack of it.
ALWAYS_READ_BYTES = 4_096
# Kept free for bookkeeping that is counted but never refused: 1/32 of the budget, at most 16 MiB.
HEADROOM_SHARE = 32
MAX_HEADROOM_BYTES = 16 * 2**20


def approx_bytes(value: Any) -> int:
    """What a JSON-like value holds in CPython, roughly (64-bit: an ASCII str is 49 bytes and its
    characters, an int 28, a float 24, a dict 64 and 56 an item, a list 56 and 8 an item). Used for
    bookkeeping (validation errors, activity details, scenario documents) that has no exact count."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += 49 + len(item)
        elif kind is dict:
            total += 64 + 56 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            total += 56 + 8 * len(item)
            stack.extend(item)
        elif kind is int:
            total += 28 + item.bit_length() // 8
        elif kind is float:
            total += 24
        elif kind is bytes:
            total += 33 + len(item)
        elif item is not None and kind is not bool:
            total += 64  # a date YAML read, or another small object
    return total


class MemoryBudget:
    """Bytes held (staged + applied) and reserved (bodies being read), against one limit."""

    __slots__ = ("headroom", "held", "limit", "peak", "reserved")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.held = 0  # what the integrations the emulator holds keep (data and bookkeeping)
        self.reserved = 0  # request bodies being received
        self.peak = 0
        self.headroom = 0 if limit is None else min(limit // HEADROOM_SHARE, MAX_HEADROOM_BYTES)

    @property
    def total(self) -> int:
        return self.held + self.reserved

    def fits(self, more: int) -> bool:
        """Whether ``more`` bytes of data (a page, a body, a scenario) fit below the headroom."""
        return self.limit is None or self.total + more <= self.limit - self.headroom

    def fits_bookkeeping(self, more: int) -> bool:
        """Whether ``more`` bytes of bookkeeping fit in the whole budget, headroom included."""
        return self.limit is None or self.held + self.reserved + more <= self.limit

    def check(self, more: int, remedy: str = "") -> None:
        """Raise 507 ``memory_budget_exceeded`` unless ``more`` bytes fit; ``remedy`` says what the
        caller can do about it (else the vendor client's choices)."""
        if not self.fits(more):
            raise self.exceeded(more, remedy)

    def exceeded(self, more: int, remedy: str = "") -> ApiError:
        return ApiError.of(
            MEMORY_BUDGET_EXCEEDED,
            f"the emulator already holds {self.total} bytes for its clients and this needs {more} more "
            f"(setting memory_budget_bytes = {self.limit}); {remedy or VENDOR_REMEDY}",
            budget_bytes=self.limit,
            held_bytes=self.total,
        )

    def add(self, delta: int) -> None:
        self.held += delta
        total = self.held + self.reserved  # ``total`` inline: called on every change held
        if total > self.peak:
            self.peak = total

    def reserve(self, size: int) -> None:
        """Count ``size`` bytes of a body being received (``check`` first); ``release`` them after."""
        self.reserved += size
        if self.total > self.peak:
            self.peak = self.total

    def release(self, size: int) -> None:
        self.reserved -= size

    def public(self) -> dict[str, int | None]:
        return {"budget_bytes": self.limit, "held_bytes": self.total, "peak_bytes": self.peak}


# What each 507 says the caller can do: a vendor client can free memory itself (a discard always
# goes through), or wait; a developer can free more through the control plane.
VENDOR_REMEDY = (
    "close this session (discard frees its staged pages at once; apply moves them into the dataset) "
    "or retry later; on the emulator, delete integrations (DELETE /_mock/integrations/ID) or reset "
    "(POST /_mock/reset)"
)
CONTROL_REMEDY = (
    "delete integrations (DELETE /_mock/integrations/ID), remove scenarios, or reset (POST /_mock/reset), "
    "or start the emulator with a larger memory_budget_bytes"
)


# Once this much held data has been freed (staged pages dropped: a session applied, discarded or
# purged; datasets replaced; integrations deleted or reset), however many small drops it took,
# the heap's free pages go back to the OS. glibc keeps freed page buffers between live objects:
# 100 integrations that pushed 23,822 pages and discarded them kept 765 MiB of RSS, 93 MiB after a
# malloc_trim (issue 21); 1,000,000 applied User records held ~765 MiB where they use ~460.
TRIM_AFTER_BYTES = 16 * 2**20
# A due trim waits until the process is quiet: a trim hands every free page back, and what a busy
# server stages next faults its pages in afresh. Under a steady ingest (sessions of 250 pages
# discarded in turn) trimming at once cost 7.8 minor page faults a 31 KB page and ~35 µs of kernel
# CPU a page on a 2-core VM, ~10 % of the page (issue 21). Quiet: the process used less than
# QUIET_CPU_SHARE of one CPU over the last TRIM_QUIET_SECONDS; a server never quiet trims anyway
# once a due trim has waited TRIM_MAX_WAIT_SECONDS.
TRIM_QUIET_SECONDS = 0.5
QUIET_CPU_SHARE = 0.2
TRIM_MAX_WAIT_SECONDS = 30.0
# One drop at least this large (a big apply's pages, a big integration deleted) trims at once: it is
# more than glibc keeps anyway, rare, and whoever made it is waiting for the memory, not for the
# next page (1,000,000 applied records: RSS 783 MiB until the process was quiet, 476 after a trim).
TRIM_AT_ONCE_BYTES = 64 * 2**20
# mallopt's parameters (glibc's malloc.h) and what ``keep_heap_while_serving`` sets them to.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
HEAP_TOP_KEPT_BYTES = 64 * 2**20
MMAP_FROM_BYTES = 4 * 2**20  # a larger allocation (a page of several MB) is mapped and unmapped
_c_functions: dict[str, Any] = {}  # C library functions, looked up on first use
_freed = [0]  # bytes freed since the last trim
_large_drop = [False]  # one drop since the last trim was of TRIM_AT_ONCE_BYTES or more
_waiting: list[Any] = [None]  # the event loop a quiet trim waits on, if any
_process_cpu = time.process_time  # CPU seconds of every thread of the process (a seam for tests)


def freed(nbytes: int) -> None:
    """Count ``nbytes`` of held data as freed; ``trim_if_due`` hands the heap back once enough was."""
    _freed[0] += max(nbytes, 0)
    if nbytes >= TRIM_AT_ONCE_BYTES:
        _large_drop[0] = True


def trim_if_due() -> bool:
    """Give the free heap back once ``TRIM_AFTER_BYTES`` were freed since the last time, when the
    process is next quiet (``trim_when_quiet``), or at once after a drop of ``TRIM_AT_ONCE_BYTES``:
    call it once the freed objects are unreachable. True when a trim is due."""
    if _freed[0] < TRIM_AFTER_BYTES:
        return False
    if _large_drop[0]:
        _trim_now()
    else:
        trim_when_quiet()
    return True


def trim_when_quiet() -> None:
    """Give the free heap back once the process is quiet, or at once outside a running event loop
    (plain code: nothing else is running). At most one trim waits per loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _trim_now()
        return
    if _waiting[0] is not loop:
        _waiting[0] = loop
        now = loop.time()
        loop.call_later(TRIM_QUIET_SECONDS, _trim_if_quiet, loop, now, now, _process_cpu())


def _trim_if_quiet(loop: asyncio.AbstractEventLoop, since: float, then: float, cpu_then: float) -> None:
    now, cpu = loop.time(), _process_cpu()
    if cpu - cpu_then <= QUIET_CPU_SHARE * (now - then) or now - since >= TRIM_MAX_WAIT_SECONDS:
        if _waiting[0] is loop:
            _waiting[0] = None
        _trim_now()
    else:
        loop.call_later(TRIM_QUIET_SECONDS, _trim_if_quiet, loop, since, now, cpu)


def _trim_now() -> None:
    _freed[0] = 0
    _large_drop[0] = False
    give_back_free_heap()


def give_back_free_heap() -> None:
    """``malloc_trim(0)`` where the C library has it (glibc); nothing elsewhere. A few ms on a
    GiB-sized heap, so only after freeing at least ``TRIM_AFTER_BYTES`` (``trim_if_due``)."""
    _c_library_call("malloc_trim", 0)


def keep_heap_while_serving() -> bool:
    """glibc's own give-back made to wait for ``trim_when_quiet``, for a process that serves
    (``serve``). By default free() hands the heap's top back whenever more than a dynamic threshold
    (128 KiB to 64 MiB) is free there, and a busy server faults the same pages in again for the
    next pages it stages: with the trims waiting for quiet, that alone was 7.8 → 4 minor faults a
    31 KB page under ingest, ~0.2 with this too (issue 21). Fixing the trim threshold also stops
    glibc's dynamic mmap threshold from rising above 128 KiB, which would make each 256 KiB socket
    read buffer a fresh mmap: so that one is fixed too, at ``MMAP_FROM_BYTES``. True where set."""
    return _c_library_call("mallopt", M_TRIM_THRESHOLD, HEAP_TOP_KEPT_BYTES) == 1 and (
        _c_library_call("mallopt", M_MMAP_THRESHOLD, MMAP_FROM_BYTES) == 1
    )


def _c_library_call(name: str, *arguments: int) -> int | None:
    """The C library's ``name`` called (looked up once with ctypes); None where it has none."""
    if name not in _c_functions:
        import ctypes

        try:
            _c_functions[name] = getattr(ctypes.CDLL(None), name)
        except (OSError, AttributeError, TypeError):
            _c_functions[name] = None
    function = _c_functions[name]
    return None if function is None else int(function(*arguments))
