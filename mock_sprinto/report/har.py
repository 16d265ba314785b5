"""The judge on captured traffic: a HAR 1.2 capture (a client's traffic with the real Sprinto, or with
the emulator) read as journal entries and as the session facts its answers show, then judged by the
same checks as a live run (``judge``). ``mock-sprinto judge FILE.har`` and ``POST /_mock/judge``
call ``judge_har``; docs/judge-har.md is the reference.

A HAR has no store behind it, so the sessions are rebuilt from what the client read: a start's
answer makes a session, a push's answer stages or rejects a page (its body, when the HAR holds it,
gives its digest, ``page_hint`` and records), a close's request and answer close it, a session
read tells its state. What a HAR cannot show is said, never guessed: each finding whose evidence
is missing from this HAR (request bodies not captured, a 409's body not kept) is listed as not
judged, with why, and left out of the findings; so is each behaviour whose coverage the HAR cannot
tell (listed by the behaviour's name, left out of the coverage).

Mapping of one HAR entry (every ``_``-member is what ``GET /_mock/journal.har`` adds; a foreign HAR
does without):

* operation and integration: the URL's path under ``/api/external/push/v1/integrations/{id}/``
  (method and path as the vendor API routes them); other URLs are left out, and so are requests the
  emulator's judge never counts (401: no integration known; another API version);
* status: ``response.status``; 0 (or ``response._error``) is a broken connection (code
  ``transport_*``: ``_code``, else ``transport_error``);
* code: ``_code``, else the answer body's ``code``, else the one code Sprinto's contract gives that
  operation and status (a push's 409 is ``session_not_active``; each inference is noted);
* a close's status: its request body's ``status``, else the state its answer shows, else ``_closeStatus``;
* Retry-After from the response header; a push's body digest (``payload.page_digest``) from
  ``request.postData`` (base64 and gzip undone; a body the capture cut short has none), its coding
  from ``Content-Encoding``, its size from ``bodySize`` or ``Content-Length``;
* times: ``startedDateTime`` is the arrival, the answer is ``_answeredDateTime`` or arrival plus
  ``time``; the order of arrivals and answers is ``_arrival`` / ``_answer``, else rebuilt from those
  times (HAR order breaking ties).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema_rs
import orjson

from ..budget import MemoryBudget
from ..clock import ManualClock, OffsetClock
from ..codes import INTEGRATION_NOT_IN_HAR, INVALID_HAR
from ..coding import GZIP_MAGIC
from ..errors import ApiError
from ..journal import JournalEntry
from ..lifecycle import FINAL, State
from ..payload import many_values, page_digest
from ..resources import schemas_dir
from ..settings import Settings
from ..sourcelines import json_pointer
from ..store import Dataset, IdSource, Page, Session, Tenant, rejected_record_keys
from ..validation import usable_page_hint
from ..wholenumbers import header_whole
from . import judge
from .coverage import BEHAVIOURS
from .model import MAX_EVIDENCE, Coverage, Report, report_lines
from .run import arrived, rejected_by_rule

API_PATH = re.compile(r"/api/external/push/(?P<version>[^/]+)/integrations/(?P<integration>[^/]+)(?P<rest>/.*)?\Z")
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/sessions/?\Z"), "start_session"),
    ("GET", re.compile(r"/sessions/(?P<session>[^/]+)/?\Z"), "get_session"),
    ("POST", re.compile(r"/sessions/(?P<session>[^/]+)/entities/?\Z"), "push_page"),
    ("POST", re.compile(r"/sessions/(?P<session>[^/]+)/close/?\Z"), "close_session"),
    ("GET", re.compile(r"/status/?\Z"), "integration_status"),
    ("GET", re.compile(r"/activity/?\Z"), "activity"),
)
# The one code Sprinto's contract (and the emulator) gives an operation's status, where there is one.
INFERRED_CODES: dict[tuple[str, int], str] = {
    ("start_session", 409): "session_already_active",
    ("push_page", 409): "session_not_active",
    ("push_page", 413): "payload_too_large",
    ("close_session", 400): "invalid_close_status",
    ("push_page", 404): "session_not_found",
    ("get_session", 404): "session_not_found",
    ("close_session", 404): "session_not_found",
}
PAGE_REFUSALS = frozenset({400, 413, 415, 507})  # a push answered so was recorded on its session
SESSION_SEEN = frozenset({200, 201, 202, 409}) | PAGE_REFUSALS  # answers that show the session exists
STATES = frozenset(state.value for state in State)
# The states only a close leaves a session in, and the close each tells of.
CLOSED_AS = {"processing": "apply", "processed": "apply", "failed": "apply", "cancelled": "discard"}
MAX_LEFT_OUT = 20
MAX_NAMED = 20  # integrations a refusal names in its detail
MAX_INFLATED = 64 * 2**20
_LOST_STATUS = 0
_HUNG_UP = 499
# The largest number read from a HAR (a header, a ``_``-member, an answer's count): the report is
# written with orjson, which takes 64-bit integers only, and the judge adds to some of what it reads
# (a push without ``_page`` is the one before it plus one), so a bound with room to spare. A value
# beyond it (or one ``int()`` refuses, such as ``Retry-After: ²``, which ``str.isdigit`` accepts) is
# ignored, and a note says so: a hostile capture is judged without it, never a 500 or a traceback.
MAX_WHOLE = 2**62
MAX_STATUS = 999  # HTTP's three digits: an entry with another status is left out
MAX_IGNORED_SHOWN = 5

# What a finding reads that a HAR may lack: request bodies of pushes, the 409 body of a start.
NEEDS_PUSH_BODIES = (
    "resent_rejected_page_unchanged",
    "applied_with_rejected_pages",
    "duplicate_page",
    "unknown_field",
    "missing_page_hint",
)
NEEDS_CONFLICT_BODIES = ("start_conflict_unhandled", "start_conflict_ignored")
NEEDS_CLOSE_STATUS = ("applied_with_rejected_pages", "outcome_not_read", "close_without_pages")


# ---- reading the document ---------------------------------------------------------------------------
@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas_dir() / "har.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _fast() -> Any:
    return jsonschema_rs.validator_for(_schema())


def check_har(document: Any) -> None:
    """400 ``invalid_har`` listing what keeps ``document`` from being read as HAR 1.2."""
    if _fast().is_valid(document):
        return
    import jsonschema

    problems = []
    for error in jsonschema.validators.validator_for(_schema())(_schema()).iter_errors(document):
        problems.append(f"{json_pointer(error.absolute_path) or '/'}: {str(error.message)[:200]}")
        if len(problems) >= 50:
            break
    problems.sort()
    if isinstance(document, dict) and document.get("format") == "mock-sprinto-state":
        problems.insert(
            0,
            "this is a mock-sprinto state bundle, not a HAR: import it (mock-sprinto state import "
            "FILE) and judge it there (mock-sprinto report), or judge its journal.har",
        )
    raise ApiError.of(
        INVALID_HAR,
        f"not a HAR 1.2 document the judge can read: {problems[0] if problems else 'not an object'}",
        errors=problems,
        setting=False,  # no setting makes a document HAR: max_har_bytes is about size (a 413)
    )


def parse_har(data: bytes) -> Any:
    """A HAR file's bytes (JSON, UTF-8, a BOM allowed) as a document; 400 ``invalid_har`` otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data[:2] == GZIP_MAGIC:  # a .har.gz: orjson's "not valid UTF-8" said nothing of gzip
        detail = (
            "the HAR is gzip-compressed: decompress it first (gunzip FILE.har.gz), or POST it to "
            "/_mock/judge with Content-Encoding: gzip"
        )
        raise _unreadable_har(detail)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ApiError.of(INVALID_HAR, f"the HAR is not JSON: {exc}", errors=[str(exc)], setting=False) from None


