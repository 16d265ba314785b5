"""State bundles: one integration, or the whole emulator, as one versioned JSON document.

``to_document`` reads (the caller settles the tenants first); ``from_document`` checks a document
completely and builds every object it describes, touching nothing of the emulator; the
``Restoration`` it returns is then put in place in one step (``restore``), whose own checks (room in
the memory budget, the integration limit) also come before any change. So a damaged bundle, or one
of another version, changes nothing. ``encode`` and ``decode`` turn a document into the bytes of a
file or a request body (gzip allowed) and back, within a size limit. docs/bundles.md is the
reference.

What a bundle keeps is what the next request's answer, the dashboard and the judge read: setting
overrides, the scenario with its rule counters and the state of its seeded generator, the clock,
sessions with their pages (staged bytes, rejected pages' errors), applied records, the activity
log, the id source, the token bucket, and the journal entries the judge reads; of the HAR export's
raw material the headers (secrets redacted) and the bodies the journal captured. Times are kept as
the floats the emulator holds (seconds since the epoch), so nothing is rounded.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import heapq
import itertools
import json
import secrets
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import orjson

from . import __version__
from .budget import (
    ACTIVITY_BYTES,
    CONTROL_REMEDY,
    RECORD_OVERHEAD_BYTES,
    SESSION_BYTES,
    TENANT_BYTES,
    MemoryBudget,
    approx_bytes,
)
from .clock import MAX_TIME, MIN_TIME, OffsetClock, format_time
from .codes import INTEGRATION_LIMIT_REACHED, INVALID_STATE, MALFORMED_BODY, UNSUPPORTED_STATE_VERSION
from .coding import GZIP_MAGIC, damage_said, inflate
from .errors import ApiError
from .errors import counted as plural
from .faults.engine import FaultState
from .faults.scenario import Scenario, ScenarioError, effective_settings, parse_scenario
from .har import REDACTED, SECRET_HEADERS
from .journal import JournalEntry, moved_on, row_of
from .jsontext import array_of_parts, array_parts, object_opening
from .lifecycle import FINAL, State
from .payload import SizeLimit, page_digest
from .resources import schemas_dir
from .rows import Row
from .service import Emulator
from .settings import check_overrides
from .sourcelines import json_pointer
from .store import (
    ActivityItem,
    ActivityLog,
    Dataset,
    Due,
    IdSource,
    Page,
    Session,
    Tenant,
    TokenBucket,
    UnwritableRecord,
    fields_found,
    right_sized_json,
)
from .wholenumbers import WRITABLE_MAX, as_integers

if TYPE_CHECKING:
    import jsonschema

FORMAT = "mock-sprinto-state"
VERSION = 1
MAX_PROBLEMS = 50  # listed in a refusal; then one more line says how many were left out
BUNDLE_NESTING = 16  # levels a bundle adds around what it holds (a scenario's respond body)
# A hash may take another path for long inputs than for short ones (another release, another CPU's
# SIMD): the probe is the digests of a short text and of one of a few KiB, both compared; and of a
# page naming its page_hint, which a digest leaves out since 2026-12-07 (an older bundle's digests
# held it: they are recomputed where the bytes are kept).
_PROBES = (b"mock-sprinto digest probe", bytes(range(256)) * 24, b'{"entities": {}, "page_hint": 1}')


def digest_probe() -> str:
    """What tells an importing process whether the bundle's page digests are its own."""
    return " ".join(map(page_digest, _PROBES))


def refused(problems: list[str], what: str = "the state bundle", *, setting: str | bool = False) -> ApiError:
    """400 ``invalid_state`` listing each problem: a bundle refused whole, before anything changed.
    It names no setting (docs/reference.md: only one whose change would change the answer), unless
    ``setting`` says which does: ``max_state_bytes`` for a bundle over its size."""
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problem(s) not listed")
    first = shown[0] if shown else "it is not a state bundle"
    return ApiError.of(INVALID_STATE, f"{what} is refused, nothing was changed: {first}", errors=shown, setting=setting)


# ---- export -----------------------------------------------------------------------------------------
def to_document(emulator: Emulator, integration_id: str | None = None) -> dict[str, Any]:
    """One integration's bundle (``integration_id``) or the whole emulator's (None). The tenants
    should be settled first (``ControlPlane`` does), so what fell due is in the bundle."""
    head, tenants, entries = _chosen(emulator, integration_id)
    return {
        **head,
        "integrations": [_tenant_document(emulator, tenant) for tenant in tenants],
        "journal": [_entry_document(entry) for entry in entries],
    }


def document_parts(emulator: Emulator, integration_id: str | None = None) -> Iterator[bytes]:
    """``to_document`` as JSON text in parts (``jsontext``), each made when it is written: an
    integration at a time, then the journal's entries, so no step of the event loop makes the whole
    of a large bundle (a server's, with a full journal: ~0.3 s, issue 22). The integrations and the
    journal entries are chosen now; each integration is as it stands when its turn comes (a request
    answered meanwhile is in it, not in the journal: as if the journal's ring had dropped it)."""
    head, tenants, entries = _chosen(emulator, integration_id)  # now, not when the first part is asked for
    return itertools.chain(
        (object_opening(head, "integrations"),),
        array_of_parts(  # one deleted before its turn is left out, as if it had been deleted before the export
            b"", (_tenant_parts(emulator, t) for t in tenants if not t.forgotten), b"]"
        ),
        array_parts(b',"journal":[', (orjson.dumps(_entry_document(entry)) for entry in entries), b"]}"),
    )


# A dataset's records go into a streamed bundle this many at a time: one integration's document was
# made in one step of the loop, and its records were most of it (100,000 took ~20 ms of that step,
# a million ~0.2 s, while every other client waited).
RECORDS_PER_PART = 5_000
# ... and at most this many of their bytes (``PART_BYTES``): 100 records of 180 KB were one part of
# 18 MB, ~120-180 ms of one step on a loaded machine. A record or a staged page's payload larger
# than that is itself written as a JSON string in parts of this many bytes (~0.3 ms each to decode
# and escape).
PART_BYTES = 256 * 1024
# A final session's pages go in this many at a time: a session of 30,000 pages made whole was one
# part of ~165-290 ms on a loaded machine; 500 a part were still 10-15 ms there (a page made from its
# flat row, its document and its text: 20-30 µs), 200 are 4-6 ms.
PAGES_PER_PART = 200
# An activity log's items go in this many at a time: each is made in Python (a record is only its
# stored text), and 5,000 at once were a step of ~18 ms on a slow machine, the longest of a full
# journal's bundle.
ACTIVITY_ITEMS_PER_PART = 1_000


