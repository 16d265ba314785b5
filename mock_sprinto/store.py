"""In-memory state: tenants (integrations), their sessions, staged pages and applied datasets.

Pages are staged as the request body's bytes rather than as Python objects: about 300 bytes a
``User`` record instead of well over a kilobyte, which keeps a million staged records far below
a gigabyte. Applied records are stored the same way, one compact JSON document each.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import operator
import random
import secrets
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson

from .budget import (
    ACTIVITY_BYTES,
    PAGE_BYTES,
    RECORD_OVERHEAD_BYTES,
    SESSION_BYTES,
    TENANT_BYTES,
    MemoryBudget,
    approx_bytes,
    freed,
)
from .clock import OffsetClock, format_time
from .errors import MockSprintoError
from .faults.engine import FaultState, random_state, restored_random
from .faults.scenario import Scenario
from .lifecycle import FINAL, State
from .payload import INLINE_JUDGE_BYTES, many_values
from .rows import Row, RowView
from .settings import Settings

MAX_REJECTED_PAGES_KEPT = 200  # per session: enough to debug, bounded against a looping client


class IdSource:
    """Opaque ids: random by default, reproducible when a scenario gives a seed."""

    def __init__(self, seed: int | str | None = None) -> None:
        self._rng: random.Random | None = None if seed is None else random.Random(str(seed))

    def make(self, prefix: str) -> str:
        bits = secrets.randbits(96) if self._rng is None else self._rng.getrandbits(96)
        return f"{prefix}_{bits:024x}"

    @property
    def seeded(self) -> bool:
        return self._rng is not None

    def random_state(self) -> str | None:
        """Where a seeded source stands (a state bundle's), so the next ids are the same; None when random."""
        return None if self._rng is None else random_state(self._rng)

    @classmethod
    def restored(cls, state: str) -> IdSource:
        source = cls()
        source._rng = restored_random(state)
        return source


REJECTED_KEYS_KEPT = 100  # record keys a rejected page keeps (Page.record_keys): a page's records at Sprinto
MAX_KEPT_KEY_CHARS = 256  # a longer key is not kept: the judge's question needs no more


def rejected_record_keys(raw: bytes, key_field: Callable[[str], str | None]) -> tuple[tuple[str, str], ...] | None:
    """The (entity type, key) of a rejected page's records whose key field holds a string, the
    first ``REJECTED_KEYS_KEPT`` (``Page.record_keys``): the judge asks whether they were applied in
    the end (a client that sends no page_hint and skipped the page got a clean report). Read on the
    loop, so not for a page judged apart for its size (None: not read); the HAR judge reads them
    from a rejected push's body the same way."""
    if len(raw) > INLINE_JUDGE_BYTES or many_values(raw):  # a text a parse would hold the loop for
        return None
    try:
        page = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    entities = page.get("entities") if type(page) is dict else None
    if type(entities) is not dict:
        return None
    keys: list[tuple[str, str]] = []
    # Only the types that hold something, chosen in C: a page refused for naming 40,000 empty types
    # spent 40 ms of the loop asking each for its key field.
    for entity_type in itertools.compress(entities, entities.values()):
        records = entities[entity_type]
        field_name = key_field(entity_type) if type(records) is list else None
        if field_name is None:
            continue
        for record in records:
            value = record.get(field_name) if type(record) is dict else None
            if type(value) is str and len(value) <= MAX_KEPT_KEY_CHARS:
                keys.append((entity_type, value))
                if len(keys) == REJECTED_KEYS_KEPT:
                    return tuple(keys)
    return tuple(keys)


# A page's count of one entity type, as ``approx_bytes`` sizes it: a dict item (56), the type's name
# (49 and its characters) and the count (28).
COUNT_ITEM_BYTES = 133


def counts_bytes(counts: Mapping[str, int]) -> int:
    """What a page's counts hold beyond the one type ``PAGE_BYTES`` measured with, by arithmetic
    (one C pass over the names, not ``approx_bytes``' walk: it runs on the loop for every page)."""
    if len(counts) <= 1:
        return 0
    return (len(counts) - 1) * COUNT_ITEM_BYTES + sum(map(len, counts))


@dataclass(slots=True)
class Page:
    """One push that reached an active session, accepted or not."""

    ordinal: int
    request_id: str
    received_at: float
    accepted: bool
    record_count: int
    counts: dict[str, int]
    wire_bytes: int
    decoded_bytes: int
    encoding: str
    page_hint: int | str | None = None
    code: str | None = None
    detail: str | None = None
    errors: Sequence[dict[str, Any]] = ()  # an accepted page's: none (a shared empty tuple, no list a page)
    errors_truncated: bool = False
    payload: bytes | None = None  # the decoded body of an accepted page, applied on close
    duration_ms: float = 0.0
    digest: str | None = None  # payload.page_digest of the decoded body (None when it was never read)
    # Of an accepted page: its fields beyond the known ones, once read (when the page is built for
    # an apply, or by the judge while it is staged); None until then. NONE_FOUND: read, none.
    unknown_fields: dict[str, list[str]] | None = None
    # Of a page rejected 400: the (entity type, key) of its records whose key is a string, read when
    # it was refused (``REJECTED_KEYS_KEPT`` at most): the judge asks whether they were applied in the
    # end, where neither a page_hint nor the bytes tell the page fixed from the next one. None: not read.
    record_keys: tuple[tuple[str, str], ...] | None = None
    # Of a page a scenario rule (or a Prefer header) refused 400 before it ran, as if a record were
    # invalid: the rules' names. The session counts it as Sprinto's would, and the judge judges it
    # as the other rejected pages (``checks.unrecovered_pages``), or once its session was discarded.
    rule: str | None = None
    kept: int = PAGE_BYTES  # what this record of the page holds (its errors included), for the budget

    def count_kept(self) -> int:
        """Estimate what this record holds, once its errors, detail and record keys are set: its
        counts too, beyond the one type ``PAGE_BYTES`` holds (a page naming a million types kept a
        million-key dict, 26 MB of RSS, while the budget counted 4 KB)."""
        self.kept = PAGE_BYTES + counts_bytes(self.counts) + len(self.detail or "") + len(self.rule or "")
        if self.errors:
            self.kept += approx_bytes(self.errors)
        if self.record_keys:
            self.kept += approx_bytes(self.record_keys)
        return self.kept

    def describe(self) -> dict[str, Any]:
        return {
            "ordinal": self.ordinal,
            "request_id": self.request_id,
            "received_at": format_time(self.received_at),
            "accepted": self.accepted,
            "record_count": self.record_count,
            "counts_by_entity": dict(self.counts),
            "wire_bytes": self.wire_bytes,
            "decoded_bytes": self.decoded_bytes,
            "encoding": self.encoding,
            "page_hint": self.page_hint,
            "code": self.code,
            "detail": self.detail,
            "errors": list(self.errors),
            "errors_truncated": self.errors_truncated,
            "duration_ms": round(self.duration_ms, 3),
            "rule": self.rule,
        }


# A page read for unknown fields that has none: one dict shared by every such page (never changed),
# so "read, none" costs a page no dict of its own and is not "not read yet" (None), which the judge
# would read again, page by page, at every report. Flat, it is the shared _NONE_FOUND_JSON.
NONE_FOUND: dict[str, list[str]] = {}
_NONE_FOUND_JSON = b"{}"


def fields_found(fields: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """``fields`` as a page keeps them: an empty dict (none found, or a bundle's) as ``NONE_FOUND``."""
    return NONE_FOUND if fields is not None and not fields else fields


def _fields_from_json(text: bytes) -> dict[str, list[str]]:
    return NONE_FOUND if text == _NONE_FOUND_JSON else orjson.loads(text)


# The fields of a Page, in order: a finished session keeps one tuple of them per page (PageRows).
_PAGE_FIELDS = tuple(Page.__dataclass_fields__)
_page_values = operator.attrgetter(*_PAGE_FIELDS)  # one C call for the whole row


class PageRows(RowView[Page]):
    """A finished session's accepted pages, as the judge and the dashboard read them, kept flat:
    one tuple of plain values a page (counts and unknown fields as JSON bytes, equal counts
    shared), so the garbage collector stops tracking them after its next pass and a full collection
    no longer walks every page a long-running server ever accepted. Reading one builds a ``Page``."""

    __slots__ = ()
    _rows: tuple[Row, ...]

    def __init__(self, pages: Sequence[Page] = (), rows: tuple[Row, ...] | None = None) -> None:
        super().__init__(rows if rows is not None else tuple(FlatRows().rows(pages)))

    def _made(self, row: Row) -> Page:
        return _page_of(row)


class FlatRows:
    """Pages made into PageRows' rows, equal counts shared (one bytes object for every page of a
    session that pushed the same entity counts). One instance flattens one session, in as many
    calls as it takes (``Timeline`` does a large one in slices)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[tuple[str, int], ...], bytes] = {}

    def rows(self, pages: Iterable[Page]) -> Iterator[tuple[Any, ...]]:
        counts_of = self._counts
        for page in pages:
            row = list(_page_values(page))
            shape = tuple(page.counts.items())
            counts = counts_of.get(shape)
            if counts is None:
                counts = counts_of[shape] = right_sized_json(page.counts)
            row[_COUNTS] = counts
            if page.unknown_fields is not None:
                row[_UNKNOWN] = right_sized_json(page.unknown_fields) if page.unknown_fields else _NONE_FOUND_JSON
            row[_ERRORS] = tuple(page.errors)  # an accepted page's: empty
            row[_PAYLOAD] = None  # retired: the bytes are gone already
            yield tuple(row)


def page_fields(pages: Sequence[Page], *names: str) -> Iterator[tuple[Any, ...]]:
    """Two or more fields of each page, as a tuple a page, without making a ``Page`` of a flat
    row: the judge reads a few fields of every page kept, and the dashboard asks for its report
    every second (making each page was half of a report's time: 1,000 sessions of 10 pages,
    ~40 ms). ``unknown_fields`` comes as a ``Page`` has it (decoded)."""
    assert len(names) > 1, "one field: a tuple of one is not what itemgetter gives"
    if not isinstance(pages, PageRows):
        return map(operator.attrgetter(*names), pages)
    at = [_PAGE_FIELDS.index(name) for name in names]
    rows = map(operator.itemgetter(*at), pages._rows)
    if _UNKNOWN not in at:
        return rows
    where = at.index(_UNKNOWN)
    return (
        values if values[where] is None else (*values[:where], _fields_from_json(values[where]), *values[where + 1 :])
        for values in rows
    )


def right_sized_json(value: Any) -> bytes:
    """``value`` as JSON in a bytes object of its own size: the one orjson.dumps returns keeps the
    heap block of its ~4 KiB output buffer (benchmarks/ANALYSIS.md), 40 MiB for a 10,000-item log."""
    return memoryview(orjson.dumps(value)).tobytes()


def _page_of(row: tuple[Any, ...]) -> Page:
    page = Page(*row)
    page.counts = orjson.loads(row[_COUNTS])
    if row[_UNKNOWN] is not None:
        page.unknown_fields = _fields_from_json(row[_UNKNOWN])
    return page


_COUNTS, _UNKNOWN, _ERRORS, _PAYLOAD = map(_PAGE_FIELDS.index, ("counts", "unknown_fields", "errors", "payload"))


@dataclass(slots=True)
class Session:
    id: str
    integration_id: str
    ordinal: int  # 1 for the integration's first session, and so on
    client_reference_id: str | None
    inactivity_timeout: float
    created_at: float
    state: State = State.ACTIVE
    updated_at: float = 0.0
    last_request_at: float = 0.0
    expired_at: float | None = None
    expired_by_scenario: bool = False  # a scenario rule's lifecycle action, not the client's inactivity
    closed_at: float | None = None
    close_status: str | None = None
    processing_started_at: float | None = None
    finished_at: float | None = None
    data_retained_until: float | None = None
    data_purged: bool = False
    # A list while the session can still stage; PageRows once it is finished (Session.finish).
    accepted_pages: Sequence[Page] = field(default_factory=list)
    rejected_pages: deque[Page] = field(default_factory=lambda: deque(maxlen=MAX_REJECTED_PAGES_KEPT))
    pages_received: int = 0
    # Staged pages identical to the one staged before them (a page sent again after its answer was
    # lost): a scenario's ``match.page`` counts each such pair as one page (``sessions.page_number``).
    pages_sent_again: int = 0
    accepted_records_total: int = 0
    accepted_records_by_entity: Counter[str] = field(default_factory=Counter)
    rejected_batches: int = 0
    retry_count: int = 0
    last_error: str | None = None  # [doc] a string
    staged_bytes: int = 0
    staged_records: int = 0  # of the accepted pages still staged: applying each will hold RECORD_OVERHEAD_BYTES
    kept: int = SESSION_BYTES  # what the session and its pages' records hold, for the budget
    applying: Any = None  # the apply built ahead while processing is pending (timeline.Applying)

    @property
    def expires_at(self) -> float:
        """[doc] always a date-time: when it expires, or expired; after a close, the deadline it had."""
        if self.expired_at is not None:
            return self.expired_at
        return self.last_request_at + self.inactivity_timeout

    def add_page(self, page: Page) -> None:
        pages = self.accepted_pages
        assert isinstance(pages, list), "a finished session stages nothing"
        if pages and page.digest is not None and pages[-1].digest == page.digest:
            self.pages_sent_again += 1
        pages.append(page)

    def finish(self, rows: tuple[tuple[Any, ...], ...] | None = None) -> None:
        """Done with its data: the pages are kept flat (PageRows), for the judge and the dashboard;
        ``rows``: made already (``FlatRows``, a slice at a time)."""
        if isinstance(self.accepted_pages, list):
            self.accepted_pages = PageRows(self.accepted_pages, rows)

    def as_it_stands(self) -> Session:
        """The session as it is now, for a read made a step at a time (``steps``) while the loop
        goes on staging, expiring and closing: itself once its state is final (nothing it records
        changes then), else a copy with its own page lists. The pages are shared: what a page
        records of its arrival is set when it is staged."""
        if self.state in FINAL:
            return self
        twin = object.__new__(Session)
        for name, value in zip(_SESSION_FIELDS, _session_values(self), strict=True):
            setattr(twin, name, value)
        if isinstance(self.accepted_pages, list):  # PageRows (a purged expired session's) never change
            twin.accepted_pages = tuple(self.accepted_pages)
        twin.rejected_pages = deque(self.rejected_pages, maxlen=self.rejected_pages.maxlen)
        return twin

    def public(self) -> dict[str, Any]:
        """The vendor's Session object (documented members first, then the emulator's extras)."""
        expires = self.expires_at
        return {
            "id": self.id,
            "integration_id": self.integration_id,
            "state": self.state.value,
            "client_reference_id": self.client_reference_id,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "expires_at": format_time(expires),
            "inactivity_timeout_seconds": int(self.inactivity_timeout)
            if float(self.inactivity_timeout).is_integer()
            else self.inactivity_timeout,
            "accepted_records_total": self.accepted_records_total,
            "accepted_records_by_entity": dict(self.accepted_records_by_entity),
            "accepted_batches": len(self.accepted_pages),
            "retry_count": self.retry_count,
            "last_error": self.last_error,
            "rejected_batches": self.rejected_batches,
            "closed_at": None if self.closed_at is None else format_time(self.closed_at),
            "data_retained_until": None if self.data_retained_until is None else format_time(self.data_retained_until),
        }

    def detail(self, last_pages: int | None = None) -> dict[str, Any]:
        """The control plane's view: the public object plus every page kept (``pages_total`` of
        them), or only the last ``last_pages`` of them by ordinal (the dashboard's overview)."""
        total = len(self.accepted_pages) + len(self.rejected_pages)
        if last_pages is None or last_pages >= total:
            pages = sorted([*self.accepted_pages, *self.rejected_pages], key=lambda page: page.ordinal)
        elif last_pages <= 0:
            pages = []
        else:  # the last of each, merged: the pages before them are never read (a PageRows row is a Page made)
            accepted = self.accepted_pages[-last_pages:]
            rejected = list(itertools.islice(reversed(self.rejected_pages), last_pages))
            pages = sorted([*accepted, *rejected], key=lambda page: page.ordinal)[-last_pages:]
        return {
            **self.public(),
            "ordinal": self.ordinal,
            "last_request_at": format_time(self.last_request_at),
            "processing_started_at": None
            if self.processing_started_at is None
            else format_time(self.processing_started_at),
            "finished_at": None if self.finished_at is None else format_time(self.finished_at),
            "close_status": self.close_status,
            # What expired it: the client's silence, or a scenario's lifecycle action (whose
            # expiry can come a moment after a request: "without a request" would be false).
            "expired_by": None if self.expired_at is None else "scenario" if self.expired_by_scenario else "inactivity",
            "data_purged": self.data_purged,
            "pages_received": self.pages_received,
            "staged_bytes": self.staged_bytes,
            "pages_total": total,
            "pages": [page.describe() for page in pages],
        }


def record_key(value: Any) -> str | bytes:
    """Normalise a key field's value so 1, 1.0, true and "1" stay distinct keys: a string is
    itself, any other value its type and JSON as bytes (never equal to a string). Keys are of
    types the garbage collector does not track (as the unkeyed records' numbers), so a dataset's
    dict is untracked after a collection and stays so as records are put: a tuple key tracked it
    again with every put, and each full collection walked every record of an apply in progress
    (issue 21's soak: 24-78 ms collections, in the slices of a large apply)."""
    if type(value) is str:
        return value
    return type(value).__name__.encode() + b"\0" + orjson.dumps(value)


# A records view of more than this many records streams from a dict (the dataset's copy, or one of
# the window's own records), not from a list of them: such a dict holds only strings, bytes and
# numbers, so the collector never tracks it, while a list of 60,000 references, alive as long as a
# slow client read its answer, was walked by every young collection of those seconds (issue 21's
# soak: young passes of 10-24 ms of CPU with a few such views open). A dict costs ~32 bytes a
# record, the list 8, so a small window (the dashboard reads 20) is still listed.
LISTED_WINDOW = 1_000
# Of the two dicts, whichever costs less: a copy of the whole dataset clones its table (~22 ns a
# record of the dataset, on a million records here); the window's own is built from a slice of its
# items (~13 ns a record skipped before the window, ~120 a record put in it). So the window's when
# ``offset + 8 * limit < 2 * len``. Before, every window copied the whole dataset: a client paging
# through a million records 5,000 at a time copied all million (22 ms, 32 MB) for every page.
_INSERT_TO_SKIP = 8
_CLONE_TO_SKIP = 2


class UnwritableRecord(MockSprintoError, ValueError):
    """A record an apply cannot store: orjson will not write it (``max_json_depth`` is bounded so
    that no page it accepts holds one; this is the defence behind that bound)."""


@dataclass
class Dataset:
    """The applied records of one entity type: keyed by the type's key field when it has one."""

    entity_type: str
    key_field: str | None
    records: dict[str | bytes | int, bytes] = field(default_factory=dict)  # keys: ``record_key``, or a number
    applied_at: float | None = None
    applied_by_session: str | None = None
    _unkeyed: int = 0
    nbytes: int = 0  # the records' bytes plus RECORD_OVERHEAD_BYTES each: what the memory budget counts
    base: Dataset | None = None  # upserting: the dataset these records go over (``over``, ``merged``)

    def holds(self, key: str) -> bool:
        """Whether a record of this key (a string key field's value) is applied here."""
        return key in self.records or (self.base is not None and key in self.base.records)

    def put(self, record: Any) -> None:
        key_value = record.get(self.key_field) if self.key_field and type(record) is dict else None
        if key_value is None or isinstance(key_value, (dict, list)):
            self._unkeyed += 1
            key: str | bytes | int = self._unkeyed  # no key made of a value is a number
        else:
            key = record_key(key_value)
        # A right-sized copy: the bytes orjson.dumps returns keep its ~4 KiB output buffer's
        # heap block (about 4.1 KB of RSS per record instead of ~350 B; benchmarks/ANALYSIS.md).
        try:
            raw = memoryview(orjson.dumps(record)).tobytes()
        except orjson.JSONEncodeError as exc:  # nested past orjson's 254 levels, say: the apply fails
            raise UnwritableRecord(f"a record of {self.entity_type[:80]!r} cannot be written as JSON ({exc})") from None
        replaced = self.records.get(key)
        if replaced is None and self.base is not None:
            replaced = self.base.records.get(key)
        if replaced is not None:
            self.nbytes -= len(replaced) + RECORD_OVERHEAD_BYTES
        self.records[key] = raw
        self.nbytes += len(raw) + RECORD_OVERHEAD_BYTES

    @classmethod
    def over(cls, base: Dataset) -> Dataset:
        """Records to upsert into ``base``, held aside until ``merged`` (its count says what
        ``base`` would hold with them)."""
        return cls(base.entity_type, base.key_field, {}, _unkeyed=base._unkeyed, nbytes=base.nbytes, base=base)

    def merged(self) -> Dataset:
        """The dataset these records were put into: ``base`` with them, or this one."""
        base = self.base
        if base is None:
            return self
        base.records.update(self.records)
        base._unkeyed = self._unkeyed
        base.nbytes = self.nbytes
        return base

    def describe(self, offset: int, limit: int) -> dict[str, Any]:
        head, window = self.describe_parts(offset, limit)
        return {**head, "records": [orjson.loads(raw) for raw in window]}

    def describe_parts(self, offset: int, limit: int) -> tuple[dict[str, Any], Iterator[bytes]]:
        """``describe`` without its ``records``, and the records in the window as the JSON they are
        kept as (from a snapshot taken now: an apply meanwhile does not change it)."""
        head = {
            "entity_type": self.entity_type,
            "key_field": self.key_field,
            "count": len(self.records),
            "offset": offset,
            "applied_at": None if self.applied_at is None else format_time(self.applied_at),
            "applied_by_session": self.applied_by_session,
        }
        end = offset + limit
        if limit <= LISTED_WINDOW or offset >= len(self.records):
            return head, iter(list(itertools.islice(self.records.values(), offset, end)))
        if offset + _INSERT_TO_SKIP * limit < _CLONE_TO_SKIP * len(self.records):  # a page of a large dataset
            return head, iter(dict(itertools.islice(self.records.items(), offset, end)).values())
        return head, itertools.islice(self.records.copy().values(), offset, end)


class ActivityItem(NamedTuple):
    """One event of the activity log, as read (``ActivityLog`` keeps it as a plain tuple)."""

    id: str
    at: float
    level: str
    type: str
    message: str
    session_id: str | None
    details_json: bytes
    nbytes: int = 0  # what it holds, for the budget

    @property
    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = orjson.loads(self.details_json)
        return details

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": format_time(self.at),
            "level": self.level,
            "type": self.type,
            "message": self.message,
            "session_id": self.session_id,
            "details": self.details,
        }