def damaged_coding(encoding: str, why: str) -> ApiError:
    """400 ``invalid_har`` for a HAR sent with ``Content-Encoding: gzip`` (or deflate) whose stream
    is corrupt, ends too soon or has data after its end (``why``, from decoding the body,
    ``http/bundles.py``): a HAR that cannot be read, as ``state import``'s damaged bundle is
    ``invalid_state``, not the vendor API's ``malformed_body``."""
    return _unreadable_har(f"the HAR's {encoding} stream is damaged: {why}")


def _unreadable_har(detail: str) -> ApiError:
    """400 ``invalid_har`` for bytes that cannot be read as a HAR at all (no setting helps)."""
    return ApiError.of(INVALID_HAR, detail, errors=[detail], setting=False)


# ---- one entry --------------------------------------------------------------------------------------
@dataclass
class Captured:
    """One HAR entry of the vendor API, with what the judge and the rebuilt sessions read."""

    index: int
    entry: JournalEntry
    started: float
    answered: float
    request_body: bytes | None  # decoded, whole; None when the HAR has none (or only a cut)
    request_body_cut: bool
    response_json: Any  # the answer's JSON body, None when absent or not JSON
    has_orders: bool
    inferred_code: bool = False
    ignored: list[str] = field(default_factory=list)  # values read but beyond what the judge can use
    names_known: bool = True  # a start's 409: whether the HAR tells which session it named (none too)
    whole_seconds: bool = False  # its startedDateTime has no fraction of a second
    closed_as: str | None = None  # a close's ``_closeStatus`` (the emulator's HAR): apply or discard


@dataclass
class Reading:
    """What reading a HAR found: the entries by integration, and what was left out and why."""

    entries: int = 0
    captured: dict[str, list[Captured]] = field(default_factory=dict)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    left_out_count: int = 0
    notes: list[str] = field(default_factory=list)

    def leave_out(self, index: int, url: str, why: str) -> None:
        self.left_out_count += 1
        if len(self.left_out) < MAX_LEFT_OUT:
            self.left_out.append({"index": index, "url": url[:300], "why": why})


def _headers(pairs: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs if isinstance(pairs, list) else ():
        found.setdefault(pair["name"].lower(), pair["value"])
    return found


_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})\Z"
)


def _in_whole_seconds(text: str) -> bool:
    """A time written to the second (``12:00:07Z``): a recorder that keeps no fraction."""
    found = _RFC3339.match(text.strip())
    return found is not None and not found.group("fraction")


def coarse_times(items: list[Captured]) -> bool:
    """Whether an integration's entries were timed to the second only, with no order of the
    emulator's: how long a client waited cannot be read from them, nor which of two requests of
    one second came first (the judge then takes the HAR's order, and judges no wait)."""
    return len(items) > 1 and all(c.whole_seconds and not c.has_orders for c in items)


def _time(text: str) -> float | None:
    """An RFC 3339 time (any fraction of a second, an offset required), None otherwise."""
    found = _RFC3339.match(text.strip())
    if found is None:
        return None
    zone = found.group("zone")
    zone = "+00:00" if zone in ("Z", "z") else zone[:3] + ":" + zone[-2:]
    try:
        moment = datetime.fromisoformat(f"{found.group('date')}T{found.group('time')}{zone}")
        stamp = moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    fraction = found.group("fraction")
    return stamp + (float("0" + fraction) if fraction else 0.0)


def _content_bytes(text: str, encoding: str | None) -> bytes | None:
    if encoding == "base64":
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return None
    return text.encode("utf-8", "surrogatepass")


