"""What the judge reads: one tenant's journal and store, indexed once for every check.

"After" always means arrival order against answer order, never emulator time alone: on a frozen or
manual clock many requests share one instant. What the client could know is what reached it: an
answer lost to an injected transport fault (journal code ``transport_*``) is no answer.

Automatic transport retries: aiohttp and requests re-send an idempotent GET once, by themselves,
after a connection reset or an empty reply. A GET to the same path that arrives within
``AUTO_RETRY_SECONDS`` of emulator time after a GET answered with an injected transport fault is
taken for the library's retry, not the client's doing, and counts towards no finding. Its answer
still reached the client: what it showed (a session's outcome, its expiry) counts as learnt
(``Run.every``), whoever sent it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ..clock import format_time
from ..journal import JournalEntry
from ..settings import Settings
from ..steps import Steps
from ..store import Judged, Page, PageRows, Session, fields_found
from ..validation import merge_unknown_fields, record_count, unknown_fields
from .kinds import IN_FLIGHT_SECONDS

AUTO_RETRY_SECONDS = 1.0
LOOP_HELD_COUNTED_SECONDS = 1.0  # in_flight's slack for the loop held in between, at most
REJECTED_CODES = frozenset(
    {"validation_failed", "too_many_items", "too_many_entity_types", "empty_page", "malformed_body"}
)  # 400s
SIZE_CODES = frozenset({"payload_too_large", "too_many_items", "too_many_entity_types"})  # refused for size: not judged
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})  # what a retry with backoff recovers from
# The documented limits (the settings' defaults): a refusal under a lower one, a scenario's or a
# setting's, is not Sprinto's doing.
SPRINTO_MAX_REQUEST_BYTES: int = Settings().max_request_bytes
SPRINTO_PAGE_ITEMS: int | None = Settings().max_page_items
# The staged pages' bytes one step of a report reads for their fields (~1-3 ms of parsing): read in
# the one step of the unknown_field check, a session of 10,000 staged pages held the loop ~1 s, at
# every report the dashboard asked for (each second).
FIELDS_READ_A_STEP = 1 << 20
SLICED_PAGE_BYTES = 1 << 20  # a staged page larger than this is read for its fields in slices of it


class Run:
    """One tenant's journal and store, indexed once for every check."""

    def __init__(
        self,
        tenant: Judged,
        entries: Iterable[JournalEntry],
        known_fields: Mapping[str, Iterable[str]],
        key_fields: Mapping[str, str] | None = None,
    ) -> None:
        self.tenant = tenant
        self.known_fields = known_fields
        self.key_fields: Mapping[str, str] = key_fields or {}
        self.entries = sorted(
            (e for e in entries if e.integration_id == tenant.id and e.arrival > tenant.since),
            key=lambda e: e.answer,
        )
        self.by_request = {e.request_id: e for e in self.entries}
        self.arrivals = sorted(self.entries, key=lambda e: e.arrival)
        self.automatic = _automatic_retries(self.arrivals)
        self.client = [e for e in self.arrivals if e.request_id not in self.automatic]
        self.sessions: list[Session] = list(tenant.sessions.values())
        self.known_field_sets = {name: frozenset(fields) for name, fields in known_fields.items()}
        self._left_out: list[tuple[JournalEntry, Session]] | None = None
        self._last_accepted: dict[Any, int] | None = None
        self._accepted_keys: dict[Any, int] | None = None
        self._listed_rejections: set[str] | None = None
        self.unrecovered: dict[str, list[Page]] = {}  # by session: ``checks.unrecovered_of``
        self._hints_shared: set[str | None] | None = None

    def page_keys(self, entry: JournalEntry) -> tuple[Any, ...]:
        """How the judge knows a push's page when it is sent again: by its bytes (its digest, in any
        session: a new one after an expiry too), or by its ``page_hint`` in its session (a page
        serialized again for its retry, its keys in another order), where the session's hints name
        its pages. Two pushes sharing a key carry the same page; a push whose body was never read
        has none."""
        keys: tuple[Any, ...] = ()
        if entry.digest is not None:
            keys += (("bytes", entry.digest),)
        if entry.page_hint is not None and entry.session_id not in self.hints_shared():
            keys += (("hint", entry.session_id, entry.page_hint),)
        return keys

    def hints_shared(self) -> set[str | None]:
        """Sessions whose ``page_hint`` names no one page: two pages of other bytes the client was
        told were accepted carry the same hint (every page "User", or 0). There a page moved on to,
        with the skipped page's hint, was its re-send. A page staged before its answer was lost and
        then sent again serialized anew is one page (the client never learnt the first was taken)."""
        if self._hints_shared is None:
            seen: dict[tuple[str | None, int | str], str] = {}
            shared: set[str | None] = set()
            for entry in self.client:
                if entry.operation != "push_page" or entry.status != 202 or entry.page_hint is None or lost(entry):
                    continue
                if entry.digest is None:
                    continue
                first = seen.setdefault((entry.session_id, entry.page_hint), entry.digest)
                if first != entry.digest:
                    shared.add(entry.session_id)
            self._hints_shared = shared
        return self._hints_shared

    def pages_left_out(self) -> list[tuple[JournalEntry, Session]]:
        """Pages an applied session went without, as only the journal tells (no session's rejected
        pages record them), each with that session:

        - a push a scenario rule answered 400 with a rejection's code, as if the page were invalid
          (``reject-page-2``): the push never ran;
        - a push refused 409 ``session_not_active`` (its session had expired) when the client then
          applied that session and no session started after it: applying an expired session's
          partial data alone loses the page (docs/exam.md, ``expired-mid-sync``). Not a push sent
          after the client's own close with apply: that sync was whole, the push is
          ``push_to_inactive_session``'s (it was blamed twice, and told to push every page again).

        A rule's refusal its session lists is judged with the session's rejected pages, not here
        (``checks.unrecovered_pages``); one it does not list is not left out once its page was
        accepted after it in that session (``sent_again_after``: a page of its bytes or its hint;
        any page when no hint names it). A 409 is not left out once any page of that session was
        accepted after it: the push named no page.
        """
        if self._left_out is not None:
            return self._left_out
        sessions = self.tenant.sessions
        newest_applied = max((s.ordinal for s in self.sessions if s.close_status == "apply"), default=0)
        closed: dict[str, int] = {}  # each session's first close the emulator took, by arrival
        for entry in self.client:
            if entry.operation == "close_session" and entry.status == 202 and entry.session_id is not None:
                closed.setdefault(entry.session_id, entry.arrival)
        left: list[tuple[JournalEntry, Session]] = []
        for entry in self.pushes():
            session = sessions.get(entry.session_id) if entry.session_id is not None else None
            if session is None or session.close_status != "apply":
                continue
            if rejected_by_rule(entry):
                # A rule's rejection its session lists is judged as the session's other rejected
                # pages are (``checks.unrecovered_pages``: by what the session applied, its hint);
                # the journal tells only of one it does not list (its list full, the session gone).
                if entry.request_id not in self.listed_rejections() and not self.sent_again_after(entry):
                    left.append((entry, session))
            elif (
                not self.accepted_after(entry)
                and entry.status == 409
                and entry.code == "session_not_active"
                and newest_applied <= session.ordinal
                and closed.get(session.id, entry.arrival + 1) > entry.arrival
            ):
                left.append((entry, session))
        self._left_out = left
        return left

    def accepted_after(self, entry: JournalEntry) -> bool:
        """Whether a page of ``entry``'s session was accepted after ``entry`` was answered, as the
        client knew (its answer read)."""
        if self._last_accepted is None:
            self._last_accepted = last_arrival(
                self.client,
                lambda e: e.session_id if e.operation == "push_page" and e.status == 202 and not lost(e) else None,
            )
        return self._last_accepted.get(entry.session_id, 0) > entry.answer

    def listed_rejections(self) -> set[str]:
        """The requests of the rejected pages the sessions list."""
        if self._listed_rejections is None:
            self._listed_rejections = {page.request_id for s in self.sessions for page in s.rejected_pages}
        return self._listed_rejections

    def sent_again_after(self, entry: JournalEntry) -> bool:
        """Whether the page of ``entry`` was accepted in its session after ``entry`` was answered,
        as the client knew: a page sharing its keys (``page_keys``: its bytes, whatever its hint, or
        its hint). Any page when no hint names it (none sent, or the session's hints name no one
        page: a page serialized anew for its retry is told from the next one by nothing else), or
        when it was refused for its size (sent again split, under hints of its own)."""
        keys = self.page_keys(entry)
        if entry.code in SIZE_CODES or not any(key[0] == "hint" for key in keys):
            return self.accepted_after(entry)
        if self._accepted_keys is None:
            latest: dict[Any, int] = {}
            for accepted in self.client:
                if accepted.operation == "push_page" and accepted.status == 202 and not lost(accepted):
                    for key in self.page_keys(accepted):
                        at = (accepted.session_id, key)
                        latest[at] = max(latest.get(at, 0), accepted.arrival)
            self._accepted_keys = latest
        return any(self._accepted_keys.get((entry.session_id, key), 0) > entry.answer for key in keys)

    def page_hint(self, session_id: str, ordinal: int) -> int | str | None:
        """The ``page_hint`` the client sent with a session's page, by the page's ordinal (None:
        none sent, or the page is not kept). Accepted pages are in ordinal order: a bisection."""
        session = self.tenant.sessions.get(session_id)
        if session is None:
            return None
        accepted = session.accepted_pages
        at = bisect.bisect_left(accepted, ordinal, key=_ordinal)
        if at < len(accepted) and (page := accepted[at]).ordinal == ordinal:
            return page.page_hint
        return next((page.page_hint for page in session.rejected_pages if page.ordinal == ordinal), None)

    def reading_fields(self) -> Steps[None]:
        """Read the fields of every accepted page not read yet (a staged page: a page built for an
        apply was read then), ``FIELDS_READ_A_STEP`` bytes a step, and keep them on the page
        (``Page.unknown_fields``): the next report reads only the pages staged since. What a page
        holds never changes, nor do the known fields while a server runs; a page whose bytes are
        dropped meanwhile (its session discarded) stays unread, as it would have."""
        read = 0
        for session in self.sessions:
            if isinstance(session.accepted_pages, PageRows):  # finished: its pages' bytes are gone
                continue
            for page in session.accepted_pages:
                payload = page.payload
                if page.unknown_fields is not None or payload is None:
                    continue
                entities = orjson.loads(payload).get("entities")
                if len(payload) <= SLICED_PAGE_BYTES or not isinstance(entities, dict):
                    found = unknown_fields(entities, self.known_field_sets)
                else:  # one large page (18 MB of 100 records held the loop 530-665 ms): a slice a step
                    found = {}
                    yield
                    for each in _record_slices(entities, len(payload)):
                        merge_unknown_fields(found, unknown_fields(each, self.known_field_sets))
                        yield
                page.unknown_fields = fields_found(found)
                read += len(payload)
                if read >= FIELDS_READ_A_STEP:
                    read = 0
                    yield

    def pushes(self) -> list[JournalEntry]:
        return [e for e in self.client if e.operation == "push_page"]

    def of_operation(self, operation: str) -> list[JournalEntry]:
        """The client's own requests of ``operation``: not a GET its HTTP library sent again by itself
        (module docstring), which counts towards no finding."""
        return [e for e in self.client if e.operation == operation]

    def every(self, operation: str) -> list[JournalEntry]:
        """Every request of ``operation``, in arrival order, a GET the HTTP library sent again by
        itself too: what its answer showed reached the client as surely as the answer to one of its
        own. A check that asks what the client learnt (a session's outcome, its expiry) reads these;
        the rule that excuses a library's retry must not hide the read that answered."""
        return [e for e in self.arrivals if e.operation == operation]

    def received(self, request_id: str, status: int) -> bool:
        """Whether the client read this request's answer, and it was ``status``."""
        entry = self.by_request.get(request_id)
        return entry is not None and entry.status == status and not lost(entry)

    def hung_up(self, request_id: str) -> bool:
        """Whether the client hung up on this request before its answer was sent (499): what the
        request did after that (a held page staged late) is the emulator's, not the client's."""
        entry = self.by_request.get(request_id)
        return entry is not None and entry.code == "client_disconnected"

    def close_tried(self) -> set[str]:
        """Sessions the client tried to close with a close the emulator could take as one: answered
        (2xx; a 409 when it had already left ``active``), failed as a retry recovers from (the retry
        checks and ``gave_up`` judge what followed), or refused for its status
        (``close_without_status`` says so). A close refused for its form closed nothing, and no
        other finding says so: a 415 for a body sent without JSON's Content-Type (Ruby's Net::HTTP
        and curl -d send a form's), a 401, a body that is not JSON. Its session was left as surely
        as one no close was sent for (a Ruby client whose sync applied nothing got a clean report)."""
        return {
            e.session_id
            for e in self.client
            if e.operation == "close_session"
            and e.session_id is not None
            and (e.status < 400 or e.status == 409 or failed_recoverably(e) or e.code == "invalid_close_status")
        }