class _Members:
    """An integration's large members (each dataset's records, each page's payload) as its document
    holds them: whole, as ``to_document`` makes it."""

    def records(self, dataset: Dataset) -> Any:
        return [raw.decode("utf-8") for raw in dataset.records.values()]

    def payload(self, payload: bytes) -> Any:
        return payload.decode("utf-8")

    def sessions(self, sessions: Iterable[Session]) -> Any:
        return [_session_document(session, self) for session in sessions]

    def activity(self, log: ActivityLog) -> Any:
        return [_activity_document(item) for item in log]


_WHOLE = _Members()


class _StandIns(_Members):
    """What stands in an integration's document for its large members until they are written, each
    in parts of its own: a token no client can write, and the parts that replace each stand-in, in
    the order they were made (the document's)."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self.parts: list[Callable[[], Iterator[bytes]]] = []

    def records(self, dataset: Dataset) -> str:
        """A dataset's records, copied now (an apply while they are written is not in them; a copy of
        a dict the collector does not track is not tracked either)."""
        copy = dataset.records.copy()
        return self._stand_in(lambda: _records_parts(copy.values()))

    def payload(self, payload: bytes) -> str:
        return self._stand_in(lambda: _string_parts(payload))

    def sessions(self, sessions: Iterable[Session]) -> Any:
        """Each session in a final state made when it is written (nothing it records changes any
        more, and a thousand of them were ~35 ms of the integration's step); the others now, as
        they stand (their pages' payloads among them: an apply drops those in place)."""
        return [
            self._stand_in(functools.partial(_session_parts, session))
            if session.state in FINAL
            else _session_document(session, self)
            for session in sessions
        ]

    def activity(self, log: ActivityLog) -> str:
        """The activity items, chosen now (rows do not change) and made when they are written."""
        rows = list(log.rows)
        return self._stand_in(lambda: _activity_parts(rows))

    def _stand_in(self, parts: Callable[[], Iterator[bytes]]) -> str:
        self.parts.append(parts)
        return f"{self.token}:{len(self.parts) - 1}"


def _tenant_parts(emulator: Emulator, tenant: Tenant) -> Iterator[bytes]:
    """``_tenant_document`` as JSON text in parts, made when the integration's turn comes: each
    dataset's records ``RECORDS_PER_PART`` and ``PART_BYTES`` at a time, each page's payload
    ``PART_BYTES`` at a time (an integration may stage a GiB) and each final session's pages
    ``PAGES_PER_PART`` at a time, the rest of the document around them."""
    stand_ins = _StandIns()
    yield from _spliced(orjson.dumps(_tenant_document(emulator, tenant, stand_ins)), stand_ins)


def _spliced(text: bytes, stand_ins: _StandIns) -> Iterator[bytes]:
    """``text`` with each of its ``stand_ins`` replaced by the parts it stands for, in order."""
    at = 0
    for index, parts in enumerate(stand_ins.parts):
        mark = orjson.dumps(f"{stand_ins.token}:{index}")
        where = text.index(mark, at)
        yield text[at:where]
        yield from parts()
        at = where + len(mark)
    yield text[at:]


def _session_parts(session: Session) -> Iterator[bytes]:
    """A final session's document (``_session_document``) as JSON text in parts: its members, then
    its pages ``PAGES_PER_PART`` at a time, each page's payload (if it kept one) in parts of its own.
    The same bytes as the document made whole: orjson writes a dict's members in order, with no
    space, and the page lists are its last two members."""
    yield orjson.dumps(_session_head(session))[:-1] + b',"accepted_pages":'
    yield from _pages_parts(session.accepted_pages)
    yield b',"rejected_pages":'
    yield from _pages_parts(session.rejected_pages)
    yield b"}"


def _pages_parts(pages: Iterable[Page]) -> Iterator[bytes]:
    """Pages as a session's document lists them, a JSON array written ``PAGES_PER_PART`` at a time."""
    remaining = iter(pages)
    opening = b"["
    while chosen := list(itertools.islice(remaining, PAGES_PER_PART)):
        stand_ins = _StandIns()
        text = orjson.dumps([_page_document(page, stand_ins) for page in chosen])
        yield opening
        yield from _spliced(text[1:-1], stand_ins)
        opening = b","
    yield b"]" if opening == b"," else b"[]"


def _string_parts(raw: bytes) -> Iterator[bytes]:
    """``orjson.dumps(raw.decode("utf-8"))`` (a record's or a page's JSON text, as a bundle keeps it)
    written ``PART_BYTES`` of ``raw`` at a time, each cut between two characters. The same bytes:
    orjson escapes a character whatever is around it."""
    if len(raw) <= PART_BYTES:
        yield orjson.dumps(raw.decode("utf-8"))
        return
    view = memoryview(raw)
    yield b'"'
    start = 0
    while start < len(raw):
        end = cut = min(start + PART_BYTES, len(raw))
        # Back to the first byte of the character it falls in (a UTF-8 character is at most 4 bytes,
        # each after its first 0b10xxxxxx); on past it if the part would be empty.
        while end > start and end < len(raw) and end > cut - 3 and raw[end] & 0xC0 == 0x80:
            end -= 1
        if end == start:
            end = cut
            while end < len(raw) and end < cut + 3 and raw[end] & 0xC0 == 0x80:
                end += 1
        yield orjson.dumps(str(view[start:end], "utf-8"))[1:-1]
        start = end
    yield b'"'


def _activity_parts(rows: Sequence[Row]) -> Iterator[bytes]:
    """An activity log's items as a bundle keeps them, a JSON array written ``ACTIVITY_ITEMS_PER_PART``
    at a time."""
    opening = b"["
    for start in range(0, len(rows), ACTIVITY_ITEMS_PER_PART):
        chosen = rows[start : start + ACTIVITY_ITEMS_PER_PART]
        items = [_activity_document(ActivityItem._make(row)) for row in chosen]
        yield opening + orjson.dumps(items)[1:-1]
        opening = b","
    yield b"]" if opening == b"," else b"[]"


def _records_parts(records: Iterable[bytes]) -> Iterator[bytes]:
    """A dataset's records as a bundle keeps them (each one's JSON text as a string), as a JSON array
    written ``RECORDS_PER_PART`` records and at most ``PART_BYTES`` of their text at a time; a record
    larger than that alone, its string in parts (``_string_parts``)."""
    opening = b"["
    chunk: list[str] = []
    held = 0
    for raw in records:
        if chunk and (len(chunk) == RECORDS_PER_PART or held + len(raw) > PART_BYTES):
            yield opening + orjson.dumps(chunk)[1:-1]
            opening, chunk, held = b",", [], 0
        if len(raw) > PART_BYTES:
            yield opening
            yield from _string_parts(raw)
            opening = b","
            continue
        chunk.append(raw.decode("utf-8"))
        held += len(raw)
    if chunk:
        yield opening + orjson.dumps(chunk)[1:-1]
        opening = b","
    yield b"]" if opening == b"," else b"[]"


def _chosen(
    emulator: Emulator, integration_id: str | None
) -> tuple[dict[str, Any], list[Tenant], Sequence[JournalEntry]]:
    """A bundle's members before its integrations, its tenants and its journal entries."""
    entries: Sequence[JournalEntry]
    if integration_id is not None:
        tenant = emulator.tenants[integration_id]
        entries = emulator.journal.since(tenant.since, tenant.id)
        tenants = [tenant]
        clock = None
        scenario = None
    else:
        entries = emulator.journal.picked(None, len(emulator.journal.entries))
        tenants = list(emulator.tenants.values())
        clock = {"now": emulator.clock.now(), "offset_seconds": emulator.clock.offset}
        scenario = None if emulator.scenario is None else emulator.scenario.public()
    head = {
        "format": FORMAT,
        "version": VERSION,
        "scope": "integration" if integration_id is not None else "server",
        "generator": f"mock-sprinto {__version__}",
        "exported_at": format_time(emulator.clock.now()),
        "digest_probe": digest_probe(),
        "clock": clock,
        "scenario": scenario,
    }
    return head, tenants, entries


def _tenant_document(emulator: Emulator, tenant: Tenant, members: _Members = _WHOLE) -> dict[str, Any]:
    """One integration's part of a bundle, its large members as ``members`` gives them (stand-ins
    when ``_tenant_parts`` writes those apart)."""
    faults = tenant.faults
    scenario = None
    if faults.scenario is not None:
        scenario = {
            "applies_to": "integration" if tenant.own_scenario is not None else "global",
            "document": faults.scenario.public(),
            "matched": list(faults.matched),
            "fired": list(faults.fired),
            "random": faults.random_state(),
        }
    bucket = tenant.bucket
    return {
        "id": tenant.id,
        "api_key": tenant.api_key,
        "created_at": tenant.created_at,
        "clock": {"now": tenant.now(), "offset_seconds": tenant.clock.offset},
        "since": tenant.since,
        "settings_overrides": dict(tenant.settings_overrides),
        "scenario": scenario,
        "ids_random": tenant.ids.random_state() if tenant.ids is not emulator.ids else None,
        "session_count": tenant.session_count,
        "active_session_id": tenant.active_session_id,
        "sessions": members.sessions(tenant.sessions.values()),
        "finished": list(tenant.finished),
        "due": [{"at": d.at, "seq": d.seq, "kind": d.kind, "session_id": d.session_id} for d in tenant.due],
        "due_seq": tenant._due_seq,
        "datasets": [_dataset_document(dataset, members.records(dataset)) for dataset in tenant.datasets.values()],
        "activity": members.activity(tenant.activity),
        "activity_seq": tenant._activity_seq,
        "state_counts": {state.value: tenant.state_counts[state.value] for state in State},
        "last_activity_at": tenant.last_activity_at,
        "rate_limit": None
        if bucket is None
        else {"rate": bucket.rate, "burst": bucket.burst, "tokens": bucket.tokens, "updated": bucket.updated},
        "processing_failures_pending": tenant.processing_failures_pending,
        "processing_hold_until": tenant.processing_hold_until,
    }


_SESSION_FIELDS = (
    "id",
    "ordinal",
    "client_reference_id",
    "inactivity_timeout",
    "created_at",
    "updated_at",
    "last_request_at",
    "expired_at",
    "expired_by_scenario",
    "closed_at",
    "close_status",
    "processing_started_at",
    "finished_at",
    "data_retained_until",
    "data_purged",
    "pages_received",
    "accepted_records_total",
    "rejected_batches",
    "retry_count",
    "last_error",
)


def _session_document(session: Session, members: _Members) -> dict[str, Any]:
    document = _session_head(session)
    document["accepted_pages"] = [_page_document(page, members) for page in session.accepted_pages]
    document["rejected_pages"] = [_page_document(page, members) for page in session.rejected_pages]
    return document


_PAGE_FIELDS = (
    "ordinal",
    "request_id",
    "received_at",
    "record_count",
    "wire_bytes",
    "decoded_bytes",
    "encoding",
    "page_hint",
    "code",
    "detail",
    "errors_truncated",
    "duration_ms",
    "digest",
)


def _session_head(session: Session) -> dict[str, Any]:
    """A session's document but for its pages (``_session_document`` adds them last)."""
    document = {name: getattr(session, name) for name in _SESSION_FIELDS}
    document["state"] = session.state.value
    document["accepted_records_by_entity"] = dict(session.accepted_records_by_entity)
    return document


def _page_document(page: Page, members: _Members) -> dict[str, Any]:
    document = {name: getattr(page, name) for name in _PAGE_FIELDS}
    document["counts"] = dict(page.counts)
    document["errors"] = list(page.errors)
    document["payload"] = None if page.payload is None else members.payload(page.payload)
    document["unknown_fields"] = page.unknown_fields
    if page.record_keys is not None:  # a rejected page's, read when it was refused
        document["record_keys"] = [list(key) for key in page.record_keys]
    if page.rule is not None:  # a page a scenario rule rejected
        document["rule"] = page.rule
    return document


def _dataset_document(dataset: Dataset, records: Any) -> dict[str, Any]:
    return {
        "entity_type": dataset.entity_type,
        "key_field": dataset.key_field,
        "applied_at": dataset.applied_at,
        "applied_by_session": dataset.applied_by_session,
        "records": records,
    }


def _activity_document(item: ActivityItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "at": item.at,
        "level": item.level,
        "type": item.type,
        "message": item.message,
        "session_id": item.session_id,
        "details": item.details,
    }


_ENTRY_FIELDS = (
    "request_id",
    "at",
    "method",
    "path",
    "operation",
    "status",
    "code",
    "latency_ms",
    "integration_id",
    "session_id",
    "bytes_in",
    "rule",
    "arrived_at",
    "arrival",
    "answer",
    "retry_after",
    "encoding",
    "body_bytes",
    "digest",
    "page",
    "page_hint",
    "names_session",
    "connection",
    "query",
    "http_version",
    "request_headers_dropped",
    "response_type",
    "request_body_bytes",
    "response_body_bytes",
)


_OPTIONAL_ENTRY_FIELDS = frozenset({"page_hint", "connection"})  # bundles written before had none


def _entry_document(entry: JournalEntry) -> dict[str, Any]:
    document = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    document["request_headers"] = [
        [_latin1(name), REDACTED if _latin1(name).lower() in SECRET_HEADERS else _latin1(value)]
        for name, value in entry.request_headers
    ]
    document["response_headers"] = [[name, value] for name, value in entry.response_headers]
    document["request_body"], document["request_body_base64"] = _body_text(entry.request_body)
    document["response_body"], document["response_body_base64"] = _body_text(entry.response_body)
    return document


def _latin1(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _body_text(body: bytes | None) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


# ---- bytes ------------------------------------------------------------------------------------------
def encode(document: Mapping[str, Any], *, compress: bool = False) -> bytes:
    """The document as a file's bytes: JSON, gzip when ``compress``."""
    raw = orjson.dumps(document)
    return gzip.compress(raw, compresslevel=6, mtime=0) if compress else raw


def decode(data: bytes, limit: int, max_depth: int) -> Any:
    """A bundle's bytes (JSON, or gzip of it) as a document, at most ``limit`` bytes decoded;
    400 ``invalid_state`` when they are not one."""
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(data, limit)
    if len(data) > limit:
        raise _bound(limit).refusal("as read")  # a --state file; an HTTP body was bounded as it arrived
    from .payload import parse_json

    try:
        return parse_json(data, max_depth + BUNDLE_NESTING)
    except ApiError as error:  # too deep names max_json_depth, which lifts the bundle's depth too
        setting = error.setting if isinstance(error.setting, str) else False
        raise refused([f"not JSON: {error.extra.get('reason', error.detail)}"], setting=setting) from None


def _gunzip(data: bytes, limit: int) -> bytes:
    """A ``.gz`` bundle's bytes sent as they are, or given to ``serve --state``, inflated as the
    same bytes sent with ``Content-Encoding: gzip`` are (``coding.inflate``): at most ``limit``
    bytes decoded (413 past it), and a damaged stream a damaged bundle, in the same words."""
    try:
        return inflate(data, "gzip", _bound(limit))
    except ApiError as error:
        if error.code != MALFORMED_BODY.code:
            raise
        raise damaged_coding("gzip", damage_said(error, "gzip")) from None


def damaged_coding(encoding: str, why: str) -> ApiError:
    """400 ``invalid_state`` for a bundle sent with ``Content-Encoding: gzip`` (or deflate) whose
    stream is corrupt, ends too soon or has data after its end (``why``: ``coding.damage_said``): a
    bundle that cannot be read, sent as it is (``_gunzip``) or not, not the vendor API's
    ``malformed_body``."""
    return refused([f"damaged {encoding}: {why}"])


def _bound(limit: int) -> SizeLimit:
    """A bundle's bound, the HTTP door's (``max_state_bytes``): a .gz file's bytes sent as they are,
    or a file given to ``serve --state``, get the same 413 as a bundle sent with ``Content-Encoding``."""
    return SizeLimit.of_setting(limit, "max_state_bytes", "the state bundle")


# ---- import: check and build ---------------------------------------------------------------------
@dataclass
class Built:
    """One integration as the bundle describes it, built but not yet in the emulator."""

    tenant: Tenant
    now: float  # its clock's time at export
    follows_global: bool  # its scenario was the global one when exported


# The order numbers left free for the requests answered while a bundle is built off the loop (a
# full journal's takes ~2 s, at a few thousand requests a second): its journal is numbered past them
# in the build, so the swap renumbers nothing unless more came (``restore``).
IMPORT_ORDER_GAP = 1 << 20


@dataclass
class Restoration:
    """What ``from_document`` built; ``restore`` puts it in place."""

    scope: str
    # Each tenant's ``since``, and the journal rows' arrival and answer, are the bundle's order
    # numbers ranked, counted from ``base`` (``Emulator.import_base``).
    tenants: list[Built]
    # The journal's rows, made here off the loop, numbered for good: packing ~10,000 entries' headers
    # on the loop was most of a swap's 80-90 ms on a slow machine, numbering them 15-17 ms.
    rows: list[Row]
    clock_now: float | None = None
    scenario: Scenario | None = None
    orders: int = 0  # how many order numbers the bundle uses: ``restore`` takes as many fresh ones
    base: int = 0
    pushed_out: list[Row] = field(default_factory=list)  # the journal rows ``restore`` made room by

    @property
    def held_bytes(self) -> int:
        """What its integrations will hold in the memory budget (data and bookkeeping), and a server
        bundle's global scenario."""
        scenario = 0 if self.scenario is None else self.scenario.nbytes
        return scenario + sum(_held(built.tenant) for built in self.tenants)


def _held(tenant: Tenant) -> int:
    """What a tenant counts in the memory budget: ``Tenant.release_memory`` gives back as much."""
    return tenant.staged_bytes + tenant.applied_bytes + tenant.kept_bytes


def checked_document(data: bytes, limit: int, max_depth: int) -> Any:
    """A bundle's bytes decoded and checked against the format and its schema: all of the check
    that needs no emulator (a process of its own may make it: ``offload.py``); raises as
    ``decode`` and ``from_document`` do."""
    return _checked(decode(data, limit, max_depth))


def _checked(document: Any) -> Any:
    _check_format(document)
    problems = _schema_problems(document)
    if problems:
        raise refused(problems)
    too_wide: list[tuple[str | int, ...]] = []
    document = as_integers(_schema(), document, too_wide=too_wide)  # 3.0 is an integer to JSON Schema: an int
    if too_wide:
        raise refused([f"{json_pointer(path)}: {_beyond_64_bits(_at(document, path))}" for path in too_wide])
    return document


def _at(document: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


# ``as_integers`` leaves a whole float beyond WRITABLE_MIN..WRITABLE_MAX a float (1e300 is an integer to
# JSON Schema), and the bundle is refused naming it: taken as an int, every answer showing it was a
# 500, and no export or ``--persist`` save could be made.


def _beyond_64_bits(value: float) -> str:
    return f"a whole number beyond 64 bits ({float(value):g}), which this server could not write back"


def from_document(document: Any, emulator: Emulator, *, checked: bool = False, base: int | None = None) -> Restoration:
    """Check ``document`` completely and build what it describes; raises ``ApiError`` 400 ``invalid_state``
    listing every problem. Nothing of ``emulator`` is changed (its settings, registry and id source
    are read). ``checked``: ``document`` came from ``checked_document``, whose checks are not made again.
    ``base``: the first order number its journal gets (``Emulator.import_base``; by default the
    next one, for a bundle swapped in before any other request is answered)."""
    if not checked:
        document = _checked(document)
    checker = _Checker(emulator, document, emulator.import_base(0) if base is None else base)
    restoration = checker.build()
    if checker.problems:
        raise refused(checker.problems)
    return restoration


def _check_format(document: Any) -> None:
    if not isinstance(document, dict):
        found = f"the document is {_as_json(document)}, not an object"
    elif "format" not in document:
        members = ", ".join(repr(str(name)[:40]) for name in itertools.islice(document, 5)) or "none"
        found = f"it has no 'format' (its members: {members})"
    else:
        found = f"got {_as_json(document['format'])}"
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        har = isinstance(document, dict) and isinstance(document.get("log"), dict) and "entries" in document["log"]
        hint = " (it is a HAR, which the judge reads: mock-sprinto judge FILE, or POST /_mock/judge)" if har else ""
        raise refused([f"'format' must be {FORMAT!r}, {found}: this is not a mock-sprinto state bundle{hint}"])
    version = document.get("version")
    if version != VERSION:
        which = f"a version {_as_json(version)}" if "version" in document else "an unversioned"
        raise ApiError.of(
            UNSUPPORTED_STATE_VERSION,
            f"this is {which} state bundle; mock-sprinto {__version__} reads version "
            f"{VERSION} only. Nothing was changed: export the state again with this version, or import it "
            "into the version that wrote it",
            supported_versions=[VERSION],
            found_version=version if isinstance(version, (int, str)) and not isinstance(version, bool) else None,
            setting=False,  # no setting reads another version
        )


def _as_json(value: Any) -> str:
    """What a bundle holds, as JSON writes it (``null``, ``true``, ``"har"``), cut short: the person
    reading a refusal wrote JSON, not Python (``None``, ``True``)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    try:
        text = orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:  # a whole number beyond 64 bits, a lone surrogate
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas_dir() / "state.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(_schema())


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    import jsonschema  # imported here: a valid bundle never needs its error messages

    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _schema_problems(document: Any) -> list[str]:
    if _fast_validator().is_valid(document):
        return []
    problems = []
    for error in _schema_validator().iter_errors(document):
        message = str(error.message)
        if len(message) > 200:
            message = message[:197] + "..."
        problems.append(f"{json_pointer(error.absolute_path) or '/'}: {message}")
        if len(problems) > MAX_PROBLEMS:
            break
    return sorted(problems)


class _Checker:
    """Builds the bundle's objects, noting every problem of meaning the schema cannot state."""

    def __init__(self, emulator: Emulator, document: dict[str, Any], base: int) -> None:
        self.emulator = emulator
        self.document = document
        self.base = base
        self.problems: list[str] = []
        # Page digests (payload.page_digest; a per-process hash before StringZilla's): carried over
        # as they are when this process hashes the same way, recomputed from the bytes the bundle
        # holds otherwise, and marked as foreign ('b:' + digest) where it holds none, so they only
        # ever match each other.
        self.same_digests = document["digest_probe"] == digest_probe()
        self.digests: dict[str, str] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def build(self) -> Restoration:
        document = self.document
        scope = document["scope"]
        integrations = document["integrations"]
        if scope == "integration" and len(integrations) != 1:
            self.problem("/integrations", f"a bundle of scope 'integration' holds one, not {len(integrations)}")
        if scope == "integration" and (document["clock"] is not None or document["scenario"] is not None):
            self.problem("/", "a bundle of scope 'integration' has 'clock' and 'scenario' null (they are the server's)")
        if scope == "server" and document["clock"] is None:
            self.problem("/clock", "a bundle of scope 'server' holds the server's clock")
        self.once_each([item["id"] for item in integrations], "/integrations", "/id", "integration")
        clock_now = None
        if document["clock"] is not None:
            clock_now = self.time(document["clock"]["now"], "/clock/now")
        global_scenario = self.scenario(document["scenario"], "/scenario")
        self.learn_digests(integrations, document["journal"])
        built = [
            self.tenant(item, f"/integrations/{index}", global_scenario, scope)
            for index, item in enumerate(integrations)
        ]
        entries = [self.entry(item, f"/journal/{index}") for index, item in enumerate(document["journal"])]
        # An entry is told by its answer's number: every answer takes a number of its own, while a
        # request id may be the client's (X-Request-Id), which a retry can send again.
        answers = [entry.answer for entry in entries]
        for index in _repeated(answers):
            self.problem(
                f"/journal/{index}/answer",
                f"the entry of request {entries[index].request_id!r} appears twice (answer {answers[index]})",
            )
        if scope == "integration" and integrations:
            strangers = [i for i, e in enumerate(entries) if e.integration_id != integrations[0]["id"]]
            if strangers:
                self.problem(f"/journal/{strangers[0]}/integration_id", "the entries of the bundle's one integration")
        orders = sorted({e.arrival for e in entries} | {e.answer for e in entries} | {b.tenant.since for b in built})
        rank = {order: number for number, order in enumerate(orders, self.base)}
        for entry in entries:
            entry.arrival, entry.answer = rank[entry.arrival], rank[entry.answer]
        for each in built:
            each.tenant.since = rank[each.tenant.since]
        rows = list(map(row_of, entries))
        return Restoration(scope, built, rows, clock_now, global_scenario, len(orders), self.base)

    def once_each(self, values: Sequence[Hashable], where: str, member: str, name: str) -> None:
        """A problem for each of ``values`` (the members ``member`` of the array at ``where``) that
        one before it equals: what a live server holds once (an integration, a session, ...). A
        bundle's second copy was taken as a second thing: an activity item shown twice, a session
        listed twice as finished holding two of the places ``max_sessions_kept`` counts."""
        for index in _repeated(values):
            self.problem(f"{where}/{index}{member}", f"{name} {values[index]!r} appears twice")

    # -- pieces
    def time(self, value: float, where: str) -> float:
        if not MIN_TIME <= value <= MAX_TIME:
            self.problem(where, "a time between the years 0001 and 9999 (seconds since the epoch)")
            return 0.0
        return float(value)

    def scenario(self, document: dict[str, Any] | None, where: str) -> Scenario | None:
        if document is None:
            return None
        try:
            return parse_scenario(document, "scenario")
        except ScenarioError as exc:
            for problem in exc.problems[:10]:
                self.problem(where + problem.path, problem.message)
            return None

    def learn_digests(self, integrations: list[dict[str, Any]], journal: list[dict[str, Any]]) -> None:
        if self.same_digests:
            return
        for item in integrations:
            for session in item["sessions"]:
                for page in session["accepted_pages"]:
                    if page["digest"] is not None and page["payload"] is not None:
                        self.digests[page["digest"]] = page_digest(page["payload"].encode("utf-8"))
        for entry in journal:
            body = entry["request_body"]
            if entry["digest"] is None or body is None:
                continue
            raw = self.bytes_of(body, entry["request_body_base64"], "")
            if raw is not None and entry["request_body_bytes"] == len(raw):  # the whole body: not cut
                self.digests[entry["digest"]] = page_digest(raw)

    def digest(self, value: str | None) -> str | None:
        if value is None or self.same_digests:
            return value
        return self.digests.get(value, "b:" + value)

    def bytes_of(self, text: str, is_base64: bool, where: str) -> bytes | None:
        if not is_base64:
            return text.encode("utf-8", "surrogatepass")
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            if where:
                self.problem(where, "not base64")
            return None

    def tenant(self, item: dict[str, Any], where: str, global_scenario: Scenario | None, scope: str) -> Built:
        emulator = self.emulator
        overrides, refused = check_overrides(item["settings_overrides"])
        for name, message in refused.items():
            self.problem(f"{where}/settings_overrides/{name}", message)
        scenario: Scenario | None = None
        follows_global = False
        faults_doc = item["scenario"]
        if faults_doc is not None:
            follows_global = faults_doc["applies_to"] == "global" and scope == "server"
            if follows_global:
                scenario = global_scenario
                if scenario is None:
                    self.problem(f"{where}/scenario/applies_to", "'global', but the bundle has no global scenario")
            else:
                scenario = self.scenario(faults_doc["document"], f"{where}/scenario/document")
        faults = FaultState(scenario, item["id"])
        if faults_doc is not None and scenario is not None:
            rules = len(scenario.rules)
            for name in ("matched", "fired"):
                if len(faults_doc[name]) != rules:
                    self.problem(
                        f"{where}/scenario/{name}", f"one count per rule: {rules}, not {len(faults_doc[name])}"
                    )
            if len(faults_doc["matched"]) == len(faults_doc["fired"]) == rules:
                faults.matched = list(faults_doc["matched"])
                faults.fired = list(faults_doc["fired"])
            try:
                faults.restore_random(faults_doc["random"])
            except ValueError as exc:
                self.problem(f"{where}/scenario/random", f"not a generator's state: {exc}")
        ids = emulator.ids
        if item["ids_random"] is not None:
            try:
                ids = IdSource.restored(item["ids_random"])
            except ValueError as exc:
                self.problem(f"{where}/ids_random", f"not a generator's state: {exc}")
        settings = effective_settings(emulator.settings, scenario, overrides) if not refused else emulator.settings
        now = self.time(item["clock"]["now"], f"{where}/clock/now")
        clock = OffsetClock(emulator.clock)
        tenant = Tenant(item["id"], item["api_key"], clock, settings, ids, MemoryBudget(None))
        tenant.created_at = self.time(item["created_at"], f"{where}/created_at")
        tenant.since = item["since"]
        tenant.quiet = False  # its run was not watched here: the coverage read reads it whole
        tenant.own_scenario = None if follows_global else scenario
        tenant.settings_overrides = overrides
        tenant.faults = faults
        tenant.session_count = item["session_count"]
        self.once_each([session["id"] for session in item["sessions"]], f"{where}/sessions", "/id", "session")
        for index, session_doc in enumerate(item["sessions"]):
            session = self.session(session_doc, f"{where}/sessions/{index}", item["id"])
            tenant.sessions[session.id] = session
            tenant._staged_bytes += session.staged_bytes
        active = [s.id for s in tenant.sessions.values() if s.state is State.ACTIVE]
        if item["active_session_id"] is not None and active != [item["active_session_id"]]:
            self.problem(f"{where}/active_session_id", "the integration's one active session, among its sessions")
        elif item["active_session_id"] is None and active:
            self.problem(f"{where}/active_session_id", f"null, but session {active[0]!r} is active")
        tenant.active_session_id = item["active_session_id"]
        if max((s.ordinal for s in tenant.sessions.values()), default=0) > tenant.session_count:
            self.problem(f"{where}/session_count", "at least the highest session ordinal")
        missing = [sid for sid in item["finished"] if sid not in tenant.sessions]
        self.once_each(item["finished"], f"{where}/finished", "", "session")
        if missing:
            self.problem(f"{where}/finished", f"names sessions the bundle does not hold: {missing[:3]}")
        tenant.finished = deque(item["finished"])
        tenant.due = [
            Due(self.time(d["at"], f"{where}/due/{n}/at"), d["seq"], d["kind"], d["session_id"])
            for n, d in enumerate(item["due"])
        ]
        attempts = {due.session_id for due in tenant.due if due.kind == "attempt"}
        for session in tenant.sessions.values():
            if session.state is State.PROCESSING and session.id not in attempts:
                # Not scheduled here: when it would come is the writer's to say, and a live server
                # always has one due for a session that is processing (else it waits for ever).
                self.problem(f"{where}/due", f"no processing attempt for session {session.id!r}, which is processing")
        heapq.heapify(tenant.due)
        tenant._due_seq = max([item["due_seq"], *(d.seq for d in tenant.due)])
        datasets = item["datasets"]
        self.once_each([dataset["entity_type"] for dataset in datasets], f"{where}/datasets", "/entity_type", "dataset")
        for index, dataset_doc in enumerate(datasets):
            dataset = self.dataset(dataset_doc, f"{where}/datasets/{index}")
            tenant.datasets[dataset.entity_type] = dataset
            tenant._applied_bytes += dataset.nbytes
        tenant.activity = ActivityLog(settings.activity_log_size)
        self.once_each([a["id"] for a in item["activity"]], f"{where}/activity", "/id", "activity item")
        for n, a in enumerate(item["activity"]):
            details = right_sized_json(a["details"])
            size = ACTIVITY_BYTES + len(a["message"]) + approx_bytes(a["details"])  # as ``Tenant.note_sized``
            at = self.time(a["at"], f"{where}/activity/{n}/at")  # as the clock's and the journal's
            tenant.activity.append(
                ActivityItem(a["id"], at, a["level"], a["type"], a["message"], a["session_id"], details, size)
            )
        tenant._activity_seq = item["activity_seq"]
        self.state_counts(tenant, item["state_counts"], where)
        tenant.state_counts = Counter(item["state_counts"])
        tenant.last_activity_at = item["last_activity_at"]
        limit = item["rate_limit"]
        if limit is not None:
            tenant.bucket = TokenBucket(limit["rate"], limit["burst"], limit["updated"])
            tenant.bucket.tokens = min(float(limit["tokens"]), float(limit["burst"]))
        tenant.processing_failures_pending = item["processing_failures_pending"]
        tenant.processing_hold_until = item["processing_hold_until"]
        # Its bookkeeping, counted as a live server counts it (the memory budget's docstring): the
        # integration, its sessions and their pages' records, what applying the staged records will
        # hold, its activity log and its own scenario. ``restore`` adds it to the process's budget,
        # which a delete, a reset or a session forgotten later takes back.
        tenant.keep(
            sum(session.kept + session.staged_records * RECORD_OVERHEAD_BYTES for session in tenant.sessions.values())
            + sum(activity.nbytes for activity in tenant.activity)
            + (0 if tenant.own_scenario is None else tenant.own_scenario.nbytes)
        )
        return Built(tenant, now, follows_global)

    def state_counts(self, tenant: Tenant, counts: dict[str, int], where: str) -> None:
        """The sessions counted by state are those the integration ever had (a finished one
        forgotten past ``max_sessions_kept`` stays counted): as many as it holds in a state it keeps
        every session in, at least as many in the others. Fewer went negative as sessions moved on."""
        held = Counter(session.state.value for session in tenant.sessions.values())
        for state in State:
            have, counted = held[state.value], counts[state.value]
            if counted < have or (state in _NEVER_FORGOTTEN and counted != have):
                self.problem(
                    f"{where}/state_counts/{state.value}",
                    f"{counted}, but the integration holds {plural(have, 'session')} in that state",
                )

    def session(self, item: dict[str, Any], where: str, integration_id: str) -> Session:
        session = Session(
            id=item["id"],
            integration_id=integration_id,
            ordinal=item["ordinal"],
            client_reference_id=item["client_reference_id"],
            inactivity_timeout=float(item["inactivity_timeout"]),
            created_at=self.time(item["created_at"], f"{where}/created_at"),
        )
        if session.inactivity_timeout > WRITABLE_MAX:  # the vendor API shows a whole one as an int
            self.problem(f"{where}/inactivity_timeout", _beyond_64_bits(session.inactivity_timeout))
        for name in _SESSION_FIELDS[5:]:  # after created_at
            setattr(session, name, item[name])
        session.state = State(item["state"])
        session.accepted_records_by_entity = Counter(item["accepted_records_by_entity"])
        for index, page_doc in enumerate(item["accepted_pages"]):
            page = self.page(page_doc, f"{where}/accepted_pages/{index}", accepted=True)
            session.add_page(page)
            if page.payload is not None:  # staged: applying its records will hold RECORD_OVERHEAD_BYTES each
                session.staged_bytes += len(page.payload)
                session.staged_records += page.record_count
        for index, page_doc in enumerate(item["rejected_pages"]):
            session.rejected_pages.append(self.page(page_doc, f"{where}/rejected_pages/{index}", accepted=False))
        # What the session and its pages' records hold, counted as a live server counts them
        # (``Tenant.add_session``, ``Tenant.add_page``; the rejected pages past the ones kept are gone).
        session.kept = (
            SESSION_BYTES
            + len(session.client_reference_id or "")
            + sum(page.kept for page in session.accepted_pages)
            + sum(page.kept for page in session.rejected_pages)
        )
        # A session still holding its data (it may stage, expire or apply) has no finish and every
        # staged page's body: imported otherwise, each push to it was a 500 (its pages kept flat) or
        # its apply failed (a page with nothing to apply).
        holds_data = session.state in (State.ACTIVE, State.PROCESSING) or (
            session.state is State.EXPIRED and not session.data_purged
        )
        if holds_data and session.finished_at is not None:
            self.problem(
                f"{where}/finished_at",
                f"null for a session {session.state.value} with its data (only a finished session, or an expired "
                "one whose data was purged, has one)",
            )
        elif session.finished_at is not None:
            session.finish()  # kept flat, as the live server keeps a finished session's pages
        if holds_data:
            empty = next((at for at, page in enumerate(session.accepted_pages) if page.payload is None), None)
            if empty is not None:
                self.problem(
                    f"{where}/accepted_pages/{empty}/payload",
                    f"the page's body: a session {session.state.value} with its data keeps every staged page's "
                    "(only a finished or purged session's pages have none)",
                )
        return session

    def page(self, item: dict[str, Any], where: str, *, accepted: bool) -> Page:
        payload = None
        if item["payload"] is not None:
            payload = item["payload"].encode("utf-8", "surrogatepass")
            if not accepted:
                self.problem(f"{where}/payload", "a rejected page keeps no payload")
            else:
                self.staged_counts(payload, item, where)
        if accepted and item.get("rule") is not None:
            self.problem(f"{where}/rule", "an accepted page has no rule (only a page a rule rejected names one)")
        page = Page(
            ordinal=item["ordinal"],
            request_id=item["request_id"],
            received_at=item["received_at"],
            accepted=accepted,
            record_count=item["record_count"],
            counts=dict(item["counts"]),
            wire_bytes=item["wire_bytes"],
            decoded_bytes=item["decoded_bytes"],
            encoding=item["encoding"],
            page_hint=item["page_hint"],
            code=item["code"],
            detail=item["detail"],
            errors=list(item["errors"]),
            errors_truncated=item["errors_truncated"],
            payload=payload,
            duration_ms=item["duration_ms"],
            digest=self.digest(item["digest"]),
            # A staged page is read for unknown fields afresh, against this server's schemas (another
            # --schemas, or none read yet there); a page without its payload keeps what was found.
            unknown_fields=None if payload is not None else fields_found(item["unknown_fields"]),
            # optional: a bundle written before rejected pages kept them has none (the judge then
            # tells a fixed page by its hint, or any later page)
            record_keys=None if item.get("record_keys") is None else tuple(map(tuple, item["record_keys"])),
            rule=item.get("rule"),  # optional: only a page a rule rejected has one
        )
        page.count_kept()
        return page

    def staged_counts(self, payload: bytes, item: dict[str, Any], where: str) -> None:
        """A staged page's body is a page, whose records per type are the page's ``counts`` (what
        an apply applies is its body; what the session, the log and the judge say it applied are the
        counts)."""
        found = _page_counts(payload)
        if found is None:
            self.problem(f"{where}/payload", 'a page\'s body: a JSON object with "entities" of record lists')
            return
        counted = {name: count for name, count in item["counts"].items() if count}
        held = {name: count for name, count in found.items() if count}
        if held != counted:
            found_text = orjson.dumps(held).decode("utf-8")
            self.problem(f"{where}/counts", f"the records its payload holds by type: {found_text[:200]}")
        elif item["record_count"] != sum(held.values()):
            self.problem(f"{where}/record_count", f"the records its payload holds: {sum(held.values())}")

    def dataset(self, item: dict[str, Any], where: str) -> Dataset:
        dataset = Dataset(item["entity_type"], item["key_field"])
        for index, text in enumerate(item["records"]):
            try:
                record = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                self.problem(f"{where}/records/{index}", f"not a JSON record: {exc}")
                continue
            if type(record) is not dict:  # the vendor API takes no other record (validation.py)
                self.problem(f"{where}/records/{index}", f"not a JSON record: {_as_json(record)}, not an object")
                continue
            held = len(dataset.records)
            try:
                dataset.put(record)
            except UnwritableRecord as exc:  # nested deeper than orjson writes back (a 500 before)
                self.problem(f"{where}/records/{index}", str(exc))
                continue
            if len(dataset.records) == held:  # it replaced one: a dataset holds one record per key
                key = _as_json(record.get(dataset.key_field))  # keyed: only a key's value replaces
                self.problem(f"{where}/records/{index}", f"the record of {dataset.key_field} {key} appears twice")
        dataset.applied_at = item["applied_at"]
        dataset.applied_by_session = item["applied_by_session"]
        return dataset

    def entry(self, item: dict[str, Any], where: str) -> JournalEntry:
        # page_hint is optional: a bundle written before the journal kept it has none
        values: dict[str, Any] = {
            name: item.get(name) if name in _OPTIONAL_ENTRY_FIELDS else item[name] for name in _ENTRY_FIELDS
        }
        # Times the clock could show: past them, an answer showed a made-up 9999-12-31T23:59:59.000Z.
        values["at"] = self.time(values["at"], f"{where}/at")
        if values["arrived_at"] is not None:
            values["arrived_at"] = self.time(values["arrived_at"], f"{where}/arrived_at")
        entry = JournalEntry(**values)
        entry.digest = self.digest(entry.digest)
        entry.request_headers = tuple(
            (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
            for name, value in item["request_headers"]
        )
        entry.response_headers = tuple((name, value) for name, value in item["response_headers"])
        if item["request_body"] is not None:
            entry.request_body = self.bytes_of(
                item["request_body"], item["request_body_base64"], where + "/request_body"
            )
        if item["response_body"] is not None:
            entry.response_body = self.bytes_of(
                item["response_body"], item["response_body_base64"], where + "/response_body"
            )
        return entry


def _repeated(values: Sequence[Hashable]) -> list[int]:
    """The index of each of ``values`` equal to one before it; one set, made at C speed, when there is
    none (every bundle a server writes)."""
    if len(set(values)) == len(values):
        return []
    seen: set[Hashable] = set()
    found = []
    for index, value in enumerate(values):
        if value in seen:
            found.append(index)
        seen.add(value)
    return found


# The states of sessions an integration keeps however many it had: only finished ones are forgotten.
_NEVER_FORGOTTEN = (State.ACTIVE, State.PROCESSING)


def _page_counts(payload: bytes) -> dict[str, int] | None:
    """The records of a page's body by type; None when it is not a page's body."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    entities = value.get("entities") if isinstance(value, dict) else None
    if not isinstance(entities, dict) or not all(isinstance(records, list) for records in entities.values()):
        return None
    return {name: len(records) for name, records in entities.items()}


# ---- import: put in place ---------------------------------------------------------------------------
def restore(emulator: Emulator, restoration: Restoration, integration_id: str | None = None) -> list[str]:
    """Put what ``from_document`` built in place: one integration (``integration_id``, which must be
    the bundle's) or the whole emulator. Every check comes first; returns the integrations restored."""
    scope = restoration.scope
    if integration_id is not None:
        if scope != "integration":
            raise refused(["a bundle of the whole server goes to PUT /_mock/state, not to one integration's"])
        bundled = restoration.tenants[0].tenant.id
        if bundled != integration_id:
            raise refused([f"the bundle holds integration {bundled!r}, not {integration_id!r}: PUT it to its own id"])
        _check_room(emulator, restoration, replaced=[integration_id])
    else:
        if scope != "server":
            raise refused(
                ["a bundle of one integration goes to PUT /_mock/integrations/{id}/state, not to /_mock/state"]
            )
        _check_room(emulator, restoration, replaced=list(emulator.tenants))
    # ---- nothing was changed above this line
    if scope == "server":
        emulator.reset()
        if restoration.clock_now is not None:
            emulator.clock.resume_at(restoration.clock_now)
        before = 0 if emulator.scenario is None else emulator.scenario.nbytes
        emulator.budget.add((0 if restoration.scenario is None else restoration.scenario.nbytes) - before)
        emulator.scenario = restoration.scenario
        for tenant in emulator.tenants.values():  # declared ones, made afresh: the global scenario
            emulator.take_scenario(tenant)
    # the bundle's order numbers, ranked, are fresh numbers of this emulator's one order: after every
    # request it has seen, before any it will see. They were given in the build; only when more
    # requests came meanwhile than the gap left for them are they moved on here.
    first = emulator.take_orders(restoration.orders, restoration.base)
    shift = first - restoration.base
    rows = moved_on(restoration.rows, shift) if shift else restoration.rows
    for built in restoration.tenants:
        tenant = built.tenant
        old = emulator.tenants.pop(tenant.id, None)
        if old is not None:
            old.release_memory()
        tenant.clock.resume_at(built.now)
        tenant.since += shift
        tenant.budget = emulator.budget
        emulator.budget.add(_held(tenant))  # what it counted on the budget it was built with
        if built.follows_global:
            tenant.faults.scenario = emulator.scenario
        emulator.tenants[tenant.id] = tenant
        if tenant.faults.scenario is None and emulator.scenario is not None:
            emulator.take_scenario(tenant)  # it had none: this server's global scenario, from its start
        emulator.refresh_settings(tenant)
    restoration.pushed_out = emulator.journal.add_rows(rows)
    return [built.tenant.id for built in restoration.tenants]


def _check_room(emulator: Emulator, restoration: Restoration, replaced: Iterable[str]) -> None:
    """507 ``memory_budget_exceeded`` when what the bundle holds, less what it replaces, does not fit
    in the memory budget; 403 when it would make more integrations than ``max_integrations``."""
    replaced = list(replaced)
    freed = sum(_held(emulator.tenants[name]) for name in replaced if name in emulator.tenants)
    ids = {built.tenant.id for built in restoration.tenants}
    needed = restoration.held_bytes - freed
    if restoration.scope == "server":  # its global scenario replaces this server's; declared ones come afresh
        needed -= 0 if emulator.scenario is None else emulator.scenario.nbytes
        needed += TENANT_BYTES * len(set(emulator.declared) - ids)
    if needed > 0:
        emulator.budget.check(needed, "nothing was changed; " + CONTROL_REMEDY)
    if restoration.scope == "server":
        total = len(ids | set(emulator.declared))
    else:
        total = len(set(emulator.tenants) | ids)
    if total > emulator.settings.max_integrations:
        raise ApiError.of(
            INTEGRATION_LIMIT_REACHED,
            f"the bundle would make {total} integrations, over max_integrations "
            f"({emulator.settings.max_integrations}); nothing was changed",
        )