def _inflate(raw: bytes) -> bytes | None:
    """A gzip or deflate body as a proxy may have captured it, inflated (bounded); None if damaged."""
    for wbits in (16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(raw, MAX_INFLATED)
        except zlib.error:
            continue
        if inflater.eof:
            return out
    return None


def _shown(value: Any) -> str:
    """A value a note quotes, never a large one whole."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _whole(value: Any) -> int | None:
    """A whole number of a HAR's JSON (an int, or a whole float, which orjson makes of one beyond 64
    bits) within ``0..MAX_WHOLE``; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if 0 <= value <= MAX_WHOLE else None


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _page_hint_of(raw: Mapping[str, Any], whole: bytes | None) -> int | str | None:
    """A push's page_hint: as the emulator's own HAR says (``_pageHint``), else read from the page
    itself when its whole body was kept (too many values to parse again: none)."""
    if "_pageHint" in raw:
        return usable_page_hint(raw["_pageHint"])
    if whole is None or many_values(whole):
        return None
    page = _json(whole)
    return usable_page_hint(page.get("page_hint")) if isinstance(page, dict) else None


def read_har(document: Any) -> Reading:
    """The vendor-API entries of a checked HAR document (``check_har``), by integration."""
    reading = Reading()
    raw_entries = document["log"]["entries"]
    reading.entries = len(raw_entries)
    previous = 0.0
    bad_times = 0
    connections: dict[str, int] = {}  # each connection a HAR names, by order of first use
    for index, raw in enumerate(raw_entries, 1):
        request = raw["request"]
        url = request["url"]
        try:
            path = unquote(urlsplit(url).path) if "://" in url or url.startswith("/") else url
        except ValueError as exc:  # "https://[api.example": a URL no client could have sent
            reading.leave_out(index, url, f"not a URL ({exc})")
            continue
        found = API_PATH.search(path)
        if found is None:
            reading.leave_out(index, url, "not under /api/external/push/{version}/integrations/{id}/")
            continue
        rest = found.group("rest") or ""
        method = request["method"].upper()
        route = next(((op, m) for verb, pattern, op in ROUTES if verb == method and (m := pattern.match(rest))), None)
        if route is None:
            reading.leave_out(index, url, f"{method} {rest or '/'} is no operation of the vendor API")
            continue
        status = raw["response"]["status"]
        if not 0 <= status <= MAX_STATUS:  # the schema's integer: 1e300 is one too
            reading.leave_out(index, url, f"response.status {_shown(status)} is not an HTTP status (0-{MAX_STATUS})")
            continue
        if found.group("version") != "v1" or status == 401:
            reading.leave_out(
                index, url, "refused before its integration was known (401, or a version other than v1): never judged"
            )
            continue
        if raw.get("_integrationId", found.group("integration")) is None:
            reading.leave_out(index, url, "the emulator knew no integration for it")
            continue
        operation, match = route
        started = _time(raw["startedDateTime"])
        if started is None:
            bad_times += 1
            started = previous
        previous = started
        elapsed = raw.get("time")
        answered = _time(raw["_answeredDateTime"]) if "_answeredDateTime" in raw else None
        if answered is None:
            answered = started + (max(float(elapsed), 0.0) / 1000 if isinstance(elapsed, (int, float)) else 0.0)
        captured = _captured(index, raw, found.group("integration"), operation, match, method, path, started, answered)
        captured.whole_seconds = _in_whole_seconds(raw["startedDateTime"])
        if raw.get("_closeStatus") in ("apply", "discard"):
            captured.closed_as = raw["_closeStatus"]
        connection = raw.get("connection")  # HAR 1.2's: any string naming the TCP connection
        if isinstance(connection, str) and connection:
            captured.entry.connection = connections.setdefault(connection, len(connections))
        reading.captured.setdefault(captured.entry.integration_id or "", []).append(captured)
    if bad_times:
        reading.notes.append(
            f"{bad_times} entr{'y' if bad_times == 1 else 'ies'} had a startedDateTime that is not an RFC 3339 time "
            "with an offset: taken to start when the entry before it did"
        )
    for items in reading.captured.values():
        _order(items)
    return reading