def _ordinal(page: Page) -> int:
    return page.ordinal


def rejected_by_rule(entry: JournalEntry) -> bool:
    """A push a scenario rule answered 400 with a rejection's code, as if the page were invalid."""
    return entry.rule is not None and entry.status == 400 and entry.code in REJECTED_CODES


def lost(entry: JournalEntry) -> bool:
    """An answer the client never read: the connection was broken or the body cut short (a
    scenario's transport fault), or the client hung up before it was sent (a timeout while a rule
    held the request: 499 ``client_disconnected``)."""
    return entry.code is not None and (entry.code.startswith("transport_") or entry.code == "client_disconnected")


def given_up_on(entry: JournalEntry) -> int:
    """The point in the one order of arrivals and answers after which the client could follow a
    failed request up: its answer, or, for a request it hung up on, its arrival (it stopped waiting
    at some moment before the late answer the journal has)."""
    return entry.arrival if entry.code == "client_disconnected" else entry.answer


def transport_broken(entry: JournalEntry) -> bool:
    """A scenario's transport fault broke this request's answer (a reset, a cut body)."""
    return entry.code is not None and entry.code.startswith("transport_")


def failed_recoverably(entry: JournalEntry) -> bool:
    """A failure a retry with backoff recovers from: throttling, a server error, a lost answer."""
    return entry.status in RETRYABLE_STATUSES or lost(entry)


