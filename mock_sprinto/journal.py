"""The request journal: a bounded ring buffer of every request the emulator answered."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import chain
from operator import attrgetter
from typing import Any, AnyStr

from .clock import format_time
from .rows import Row, RowView


@dataclass(slots=True)
class JournalEntry:
    request_id: str
    at: float  # emulator time; formatted only when the journal is read, not on every request
    method: str
    path: str
    operation: str
    status: int
    code: str | None
    latency_ms: float
    integration_id: str | None
    session_id: str | None
    bytes_in: int | None
    rule: str | None = None  # the scenario rule that fired on this request, if any
    # What the judge (report.py) reads; cheap to record, left None where they do not apply.
    arrived_at: float | None = None  # emulator time when the request was let in (after its api-key)
    arrival: int = 0  # arrival order among all requests; ``answer`` orders the answers the same way
    answer: int = 0
    retry_after: int | None = None  # the Retry-After the answer carried (whole seconds)
    encoding: str | None = None  # a push's Content-Encoding ("identity" when none)
    body_bytes: int | None = None  # a push's body on the wire
    digest: str | None = None  # of a push's decoded body (payload.page_digest): the same page sent again
    page: int | None = None  # the ordinal a push got in its session's page list
    page_hint: int | str | None = None  # the page_hint a push's page carried, when it was read
    names_session: str | None = None  # the active_session_id a 409 session_already_active named
    # The client's port: the requests of one connection share it. The judge tells a request a
    # concurrent client already had on its way (another connection, just after) from one sent
    # after reading the answer before it.
    connection: int | None = None
    # What the HAR export (har.py) reads: references the envelope already holds, so recording them
    # copies nothing; bodies only when the journal_bodies_bytes setting turns capture on.
    query: str = ""
    http_version: str = "HTTP/1.1"
    request_headers: Iterable[tuple[bytes, bytes]] = ()  # as received (aiohttp's raw_headers), see kept_headers
    request_headers_dropped: int = 0  # headers past journal_header_bytes, not kept
    response_headers: tuple[
        tuple[str, str], ...
    ] = ()  # the answer's headers, as sent (plain tuples: untracked by the GC)
    request_body: bytes | None = None  # decoded, cut at journal_bodies_bytes
    response_body: bytes | None = None  # cut at journal_bodies_bytes
    request_body_bytes: int | None = None  # the whole body's decoded size, when captured
    response_body_bytes: int | None = None
    response_type: str | None = None  # the answer's Content-Type
    # How long the serving loop had been running, without waiting for input, when the request was
    # let in (clock.loop_busy_before: the turn before and this one so far): at most how long the
    # request waited for the loop, which the judge's "on its way" excuse reads (report.run.in_flight).
    # A slow upload, a scenario's delay, a control read made a step at a time hold no turn long.
    # None where unknown (a bundle's, a HAR's, a loop whose turns are not timed).
    loop_busy_before: float | None = None

    def public(self) -> dict[str, Any]:
        view = {name: getattr(self, name) for name in PUBLIC_FIELDS}
        view["at"] = format_time(self.at)
        view["arrived_at"] = None if self.arrived_at is None else format_time(self.arrived_at)
        return view


# What GET /_mock/journal shows of an entry: everything but the HAR export's raw material.
PUBLIC_FIELDS = tuple(f.name for f in fields(JournalEntry))[: [f.name for f in fields(JournalEntry)].index("query")]


def kept_headers(raw: Sequence[tuple[AnyStr, AnyStr]], limit: int) -> tuple[Sequence[tuple[AnyStr, AnyStr]], int]:
    """The headers an entry keeps, and how many it drops. Within ``limit`` bytes (names and
    values) the framework's own tuple is kept, no copy; past it only the headers that fit, in
    order. A client sending 128 headers of 8 KB on every request would otherwise make a full
    ring of 10,000 entries hold 10 GB; a scenario answering with 50 headers of 8 KB, 4 GB."""
    if sum(map(len, chain.from_iterable(raw))) <= limit:
        return raw, 0
    kept: list[tuple[AnyStr, AnyStr]] = []
    used = 0
    for name, value in raw:
        used += len(name) + len(value)
        if used > limit:
            break
        kept.append((name, value))
    return tuple(kept), len(raw) - len(kept)


# An entry as the ring keeps it: its fields' values in declaration order, a plain tuple of
# strings, numbers and bytes, the headers each packed into one string as on the wire
# ("name: value" lines). A JournalEntry is a container the collector tracks and every full
# collection walks (10,000 of them in a full ring). A tuple holding only such values is untracked
# the first time the collector looks at it; one holding tuples (the headers as pairs) stayed
# tracked until a full collection when the collector reordered them, so each full collection
# walked every row made since the last (~9,000 in section 9 of `make bench`: full collections of
# 15-25 ms, issue 21). Entries are made again on reading, which is rare.
_FIELD_NAMES = tuple(f.name for f in fields(JournalEntry))
_values_of = attrgetter(*_FIELD_NAMES)
_ANSWER = _FIELD_NAMES.index("answer")
_ARRIVAL = _FIELD_NAMES.index("arrival")
_INTEGRATION = _FIELD_NAMES.index("integration_id")
_OPERATION = _FIELD_NAMES.index("operation")
_STATUS = _FIELD_NAMES.index("status")
_CODE = _FIELD_NAMES.index("code")
_REQUEST_HEADERS = _FIELD_NAMES.index("request_headers")
_RESPONSE_HEADERS = _FIELD_NAMES.index("response_headers")


def plain_success(row: Row) -> bool:
    """An answer that meets no documented behaviour: a status under 400 and no code (a lost
    answer has one). What ``report.coverage.nothing_to_meet`` asks of every answer of a run."""
    return row[_STATUS] < 400 and row[_CODE] is None


assert _ANSWER == _ARRIVAL + 1  # moved_on replaces both at once


def moved_on(rows: Iterable[Row], shift: int) -> list[Row]:
    """``rows`` with their arrival and answer moved up by ``shift``: one comprehension, no call a
    row (a state bundle's, on the loop, when more requests came while it was built than its numbers
    left room for)."""
    a, b = _ARRIVAL, _ANSWER
    return [(*row[:a], shift + row[a], shift + row[b], *row[b + 1 :]) for row in rows]


def row_of(entry: JournalEntry) -> Row:
    """``entry`` as a row of the ring: its fields in order, its headers packed."""
    row = list(_values_of(entry))
    row[_REQUEST_HEADERS] = packed_request_headers(entry.request_headers)
    row[_RESPONSE_HEADERS] = packed_response_headers(entry.response_headers)
    return tuple(row)


def packed_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> Any:
    """A row's request headers (``_packed``); pairs kept as they are are kept as a tuple."""
    return _packed(headers if type(headers) is tuple else tuple(headers), b"\r\n", b": ")