def _captured(
    index: int,
    raw: Mapping[str, Any],
    integration_id: str,
    operation: str,
    match: re.Match[str],
    method: str,
    path: str,
    started: float,
    answered: float,
) -> Captured:
    request, response = raw["request"], raw["response"]
    request_headers = _headers(request.get("headers"))
    response_headers = _headers(response.get("headers"))
    status = int(response["status"])
    lost = status == _LOST_STATUS or bool(response.get("_error"))
    # the request body, decoded as the emulator reads it
    body: bytes | None = None
    cut = False
    post = request.get("postData")
    if isinstance(post, dict) and "text" in post:
        body = _content_bytes(post["text"], post.get("encoding"))
        cut = "cut at" in str(post.get("comment", ""))
        coded = request_headers.get("content-encoding", "").strip().lower() in ("gzip", "deflate")
        if body is not None and (body[:2] == GZIP_MAGIC or (coded and body[:1] not in b"{[ \t\r\n")):
            body = _inflate(body)  # captured as sent, compressed
    whole = None if cut else body
    content = response.get("content")
    answer_text = content.get("text") if isinstance(content, dict) else None
    answer = None
    answer_bytes = None
    if isinstance(content, dict) and isinstance(answer_text, str):
        answer_bytes = _content_bytes(answer_text, content.get("encoding"))
        answer = _json(answer_bytes)
    # the code
    inferred = False
    if "_code" in raw:
        code = raw["_code"]
    elif isinstance(answer, dict) and isinstance(answer.get("code"), str):
        code = answer["code"]
    elif status >= 400 and (operation, status) in INFERRED_CODES:
        code, inferred = INFERRED_CODES[(operation, status)], True
    elif status == 429:
        code, inferred = "rate_limited", True
    else:
        code = None
    if lost and not (code or "").startswith("transport_"):
        code = "transport_error"  # no answer was read: a broken connection
    elif status == _HUNG_UP and "_code" not in raw:
        # 499 is no answer a server sends: the client hung up first (nginx's status, the emulator's
        # journal's), whatever body the capture shows as the one it would have had.
        code = "client_disconnected"
    session_id = match.groupdict().get("session")
    if session_id is None and operation == "start_session":
        named = raw.get("_sessionId")
        if isinstance(named, str):
            session_id = named
        elif isinstance(answer, dict) and isinstance(answer.get("id"), str) and status == 201:
            session_id = answer["id"]
    names_session = raw.get("_namesSession")
    if "_namesSession" not in raw and isinstance(answer, dict) and isinstance(answer.get("active_session_id"), str):
        names_session = answer["active_session_id"]
    ignored: list[str] = []
    retry = response_headers.get("retry-after", "").strip()
    retry_after = header_whole(retry, MAX_WHOLE)
    if retry and retry_after is None:
        ignored.append(f"entry {index} Retry-After {_shown(retry)} (not whole seconds up to {MAX_WHOLE})")
    length = request_headers.get("content-length", "").strip()
    bytes_in = header_whole(length, MAX_WHOLE)
    if length and bytes_in is None:
        ignored.append(f"entry {index} Content-Length {_shown(length)} (not a whole number up to {MAX_WHOLE})")
    push = operation == "push_page"
    body_size = request.get("bodySize")
    wire = _whole(body_size)
    if wire is None and isinstance(body_size, (int, float)) and body_size > MAX_WHOLE:
        ignored.append(f"entry {index} request.bodySize {_shown(body_size)} (over {MAX_WHOLE})")
    if wire is None:
        wire = bytes_in  # -1 (unknown) too
    if wire is None and push and body is not None and not cut:
        wire = len(body)
    page = _whole(raw.get("_page")) or None  # ordinals start at 1
    if page is None and raw.get("_page") is not None:
        ignored.append(f"entry {index} _page {_shown(raw['_page'])} (not a page ordinal from 1 to {MAX_WHOLE})")
    elapsed = raw.get("time")
    entry = JournalEntry(
        request_id=str(raw.get("_requestId") or response_headers.get("x-request-id") or f"har-{index}"),
        at=answered,
        method=method,
        path=path[:300],
        operation=operation,
        status=status,
        code=code,
        latency_ms=max(float(elapsed), 0.0) if isinstance(elapsed, (int, float)) else 0.0,
        integration_id=integration_id,
        session_id=session_id,
        bytes_in=bytes_in,
        rule=raw.get("_rule"),
        arrived_at=started,
        arrival=_whole(raw.get("_arrival")) or 0,
        answer=_whole(raw.get("_answer")) or 0,
        retry_after=retry_after,
        encoding=(request_headers.get("content-encoding", "").strip().lower() or "identity") if push else None,
        body_bytes=wire if push else None,
        digest=page_digest(whole) if push and whole is not None else None,
        page=page,
        page_hint=_page_hint_of(raw, whole) if push else None,
        names_session=names_session if isinstance(names_session, str) else None,
        # a refusal's answer, whose detail no_request_accepted quotes (as the journal keeps it)
        response_body=answer_bytes if 400 <= status < 500 else None,
    )
    # Orders beyond the bound are not the emulator's: the order is rebuilt from the times instead.
    has_orders = all(isinstance(raw.get(key), int) and _whole(raw[key]) is not None for key in ("_arrival", "_answer"))
    names_known = "_namesSession" in raw or isinstance(answer, dict)
    return Captured(index, entry, started, answered, whole, cut, answer, has_orders, inferred, ignored, names_known)


def _order(items: list[Captured]) -> None:
    """Arrival and answer orders: the emulator's own when every entry has them, else rebuilt from the
    times (an answer at the same instant as a later request's start came first; HAR order breaks ties)."""
    if items and all(c.has_orders for c in items):
        return
    if coarse_times(items):  # one after the other, as the HAR lists them (a client at a time)
        for position, captured in enumerate(items):
            captured.entry.arrival, captured.entry.answer = 2 * position + 1, 2 * position + 2
        return
    events = []
    for position, captured in enumerate(items):
        events.append((captured.started, position, 0, captured))
        events.append((max(captured.answered, captured.started), position, 1, captured))
    events.sort(key=lambda event: (event[0], event[1], event[2]))
    for number, (_, _, kind, captured) in enumerate(events, 1):
        if kind == 0:
            captured.entry.arrival = number
        else:
            captured.entry.answer = number