_NBYTES = ActivityItem._fields.index("nbytes")


def accepted_details_bytes(page: int, counts: dict[str, int], request_id: str) -> int:
    """``approx_bytes`` of an accepted page's note details, ``{"page": page, "counts_by_entity":
    counts, "request_id": request_id}``, by arithmetic (the walk was ~15 k instructions a push):
    the dict (64, and 56 an item) and its three keys (49 and their length each), the page number
    (28), the counts (a dict: 64, and 56 an item; a name 49 and its length, a count 28, each int
    a byte more per 8 bits) and the request id (49 and its length). A test holds it to approx_bytes."""
    total = 550 + page.bit_length() // 8 + len(request_id)
    for name, count in counts.items():
        total += 133 + len(name) + count.bit_length() // 8
    return total


class ActivityLog:
    """An integration's activity, oldest first, the oldest dropped past ``maxlen``. Each item is
    kept as a plain tuple of plain values (its details as JSON bytes), which the garbage collector
    stops tracking: a full log of 10,000 items no longer costs every full collection 30,000
    objects (item, details, counts), and a tuple subclass would stay tracked. Read as ActivityItems."""

    __slots__ = ("rows",)

    def __init__(self, maxlen: int, rows: Iterable[tuple[Any, ...]] = ()) -> None:
        self.rows: deque[tuple[Any, ...]] = deque(rows, maxlen=maxlen)

    @property
    def maxlen(self) -> int | None:
        return self.rows.maxlen

    def resized(self, maxlen: int) -> ActivityLog:
        return ActivityLog(maxlen, self.rows)

    def append(self, item: ActivityItem) -> None:
        self.rows.append(tuple(item))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> ActivityItem:
        return ActivityItem._make(self.rows[index])

    def __iter__(self) -> Iterator[ActivityItem]:
        return map(ActivityItem._make, self.rows)