def packed_response_headers(headers: Iterable[tuple[str, str]]) -> Any:
    """A row's response headers (``_packed``), from any pairs (a multidict's items, say)."""
    return _packed(headers if type(headers) is tuple else tuple(headers), "\r\n", ": ")


def _entry_of(row: Row) -> JournalEntry:
    entry = JournalEntry(*row)
    entry.request_headers = _unpacked(row[_REQUEST_HEADERS], b"\r\n", b": ")
    entry.response_headers = _unpacked(row[_RESPONSE_HEADERS], "\r\n", ": ")
    return entry


def entries_of(rows: Iterable[Row], *, headers: bool = True) -> list[JournalEntry]:
    """The entries of journal rows (``Journal.rows_answered_after``), without their headers unpacked
    when ``headers`` is false (``Journal.answered_after`` says who reads them so)."""
    return list(map(_entry_of if headers else _entry_without_headers, rows))


def _entry_without_headers(row: Row) -> JournalEntry:
    entry = JournalEntry(*row)
    entry.request_headers = entry.response_headers = ()
    return entry


def _packed(headers: Sequence[tuple[Any, Any]], line: Any, colon: Any) -> Any:
    """``headers`` as one string (bytes or str, as they are) of "name: value" lines; the pairs as
    they are when a name or value holds a line break or a value holds ": " (the HTTP parser lets
    no line break through, nor a colon into a name; a bundle's file could), so that reading gives
    back exactly what was kept."""
    if not headers:
        return headers
    text = line.join(map(colon.join, headers))  # each pair joined in C: "name: value"
    return text if text.count(line) == len(headers) - 1 and text.count(colon) == len(headers) else headers


def _unpacked(kept: Any, line: Any, colon: Any) -> tuple[tuple[Any, Any], ...]:
    if type(kept) is tuple:
        return kept
    return tuple((name, value) for name, _, value in (each.partition(colon) for each in kept.split(line)))


class JournalEntries(RowView[JournalEntry]):
    """The ring (or a choice of its rows) read as entries, oldest first."""

    __slots__ = ()

    def _made(self, row: Row) -> JournalEntry:
        return _entry_of(row)