# ---- the sessions the answers show ------------------------------------------------------------------
class _Sessions:
    """Rebuilds the sessions of one integration from its entries, in arrival order."""

    def __init__(self, tenant: Tenant, key_fields: Mapping[str, str]) -> None:
        self.tenant = tenant
        self.key_fields = key_fields
        self.pages: dict[str, int] = {}
        self.lost_closes: dict[str, float] = {}  # a session: the arrival of its last close whose answer was lost

    def session(self, session_id: str, at: float) -> Session:
        tenant = self.tenant
        found = tenant.sessions.get(session_id)
        if found is None:
            tenant.session_count += 1
            found = Session(
                session_id, tenant.id, tenant.session_count, None, 3600.0, at, updated_at=at, last_request_at=at
            )
            tenant.sessions[session_id] = found
            if tenant.active_session_id is None:  # first seen in use (its start's answer lost): the active one
                tenant.active_session_id = session_id
        return found

    def see(self, captured: Captured) -> None:
        entry = captured.entry
        self.expire_idle(arrived(entry))
        if entry.session_id is None:
            return
        lost = entry.code is not None and entry.code.startswith("transport_")
        answer = captured.response_json if isinstance(captured.response_json, dict) else {}
        state = answer.get("state")
        shown = isinstance(state, str) and state in STATES
        # A scenario's answer, not the operation's. But a rule that only changed the lifecycle
        # (expire-at-page-2's expire_session) let the operation answer: its 409 names the state the
        # rule left the session in, which an answer a rule gives in the operation's place never does.
        # A push a rule rejected as invalid is a rejected page of its session, as the live session
        # records it (``Sessions.reject_by_rule``).
        injected = (
            entry.rule is not None
            and not 200 <= entry.status < 300
            and not (entry.status == 409 and shown)
            and not (entry.operation == "push_page" and rejected_by_rule(entry))
        )
        if lost or injected or entry.status not in SESSION_SEEN:
            # No answer, or one that shows nothing of the session (404, 429, 5xx); yet a push that
            # reached its session counted as a request on it, as the emulator checks the session
            # before a rule or its body has a say (the inactivity a live report's last_request_at reads).
            known = self.tenant.sessions.get(entry.session_id)
            if known is not None and entry.operation == "push_page" and _reached(entry, lost):
                self.touch(known, entry)
            if known is not None and entry.operation == "close_session" and lost:
                self.lost_closes[known.id] = arrived(entry)
            return
        if entry.operation == "start_session" and entry.status != 201:
            return
        session = self.session(entry.session_id, entry.at)
        self.touch(session, entry)
        if entry.operation == "start_session":
            session.created_at = entry.at
            reference = answer.get("client_reference_id")
            session.client_reference_id = reference if isinstance(reference, str) else None
            timeout = answer.get("inactivity_timeout_seconds")
            if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and 0 < timeout <= MAX_WHOLE:
                session.inactivity_timeout = float(timeout)
            self.tenant.active_session_id = session.id
            return
        answered_close = entry.operation == "close_session" and entry.status == 202  # closes it below
        if shown and not answered_close and session.closed_at is None and state in CLOSED_AS:
            # Closed, though no close's answer said so: its answer was lost (or the close is not in
            # the HAR). It was closed by the time this request arrived (the emulator answers with the
            # state as of arrival), when the close whose answer was lost arrived if there was one.
            session.close_status = CLOSED_AS[str(state)]
            session.closed_at = self.lost_closes.get(session.id, arrived(entry))
        if shown:
            self.move(session, State(str(state)), entry.at)
        elif entry.code == "session_not_active" and session.state is State.ACTIVE:
            # Not active, and not closed by the client: the lifecycle leaves only an expiry.
            self.move(session, State.EXPIRED, entry.at)
        if entry.operation == "push_page":
            self.push(captured, session, answer)
        elif entry.operation == "close_session" and entry.status == 202:
            body = _json(captured.request_body)
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("apply", "discard"):
                status = CLOSED_AS.get(str(state)) or captured.closed_as  # what the answer showed first
            session.close_status = status
            session.closed_at = entry.at
            if not isinstance(state, str) and status is not None:
                self.move(session, State.CANCELLED if status == "discard" else State.PROCESSING, entry.at)
        elif entry.operation == "get_session" and entry.status == 200:
            retry = answer.get("retry_count")
            if isinstance(retry, int) and _whole(retry) is not None:
                session.retry_count = retry
            if isinstance(answer.get("last_error"), str):
                session.last_error = answer["last_error"]
            if session.state is State.EXPIRED and isinstance(answer.get("expires_at"), str):
                session.expired_at = _time(answer["expires_at"]) or session.expired_at

    def expire_idle(self, now: float) -> None:
        """The active session expired when its inactivity timeout (its start's answer says it, 60
        minutes by default) ran out before ``now``, a request's arrival: as the emulator expires it,
        whoever asks next, and whether or not an answer showed it. Time after the last entry is
        not judged (``_coverage_not_judged``)."""
        session = self.tenant.sessions.get(self.tenant.active_session_id or "")
        if session is not None and session.state is State.ACTIVE:
            deadline = session.last_request_at + session.inactivity_timeout
            if now >= deadline:
                self.move(session, State.EXPIRED, deadline)

    def touch(self, session: Session, entry: JournalEntry) -> None:
        """A request on ``session``: while it is active, its inactivity counts from this arrival."""
        if session.state is State.ACTIVE:
            session.last_request_at = arrived(entry)

    def move(self, session: Session, state: State, at: float) -> None:
        if state is session.state:
            return
        session.state = state
        session.updated_at = at
        if state is State.EXPIRED and session.expired_at is None:
            session.expired_at = at  # at the latest: the answer that showed it
        if state in FINAL and session.finished_at is None:
            session.finished_at = at
        if self.tenant.active_session_id == session.id and state is not State.ACTIVE:
            self.tenant.active_session_id = None

    def push(self, captured: Captured, session: Session, answer: Mapping[str, Any]) -> None:
        entry = captured.entry
        if entry.status != 202 and entry.status not in PAGE_REFUSALS:
            return
        if entry.page is not None:
            ordinal = entry.page
            session.pages_received = max(session.pages_received, ordinal)
        else:
            session.pages_received += 1
            ordinal = entry.page = session.pages_received
        body = _json(captured.request_body)
        hint = entry.page_hint  # read when the entry was (``_page_hint_of``), else the answer's echo
        echoes = answer.get("echoes")
        if hint is None and isinstance(echoes, dict):
            hint = usable_page_hint(echoes.get("page_hint"))
        counts = answer.get("accepted_count_by_entity")
        if isinstance(counts, dict):  # counts the report adds up: bounded, as every number read
            counts = {name: n for name, n in counts.items() if isinstance(n, int) and _whole(n) is not None}
        page = Page(
            ordinal=ordinal,
            request_id=entry.request_id,
            received_at=entry.at,
            accepted=entry.status == 202,
            record_count=(_whole(answer.get("accepted_count_total")) or 0) if entry.status == 202 else 0,
            counts=dict(counts) if isinstance(counts, dict) else {},
            wire_bytes=entry.body_bytes or 0,
            decoded_bytes=len(captured.request_body or b""),
            encoding=entry.encoding or "identity",
            page_hint=hint,
            code=entry.code,
            digest=entry.digest,
        )
        if page.accepted:
            page.payload = captured.request_body if _has_entities(body) else None
            session.add_page(page)
        else:
            if rejected_by_rule(entry):  # as the live session records it (``Sessions.reject_by_rule``)
                page.rule = entry.rule
            if (entry.code == "validation_failed" or page.rule is not None) and captured.request_body is not None:
                page.record_keys = rejected_record_keys(captured.request_body, self.key_fields.get)
            session.rejected_pages.append(page)

    def apply(self) -> None:
        """The datasets the processed sessions applied, in the order they finished, as the live
        emulator applies them (``apply_mode``): what tells a rejected page fixed under another hint,
        or none, from one skipped (``checks.unrecovered_pages``), as the live report tells it."""
        tenant = self.tenant
        upsert = tenant.settings.apply_mode == "upsert"
        processed = [s for s in tenant.sessions.values() if s.state is State.PROCESSED and s.finished_at is not None]
        for session in sorted(processed, key=lambda s: s.finished_at or 0.0):
            built: dict[str, Dataset] = {}
            for page in session.accepted_pages:
                body = _json(page.payload)
                for entity_type, records in (body["entities"] if _has_entities(body) else {}).items():
                    if type(records) is not list:
                        continue
                    dataset = built.get(entity_type)
                    if dataset is None:
                        current = tenant.datasets.get(entity_type)
                        key_field = self.key_fields.get(entity_type)
                        dataset = built[entity_type] = (
                            Dataset.over(current) if upsert and current is not None else Dataset(entity_type, key_field)
                        )
                    for record in records:
                        dataset.put(record)
            for entity_type, aside in built.items():
                dataset = tenant.datasets[entity_type] = aside.merged()
                dataset.applied_by_session = session.id