def _record_slices(entities: dict[str, Any], size: int) -> Iterable[dict[str, Any]]:
    """A page's entities a slice of records at a time, each about ``SLICED_PAGE_BYTES`` of its
    ``size`` bytes (records taken as equal in size): one type's slice each."""
    count = record_count(entities) or 1
    per_slice = max(1, count * SLICED_PAGE_BYTES // size)
    for entity_type, records in entities.items():
        if not isinstance(records, list):
            continue
        for start in range(0, len(records), per_slice):
            yield {entity_type: records[start : start + per_slice]}


def arrived(entry: JournalEntry) -> float:
    return entry.arrived_at if entry.arrived_at is not None else entry.at


def in_flight(answered: JournalEntry, entry: JournalEntry) -> bool:
    """Whether ``entry``, arriving after ``answered``'s answer, may have been sent before the client
    read it: it came on another of the client's connections within ``IN_FLIGHT_SECONDS`` of the
    answer, plus how long the emulator's loop had been running without waiting for input when it
    let ``entry`` in (``JournalEntry.loop_busy_before``: the request may have waited that long to
    be read). On a busy machine the sixth of six pages pushed at once was journaled 78 ms after the
    first one's 429, the loop on the five before it, and a careful client failed the exam one run
    in three. A slow upload, a scenario's delay or a control read made a step at a time holds no
    turn of the loop long: a client ignoring a Retry-After beside one is still judged. Callers ask
    it of requests that are not a retry of ``answered`` (a retry waits for its answer)."""
    if entry.connection is None or answered.connection is None or entry.connection == answered.connection:
        return False
    held = min(entry.loop_busy_before or 0.0, LOOP_HELD_COUNTED_SECONDS)
    return arrived(entry) - answered.at < IN_FLIGHT_SECONDS + held


def _automatic_retries(arrivals: list[JournalEntry]) -> set[str]:
    """GETs a client library re-sent by itself after an injected transport fault (module docstring)."""
    pending: dict[str, list[JournalEntry]] = defaultdict(list)
    automatic: set[str] = set()
    for entry in arrivals:
        if entry.method != "GET":
            continue
        at = arrived(entry)
        faults = pending[entry.path] = [f for f in pending[entry.path] if at - f.at <= AUTO_RETRY_SECONDS]
        for fault in faults:
            if fault.answer < entry.arrival and at >= fault.at:
                automatic.add(entry.request_id)
                faults.remove(fault)  # one fault excuses one retry
                break
        if lost(entry):
            faults.append(entry)
    return automatic


def when(at: float | None) -> str | None:
    return None if at is None else format_time(at)


def evidence(entry: JournalEntry, **more: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"request_id": entry.request_id, "at": when(entry.arrived_at or entry.at)}
    if entry.session_id is not None:
        item["session_id"] = entry.session_id
    if entry.page is not None:
        item["page"] = entry.page
    item.update(more)
    return item


def last_arrival(entries: Iterable[JournalEntry], key: Any) -> dict[Any, int]:
    """The latest arrival of the entries ``key`` gives a key (not None), by key: "did one come after?"
    is then one look-up, not a scan."""
    latest: dict[Any, int] = {}
    for entry in entries:
        k = key(entry)
        if k is not None and entry.arrival > latest.get(k, 0):
            latest[k] = entry.arrival
    return latest