class Journal:
    def __init__(self, size: int) -> None:
        self._rows: deque[Row] = deque(maxlen=size)
        self.entries = JournalEntries(self._rows)
        self.total = 0

    def add(self, entry: JournalEntry) -> None:
        self.add_row(row_of(entry))

    def add_row(self, row: Row) -> None:
        """An entry already made into its row (``JournalEntry``'s fields in order, headers packed)."""
        self._rows.append(row)
        self.total += 1

    def add_rows(self, rows: Sequence[Row]) -> list[Row]:
        """``add_row`` for each of ``rows``, in one call. Returns the rows they pushed out of the
        ring, not yet freed: the caller lets go of them (a full journal's, freed at once as the ring
        dropped them, held the loop 8-9 ms on a slow machine; ``steps.let_go``)."""
        ring = self._rows
        assert ring.maxlen is not None
        over = min(len(ring), len(ring) + len(rows) - ring.maxlen)
        pushed_out = [ring.popleft() for _ in range(over)]
        ring.extend(rows)
        self.total += len(rows)
        return pushed_out

    def clear(self) -> None:
        """Start afresh (``reset``): no entry, and none recorded (``total_recorded`` counts from 0)."""
        self._rows.clear()
        self.total = 0

    def answered_after(self, order: int, integration_id: str, *, headers: bool = True) -> list[JournalEntry]:
        """``integration_id``'s entries answered after ``order`` (``Emulator``'s request order),
        oldest first. Other integrations' rows are passed over without making an entry of them
        (``serve``'s summary on Ctrl-C judges every integration: with one made per row in the ring
        it took seconds after a soak). ``headers=False``: entries with no headers, for the readers
        that never look at them (the judge, verify): unpacking them was a third of a busy
        integration's report, which the dashboard reads every second."""
        return entries_of(self.rows_answered_after(order, integration_id), headers=headers)

    def since(self, order: int, integration_id: str) -> JournalEntries:
        """``integration_id``'s entries that arrived (and so were answered) after ``order``, oldest
        first: chosen now, made as they are read (a state bundle's journal, written in parts)."""
        return JournalEntries([row for row in self.rows_answered_after(order, integration_id) if row[_ARRIVAL] > order])

    def rows_answered_after(self, order: int, integration_id: str) -> list[Row]:
        """``answered_after``'s rows, chosen now, oldest first: a read made a step at a time
        (``steps``) makes their entries in later steps (``entries_of``), as the ring moves on."""
        rows = list(self._own_rows_after(order, integration_id))
        rows.reverse()
        return rows

    def answers_after(self, order: int, integration_id: str) -> list[tuple[int, str | None]]:
        """The status and code of each of ``integration_id``'s entries answered after ``order``,
        newest first: ``answered_after`` without making an entry of each row. What a pytest
        test's coverage reads first; most tests' answers all succeed and it reads no more."""
        return [(row[_STATUS], row[_CODE]) for row in self._own_rows_after(order, integration_id)]

    def _own_rows_after(self, order: int, integration_id: str) -> Iterator[Row]:
        """``integration_id``'s rows answered after ``order``, newest first: a backwards walk that
        stops at the first older one, so a new tenant on a busy shared server reads its own few rows,
        not the whole ring."""
        for row in reversed(self._rows):
            if row[_ANSWER] <= order:
                return
            if row[_INTEGRATION] == integration_id:
                yield row

    def requests_by_integration(self) -> dict[str, int]:
        """How many of the ring's entries each integration has, in the order each first appears."""
        counts: dict[str, int] = {}
        for row in self._rows:
            integration_id = row[_INTEGRATION]
            if integration_id is not None:
                counts[integration_id] = counts.get(integration_id, 0) + 1
        return counts

    def picked(
        self,
        integration_id: str | None,
        limit: int,
        operation: str | None = None,
        status: int | None = None,
        *,
        after: int = 0,
        since: Mapping[str | None, int] | None = None,
    ) -> JournalEntries:
        """The last ``limit`` entries (optionally of one integration, operation, status) that arrived
        after ``after`` (``Emulator``'s request order: a tenant's ``since``), and after ``since``
        gives for their integration, oldest first: chosen now, made into entries as they are read,
        so a large answer makes them while it is written (10,000 at once held the loop ~70 ms, issue 22)."""
        picked: list[Row] = []
        for row in reversed(self._rows):
            if row[_ANSWER] <= after:  # the ring is in answer order: nothing older arrived after it
                break
            if (
                row[_ARRIVAL] > after
                and (integration_id is None or row[_INTEGRATION] == integration_id)
                and (operation is None or row[_OPERATION] == operation)
                and (status is None or row[_STATUS] == status)
                and (since is None or row[_ARRIVAL] > since.get(row[_INTEGRATION], 0))
            ):
                picked.append(row)
                if len(picked) >= limit:
                    break
        picked.reverse()
        return JournalEntries(picked)