def _reached(push: JournalEntry, lost: bool) -> bool:
    """Whether a push whose answer shows nothing of its session reached it: the emulator checks the
    session first, after only the api-key and the rate limit (a 429 no rule gave), so a push a rule
    answered (or broke the connection of) reached it, as did one answered 5xx, 408 or the like; one
    whose connection broke without a rule the HAR names may never have arrived, and a 404 found none."""
    if push.rule is not None:
        return True
    return not lost and push.status not in (404, 429)


def _has_entities(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("entities"), dict)


# ---- the verdict ------------------------------------------------------------------------------------
@dataclass
class HarReport:
    """The judge's report on one integration of a HAR, and what it could not judge from it."""

    report: Report
    requests: int
    not_judged: list[dict[str, str]]
    notes: list[str]

    def public(self) -> dict[str, Any]:
        return {
            **self.report.public(),
            "requests": self.requests,
            "not_judged": self.not_judged,
            "notes": self.notes,
        }


@dataclass
class HarJudgement:
    reading: Reading
    reports: list[HarReport]

    def public(self) -> dict[str, Any]:
        return {
            "entries": self.reading.entries,
            "judged_entries": sum(r.requests for r in self.reports),
            "left_out": self.reading.left_out,
            "left_out_count": self.reading.left_out_count,
            "notes": self.reading.notes,
            "integrations": [report.public() for report in self.reports],
        }


def judge_har(
    document: Any,
    known_fields: Mapping[str, Iterable[str]] | None = None,
    settings: Settings | None = None,
    integration_id: str | None = None,
    key_fields: Mapping[str, str] | None = None,
) -> HarJudgement:
    """Judge a HAR document: a report per integration it holds (or only ``integration_id``'s).
    ``settings`` are the limits the traffic met (default: Sprinto's, the emulator's defaults);
    ``key_fields`` each entity type's key field (``SchemaRegistry.key_fields``)."""
    check_har(document)
    reading = read_har(document)
    if integration_id is not None and integration_id not in reading.captured:
        raise _not_in_it(integration_id, reading)
    reports = []
    for name, items in reading.captured.items():
        if integration_id is not None and name != integration_id:
            continue
        reports.append(_judge_one(name, items, known_fields or {}, settings or Settings(), key_fields or {}))
    return HarJudgement(reading, reports)


def _not_in_it(integration_id: str, reading: Reading) -> ApiError:
    """404 ``integration_not_in_har``: the integration asked for has no request in the HAR (not
    found in the document posted, which is well formed). An empty judgement would read as a clean
    one, and a typo in the id would pass a CI run."""
    held = sorted(reading.captured)
    if not held:
        holds = "it holds no request of Sprinto's vendor API"
    else:
        holds = (
            "it holds: "
            + ", ".join(held[:MAX_NAMED])
            + (f" and {len(held) - MAX_NAMED} more" if len(held) > MAX_NAMED else "")
        )
    return ApiError.of(
        INTEGRATION_NOT_IN_HAR,
        f"no request of integration {integration_id[:140]!r} in the HAR ({holds})",
        setting=False,  # no setting finds requests a HAR does not hold
        integrations=held[:100],
    )


def _judge_one(
    integration_id: str,
    items: list[Captured],
    known_fields: Mapping[str, Iterable[str]],
    settings: Settings,
    key_fields: Mapping[str, str],
) -> HarReport:
    last = max((c.answered for c in items), default=0.0)
    if coarse_times(items):  # waits unknown: judged as on a frozen clock (no wait judged)
        settings = settings.with_overrides({"frozen_clock": True})
    tenant = Tenant(integration_id, None, OffsetClock(ManualClock(last)), settings, IdSource(), MemoryBudget(None))
    tenant.since = 0
    sessions = _Sessions(tenant, key_fields)
    arrivals = sorted(items, key=lambda c: c.entry.arrival)
    _name_lost_starts(arrivals)
    for captured in arrivals:
        sessions.see(captured)
    sessions.apply()
    entries = [c.entry for c in items]
    report = judge(tenant, entries, known_fields, key_fields)
    not_judged = _not_judged(items, tenant)
    skipped = {item["id"] for item in not_judged}
    report.findings = [f for f in report.findings if f.id not in skipped]
    _hinted_by_entry(report, entries)
    unknown = _coverage_not_judged(items, tenant, report.coverage)
    report.coverage = [c for c in report.coverage if c.behaviour not in {item["id"] for item in unknown}]
    return HarReport(report, len(items), not_judged + unknown, _notes(items))