class TokenBucket:
    """Requests allowed per integration on emulator time; advancing the clock refills it."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> float | None:
        """Spend a token and return None, or return the seconds until one is available."""
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        if self.rate <= 0:
            return float("inf")
        return (1.0 - self.tokens) / self.rate


@dataclass(order=True)
class Due:
    """A timed event in a tenant's future: finish a processing attempt, or purge expired data."""

    at: float
    seq: int
    kind: str = field(compare=False)
    session_id: str = field(compare=False)


_NO_STATES = {state.value: 0 for state in State}  # a new tenant's state counts (copied, never changed)


class Tenant:
    """One integration: its key, its clock, its sessions, its applied data, its activity."""

    def __init__(
        self,
        integration_id: str,
        api_key: str | None,
        clock: OffsetClock,
        settings: Settings,
        ids: IdSource,
        budget: MemoryBudget | None = None,
    ) -> None:
        self.budget = MemoryBudget(None) if budget is None else budget  # the process-wide one, shared
        self.forgotten = False  # deleted or reset away: work still on its way for it stops (release_memory)
        self._staged_bytes = 0
        self._applied_bytes = 0
        self._kept_bytes = TENANT_BYTES  # bookkeeping: this tenant, its sessions and their pages, its log, its scenario
        self.id = integration_id
        self.api_key = api_key
        self.clock = clock
        # The tenant's time is its clock's: the bound method itself, one frame fewer on each of a
        # push's reads (``clock`` is never replaced on a tenant).
        self.now: Callable[[], float] = clock.now
        self.settings = settings  # the server's settings with the tenant's scenario overrides
        self.ids = ids
        self.since = 0  # the emulator's request order when this tenant was made: older entries are another's
        # Nothing a documented behaviour needs has happened yet (``report.coverage.nothing_to_meet``):
        # every answer journaled for it succeeded without a code, every session is active and clean.
        # Kept on the server's thread as it changes (``Emulator.journal_call``, ``Timeline.move``, a
        # rejected page), and read without waiting for the loop by the pytest fixture's coverage read,
        # which otherwise waited for the loop to finish closing the test's connection (~50 us a test).
        # True only while that holds; False means "read the run to know".
        self.quiet = True
        self.own_scenario: Scenario | None = None  # set for this integration; else the global one
        self.settings_overrides: dict[str, Any] = {}  # this integration's own, over its scenario's
        self.faults = FaultState(None, integration_id)
        self.sessions: dict[str, Session] = {}
        self.active_session_id: str | None = None
        self.session_count = 0
        self.finished: deque[str] = deque()
        self.due: list[Due] = []
        self._due_seq = 0
        self.datasets: dict[str, Dataset] = {}
        self.activity = ActivityLog(settings.activity_log_size)
        self._activity_seq = 0
        # every state counted from 0, so a plain dict (a Counter's constructor: ~0.9 us a tenant)
        self.state_counts: dict[str, int] = dict(_NO_STATES)
        self.last_activity_at: float | None = None
        self.created_at = clock.now()
        self.bucket: TokenBucket | None = None
        self.processing_failures_pending = 0  # injected by a scenario: attempts that will fail
        self.processing_hold_until = 0.0  # injected by a scenario: no attempt finishes before this
        self.budget.add(TENANT_BYTES)  # ``keep(TENANT_BYTES)`` from 0, without the call

    # Staged and applied bytes report every change to the process-wide memory budget.
    @property
    def staged_bytes(self) -> int:
        return self._staged_bytes

    @staged_bytes.setter
    def staged_bytes(self, value: int) -> None:
        self.budget.add(value - self._staged_bytes)
        self._staged_bytes = value

    @property
    def applied_bytes(self) -> int:
        return self._applied_bytes

    @applied_bytes.setter
    def applied_bytes(self, value: int) -> None:
        self.budget.add(value - self._applied_bytes)
        self._applied_bytes = value

    @property
    def kept_bytes(self) -> int:
        return self._kept_bytes

    def keep(self, delta: int) -> None:
        """Bookkeeping held (or, negative, given back): counted in the memory budget."""
        self._kept_bytes += delta
        self.budget.add(delta)

    def release_memory(self) -> None:
        """The tenant is forgotten: give its bytes back, and count whatever a request still in
        flight does to it on a private budget from now on. Its bytes count as freed: the caller
        trims the heap (``budget.trim_if_due``) once it has let go of the tenant."""
        self.forgotten = True
        held = self._staged_bytes + self._applied_bytes + self._kept_bytes
        freed(held)
        self.budget.add(-held)
        self.budget = MemoryBudget(None)
        self.budget.add(held)

    # ---- the bookkeeping of sessions, pages and activity, each counted ------------------------
    def add_session(self, session: Session) -> None:
        self.sessions[session.id] = session
        self.keep(session.kept)

    def forget_session(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            self.keep(-session.kept)

    def add_page(self, session: Session, page: Page) -> None:
        """List a page on its session: accepted, or rejected (past ``MAX_REJECTED_PAGES_KEPT``, the
        oldest a scenario rule rejected is dropped, else the oldest)."""
        size = page.count_kept()
        if page.accepted:
            session.add_page(page)
        else:
            pages = session.rejected_pages
            if pages.maxlen is not None and len(pages) >= pages.maxlen:
                # A page a rule rejected goes first: the journal still tells the judge of one its
                # session does not list (``Run.pages_left_out``), and nothing tells of a page
                # validation rejected but this list (a rule refusing one push in ten had pushed out
                # the one invalid page a client skipped: a clean report).
                at = next((at for at, kept in enumerate(pages) if kept.rule is not None), None)
                if at is None and page.rule is not None:
                    return  # counted on the session, in the activity log and the journal; not listed
                size -= pages[at or 0].kept
                if at is not None:
                    del pages[at]  # O(maxlen), once the list is full
            pages.append(page)
        session.kept += size
        self.keep(size)

    def resize_activity(self, size: int) -> None:
        if self.activity.maxlen != size:
            before = sum(item.nbytes for item in self.activity)
            self.activity = self.activity.resized(size)
            self.keep(sum(item.nbytes for item in self.activity) - before)

    @property
    def active_session(self) -> Session | None:
        return None if self.active_session_id is None else self.sessions.get(self.active_session_id)

    def schedule(self, at: float, kind: str, session_id: str) -> None:
        self._due_seq += 1
        heapq.heappush(self.due, Due(at, self._due_seq, kind, session_id))

    def note(
        self,
        at: float,
        level: str,
        kind: str,
        message: str,
        session_id: str | None = None,
        **details: Any,
    ) -> None:
        self.note_sized(at, level, kind, message, session_id, details, approx_bytes(details))

    def note_sized(
        self,
        at: float,
        level: str,
        kind: str,
        message: str,
        session_id: str | None,
        details: dict[str, Any],
        details_bytes: int,
    ) -> None:
        """``note`` with ``approx_bytes(details)`` already known: an accepted page's note is sized
        by arithmetic (``accepted_details_bytes``), not by walking its details on every push."""
        self._activity_seq += 1
        size = ACTIVITY_BYTES + len(message) + details_bytes
        rows = self.activity.rows
        if rows.maxlen is not None and len(rows) >= rows.maxlen:
            self.keep(size - rows[0][_NBYTES])
        else:
            self.keep(size)
        # the row ActivityLog keeps (an ActivityItem's fields, in order), made without the item
        rows.append(
            (f"act_{self._activity_seq:08d}", at, level, kind, message, session_id, right_sized_json(details), size)
        )
        self.last_activity_at = at


_SESSION_FIELDS = tuple(name for name in Session.__slots__ if not name.startswith("__"))
_session_values = operator.attrgetter(*_SESSION_FIELDS)


class Judged(Protocol):
    """What the judge and a verification read of an integration besides its journal: a live
    ``Tenant``, or ``TenantAsItStood`` for a read made a step at a time (``steps``)."""

    @property
    def id(self) -> str: ...
    @property
    def since(self) -> int: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def sessions(self) -> Mapping[str, Session]: ...
    @property
    def datasets(self) -> Mapping[str, Dataset]: ...


@dataclass(frozen=True)
class TenantAsItStood:
    """An integration as the judge reads it, taken in one step with its journal's rows: the loop may
    stage, expire and close between a stepped read's steps (a report's checks), and every step still
    reads the same instant (the sessions as they stood: ``Session.as_it_stands``)."""

    id: str
    since: int
    settings: Settings
    sessions: Mapping[str, Session]
    datasets: Mapping[str, Dataset]  # the datasets then applied (an apply puts a new one in place)

    @classmethod
    def of(cls, tenant: Tenant) -> TenantAsItStood:
        sessions = {session_id: session.as_it_stands() for session_id, session in tenant.sessions.items()}
        settings = tenant.settings
        if not settings.frozen_clock and tenant.clock.stands_still():
            # freezegun holds the in-process emulator's time: every wait the judge measured reads
            # 0 s, a careful client's real sleep too, so it judges as on a frozen clock.
            settings = dataclasses.replace(settings, frozen_clock=True)
        return cls(tenant.id, tenant.since, settings, sessions, dict(tenant.datasets))