def _name_lost_starts(arrivals: list[Captured]) -> None:
    """The session a start whose answer was lost made, where the HAR does not name it
    (``_sessionId``): the one the next start's 409 named as active, when no request before the lost
    start used it (a session from before the capture is no lost start's)."""
    used: set[str] = set()
    lost_start: JournalEntry | None = None
    for captured in arrivals:
        entry = captured.entry
        if entry.operation == "start_session":
            named = entry.names_session
            if entry.code == "session_already_active" and named is not None and named not in used:
                if lost_start is not None:
                    lost_start.session_id = named
                lost_start = None
            elif entry.session_id is None and (entry.code or "").startswith("transport_"):
                lost_start = entry
            elif entry.session_id is not None:
                lost_start = None  # answered: a later 409 names this one
        for session_id in (entry.session_id, entry.names_session):
            if session_id is not None:
                used.add(session_id)


def _hinted_by_entry(report: Report, entries: list[JournalEntry]) -> None:
    """The ``page_hint`` of a page an evidence item names but the rebuilt session does not hold: a
    push whose answer was lost counts as not staged here (docs/judge-har.md), though the emulator
    staged it and the live report names its hint. Its own entry holds the hint it was sent with."""
    pushes = {e.request_id: e for e in entries if e.operation == "push_page" and e.page_hint is not None}
    for finding in report.findings:
        for item in finding.evidence:
            push = pushes.get(str(item.get("request_id")))
            if push is not None and "page_hint" not in item and type(item.get("page")) is int:
                if push.page == item["page"] and push.session_id == item.get("session_id"):
                    item["page_hint"] = push.page_hint


# The findings that read how long a client waited, which times to the second cannot tell.
NEEDS_FINE_TIMES = ("retry_too_soon", "retry_without_backoff", "status_polled_too_fast", "start_conflict_ignored")


def _not_judged(items: list[Captured], tenant: Tenant) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if coarse_times(items):
        why = "every startedDateTime is to the second only: how long the client waited is unknown"
        found += [{"id": finding, "why": why} for finding in NEEDS_FINE_TIMES]
    pages = [c for c in items if c.entry.operation == "push_page" and c.entry.status in (202, 400) and not c.entry.rule]
    without = [c for c in pages if c.request_body is None]
    if without:
        why = (
            f"{len(without)} of the {len(pages)} pushes answered 202 or 400 have no whole request body in the HAR "
            f"(first: entry {without[0].index}{', cut short' if without[0].request_body_cut else ''}): "
            "their page, its page_hint and records are unknown"
        )
        found += [{"id": finding, "why": why} for finding in NEEDS_PUSH_BODIES]
    conflicts = [
        c for c in items if c.entry.operation == "start_session" and c.entry.status == 409 and not c.entry.rule
    ]
    unnamed = [c for c in conflicts if c.entry.names_session is None]
    if unnamed:
        why = (
            f"{len(unnamed)} start(s) answered 409 without the answer's body (entry {unnamed[0].index}): "
            "the active session it named is unknown"
        )
        found += [{"id": finding, "why": why} for finding in NEEDS_CONFLICT_BODIES]
    closes = [
        c
        for c in items
        if c.entry.operation == "close_session" and c.entry.status == 202 and c.entry.session_id in tenant.sessions
    ]
    unclear = [c for c in closes if tenant.sessions[c.entry.session_id or ""].close_status is None]
    if unclear:
        why = (
            f"{len(unclear)} close(s) answered 202 with neither the request's body nor the answer's in the HAR "
            f"(entry {unclear[0].index}): apply or discard is unknown"
        )
        found += [
            {"id": finding, "why": why} for finding in NEEDS_CLOSE_STATUS if finding not in {f["id"] for f in found}
        ]
    unknown_400 = [c for c in pages if c.entry.status == 400 and c.entry.code is None]
    if unknown_400:
        found.append(
            {
                "id": "too_many_records",
                "why": f"{len(unknown_400)} push(es) answered 400 without a code (entry {unknown_400[0].index}): "
                "a page with too many records is not told apart from an invalid one",
            }
        )
    return found


def _coverage_not_judged(items: list[Captured], tenant: Tenant, coverage: list[Coverage]) -> list[dict[str, str]]:
    """The behaviours whose coverage this HAR cannot tell (met, or recovered when met), each with
    why: left out of ``coverage`` and listed under ``not_judged`` by the behaviour's name (no
    finding bears one), never answered "not met" or "recovered" in the client's favour or against it."""
    verdict = {c.behaviour: c for c in coverage}
    unknown: dict[str, str] = {}

    def unsure(behaviour: str, why: str, *, met: bool | None = None) -> None:
        """``behaviour`` is not judged: when it was ``met`` as the HAR reads it (None: either way)."""
        shown = verdict.get(behaviour)
        if shown is not None and (met is None or shown.met is met) and behaviour not in unknown:
            said = "whether the client recovered" if shown.met else "whether the run met it"
            unknown[behaviour] = f"coverage: {said} is unknown: {why}"

    sessions = tenant.sessions
    bodiless = [
        c
        for c in items
        if c.entry.operation == "push_page" and c.entry.status in (202, 400) and not c.entry.rule
        if c.request_body is None
    ]
    if bodiless:
        why = f"{len(bodiless)} push(es) answered 202 or 400 have no whole request body (entry {bodiless[0].index})"
        unsure("page_rejected", why + ": which page replaced a rejected one is unknown", met=True)
        for behaviour, failed in (("rate_limited", _throttled), ("transport_fault", _broken)):
            unpaged = [c for c in items if c.entry.operation == "push_page" and failed(c) and c.request_body is None]
            if unpaged:
                unsure(
                    behaviour,
                    why + f" nor has the push of entry {unpaged[0].index}: whether its page was "
                    "accepted later is unknown",
                    met=True,
                )
    unclear = [
        c
        for c in items
        if c.entry.operation == "close_session"
        and c.entry.status == 202
        and sessions.get(c.entry.session_id or "") is not None
        and sessions[c.entry.session_id or ""].close_status is None
    ]
    if unclear:
        why = f"a close answered 202 with neither body (entry {unclear[0].index}): apply or discard is unknown"
        unsure("discarded", why, met=False)
        for behaviour in ("session_not_active", "session_expired", "page_rejected"):
            unsure(behaviour, why + " (a page left out of an applied session)", met=True)
    unread = [
        c
        for c in items
        if (c.entry.operation, c.entry.status) in (("get_session", 200), ("close_session", 202))
        and not isinstance(c.response_json, dict)
    ]
    open_outcomes = [
        s
        for s in sessions.values()
        if (s.closed_at is not None or any(c.entry.session_id == s.id for c in unclear))
        and s.close_status != "discard"
        and s.state not in (State.PROCESSED, State.FAILED)
    ]
    if unread:
        why = f"{len(unread)} session read(s) or close(s) answered without their body (entry {unread[0].index}): "
        for behaviour in ("session_expired", "processing_retried", "processing_failed", "applied"):
            unsure(behaviour, why + "the session's state they showed is unknown", met=False)
    if open_outcomes:
        why = (
            f"session {open_outcomes[0].id} was closed and never read processed or failed: its processing "
            "after the HAR's last entry is unknown"
        )
        for behaviour in ("processing_retried", "processing_failed", "applied"):
            unsure(behaviour, why, met=False)
        unsure("processing_failed", why + " (a later sync's success)", met=True)
        if any(s.rejected_pages for s in open_outcomes):
            unsure("page_rejected", why + " (which records it applied)", met=True)
    if any(s.state is State.ACTIVE for s in sessions.values()):
        unsure(
            "session_expired",
            "a session was still active at the HAR's last entry: whether it expired after it is unknown",
            met=False,
        )
    uncoded = [c for c in items if c.entry.status == 409 and c.entry.code is None]
    if uncoded:
        unsure("session_not_active", f"a 409 without a code (entry {uncoded[0].index})", met=False)
    uncoded = [c for c in items if c.entry.operation == "push_page" and c.entry.status == 400 and c.entry.code is None]
    if uncoded:
        unsure("page_rejected", f"a push answered 400 without a code (entry {uncoded[0].index})", met=False)
    conflicts = [c for c in items if c.entry.code == "session_already_active"]
    if conflicts and not conflicts[-1].names_known:
        unsure(
            "start_conflict",
            f"the last start answered 409 has no body (entry {conflicts[-1].index}): the session it named is unknown",
            met=True,
        )
    return [{"id": name, "why": why} for name, why in unknown.items()]


def _throttled(captured: Captured) -> bool:
    return captured.entry.status == 429


def _broken(captured: Captured) -> bool:
    code = captured.entry.code or ""
    return code.startswith("transport_")


def _notes(items: list[Captured]) -> list[str]:
    notes = [
        "a session's state is the last one an answer in the HAR showed (expired once a request came after its "
        "inactivity timeout): time after the last entry is unknown, so a session active at the last entry counts "
        "as active (session_left_active, not session_left_to_expire), and processing is judged only from the "
        "session reads the HAR holds",
        "an expiry a scenario forced is not told apart from the client's inactivity",
    ]
    ignored = [value for c in items for value in c.ignored]
    if ignored:
        more = len(ignored) - MAX_IGNORED_SHOWN
        notes.append(
            "values the judge cannot read were ignored, the entries judged without them: "
            + "; ".join(ignored[:MAX_IGNORED_SHOWN])
            + (f"; and {more} more" if more > 0 else "")
        )
    inferred = sorted({f"{c.entry.operation} {c.entry.status}: {c.entry.code}" for c in items if c.inferred_code})
    if inferred:
        notes.append("codes taken from the contract, the answers having none: " + "; ".join(inferred))
    if coarse_times(items):
        notes.append(
            "every startedDateTime is to the second only: the requests are taken one after the other in the "
            "HAR's order, and no wait is judged (listed as not judged)"
        )
    elif not all(c.has_orders for c in items):
        notes.append(
            "the order of arrivals and answers is rebuilt from startedDateTime and time "
            "(requests overlapping in time are taken as concurrent)"
        )
    return notes


def judgement_text(judgement: HarJudgement, source: str) -> str:
    """``mock-sprinto judge``'s text: each integration's findings with evidence and advice, and what
    the HAR could not show."""
    reading = judgement.reading
    lines = [
        f"{source}: {reading.entries} entr{'y' if reading.entries == 1 else 'ies'}, "
        f"{sum(r.requests for r in judgement.reports)} judged"
        + (f", {reading.left_out_count} left out" if reading.left_out_count else "")
    ]
    for item in reading.left_out[:5]:
        lines.append(f"  left out: entry {item['index']} {item['url']}: {item['why']}")
    if reading.left_out_count > 5:
        lines.append(f"  ... and {reading.left_out_count - 5} more left out (--json lists {MAX_LEFT_OUT})")
    lines += [f"  note: {note}" for note in reading.notes]
    if not judgement.reports:
        lines.append("no request of Sprinto's vendor API in it: nothing to judge")
    for har_report in judgement.reports:
        lines.append("")
        lines += report_lines(har_report.report.public(), har_report.requests, f"--json lists up to {MAX_EVIDENCE}")
        for heading, of_coverage in (("not judged from this HAR", False), ("coverage not judged from this HAR", True)):
            reasons: dict[str, list[str]] = {}
            for item in har_report.not_judged:
                if (item["id"] in BEHAVIOURS) is of_coverage:
                    reasons.setdefault(item["why"], []).append(item["id"])
            if reasons:
                lines.append(f"  {heading}:")
            for why, ids in reasons.items():
                lines.append(f"    {', '.join(ids)}: {why.removeprefix('coverage: ')}")
        for note in har_report.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines)
