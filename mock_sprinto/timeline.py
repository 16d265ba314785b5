"""Time-driven progress of a tenant's sessions: inactivity expiry, processing attempts, purges.

Nothing here runs in the background. Each tenant keeps its future events in a heap, and
``settle`` replays the ones that are due, in time order, whenever the tenant is touched: work per
request is independent of how many sessions or pages are held, and moving the clock forward is all
a test needs to do.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import budget
from .budget import RECORD_OVERHEAD_BYTES
from .clock import format_time
from .errors import counted
from .faults.vocabulary import Lifecycle
from .lifecycle import Event, State, next_state
from .store import Dataset, FlatRows, Session, Tenant, UnwritableRecord, fields_found
from .validation import SchemaRegistry, merge_unknown_fields, unknown_fields

log = logging.getLogger("mock_sprinto")

# An apply of more staged records than this is built ahead, in slices of as many records (~10 ms of
# the loop each: 2-5 µs a record), from the moment the session is closed (``prepare_apply``):
# 300,000 records applied at once when processing fell due held the loop ~0.3 s (issue 22's soak,
# its amplifiers); slices of 5,000 were the soak's longest steps after that (~24 ms).
APPLY_SLICE_RECORDS = 2_000
# ... and of no more decoded bytes than this: a slice of 2,000 records of 180 KB each, or of
# 4,000 unknown fields each, was one step of seconds (a page of 100 such records, 18 MB: 1.3 s).
# A slice reads a page's records this many bytes at a time (at the page's bytes a record), so a
# large page is parsed in a step of its own and its records put, and read for unknown fields, a
# few at a time; on the usual pages (31 KB of 100 records) the slice is ~800 records, ~4 ms.
APPLY_SLICE_BYTES = 262_144
# A finished session of more pages than this is made flat (``Session.finish``) a slice of as many
# pages at a time (~8 ms of the loop each).
FLATTEN_SLICE_PAGES = 2_000


def _on_a_loop() -> bool:
    """Whether this runs on an event loop (work can be left to it); a bundle read offline does not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# How far the tenant's time may run ahead of the loop's while an apply is built ahead and still
# count as time passing (processing waits for the last slices), not as a clock moved by a test
# (the rest is built at once, so the answer is there as soon as the clock says so).
CLOCK_JUMP_SECONDS = 1.0


def _still_being_built(work: object, now: float) -> bool:
    """Processing fell due while ``prepare_apply`` is still building its apply, only because time
    passed: it completes once the builder is done, a moment later, instead of building the rest in
    one step of the loop (under load that rest held the loop 104 ms of CPU in the soak, issue 21).
    After a jump of the clock (a test's ``advance``), the rest is built at once, as before."""
    if not isinstance(work, Applying) or work.building_since is None:
        return False
    began, loop_began = work.building_since
    try:
        passed = asyncio.get_running_loop().time() - loop_began
    except RuntimeError:
        return False
    return now - began <= passed + CLOCK_JUMP_SECONDS


@dataclass
class PageBeingPut:
    """The page an apply is putting into its datasets, parsed, and how far it got: a large page's
    records are put over several slices (``APPLY_SLICE_BYTES``)."""

    entities: dict[str, list[Any]]
    record_bytes: float  # the page's decoded bytes a record: what putting one costs, roughly
    types: list[str]
    # Its fields beyond the known ones (``validation.unknown_fields``), read a slice of records at a
    # time and merged: the first ``UNKNOWN_FIELDS_KEPT`` names of all its records are among the
    # first of the slice holding each, so the merge keeps what one read of the whole page would
    # (which sorted 400,000 names of one 18 MB page in one step: ~0.5-1.2 s).
    found: dict[str, list[str]]
    merging: bool = True  # False: read whole when parsed (a record that is not an object)
    type_at: int = 0
    record_at: int = 0


@dataclass
class Applying:
    """An apply's new datasets, built aside page by page (in slices ahead of time, or at once)."""

    upsert: bool
    touched: dict[str, Dataset] = field(default_factory=dict)
    bases: dict[str, Dataset | None] = field(default_factory=dict)  # what each was built over
    next_page: int = 0
    putting: PageBeingPut | None = None  # the page ``next_page`` once parsed, until its last record is put
    failure: str | None = None  # why it could not be built (``_built``): the processing attempt fails with it
    # While ``prepare_apply`` builds it: the tenant's time and the loop's when it began.
    building_since: tuple[float, float] | None = None

    def still_fits(self, tenant: Tenant) -> bool:
        """Built over what the tenant holds now (an upsert overlays the datasets it started from)."""
        if self.upsert != (tenant.settings.apply_mode == "upsert"):
            return False
        return not self.upsert or all(tenant.datasets.get(name) is base for name, base in self.bases.items())


def _built(
    build: Callable[[Tenant, Session, Applying, int | None], bool],
    tenant: Tenant,
    session: Session,
    work: Applying,
    records: int | None,
) -> str | None:
    """``build`` (``Timeline._build``) run; None when it went through, else why it failed. An
    apply that cannot be built is a failed processing attempt whose ``last_error`` says why (and is
    retried once, as any), never an exception out of the request that made processing due: a
    record nested 300 deep, accepted under a ``max_json_depth`` of 400 (now bounded), gave a 500
    and left its session processing for ever."""
    try:
        build(tenant, session, work, records)
    except UnwritableRecord as exc:
        return f"{exc}; nothing was applied"
    except Exception as exc:  # a bug: logged with its traceback, and the session still fails cleanly
        log.exception("building the apply of session %s failed", session.id)
        return f"building the apply failed ({type(exc).__name__}: {str(exc)[:200]}); nothing was applied"
    return None


def _expired_by(rules: Sequence[str]) -> str:
    """How the activity log says a scenario expired a session: a scenario may expire one a moment
    after a request, and "after 3600s without a request" would then be false."""
    if not rules:
        return "by a scenario rule (lifecycle expire_session)"
    named = ", ".join(repr(rule) for rule in rules)
    if len(rules) == 1:
        return f"by the scenario rule {named} (lifecycle expire_session)"
    return f"by one of the scenario rules {named} (lifecycle expire_session)"


class Timeline:
    """The moves of sessions that time (or a scenario's lifecycle action) makes."""

    def __init__(
        self, registry: SchemaRegistry, background: Callable[[Coroutine[Any, Any, None]], None] | None = None
    ) -> None:
        self.registry = registry
        self.known_fields = registry.known_fields
        self.background = background  # runs work on the loop, beside the requests (None: all at once)

    def settle(self, tenant: Tenant) -> None:
        """Replay, in time order, every expiry, processing attempt and purge now due."""
        now = tenant.now()
        while True:
            active = tenant.active_session
            expiry = active.last_request_at + active.inactivity_timeout if active else math.inf
            next_due = tenant.due[0].at if tenant.due else math.inf
            if min(expiry, next_due) > now:
                return
            if active is not None and expiry <= next_due:
                self.expire(tenant, active, expiry)
                continue
            due = heapq.heappop(tenant.due)
            session = tenant.sessions.get(due.session_id)
            if session is None:
                continue
            if due.kind == "attempt" and session.state is State.PROCESSING:
                if due.at < tenant.processing_hold_until:
                    tenant.schedule(tenant.processing_hold_until, "attempt", session.id)  # held by a scenario
                    continue
                if _still_being_built(session.applying, now):
                    heapq.heappush(tenant.due, due)  # this and what follows it wait for the last slices
                    return
                self._attempt_processing(tenant, session, due.at)
            elif due.kind == "purge" and session.state is State.EXPIRED and not session.data_purged:
                self._purge(tenant, session, due.at)

    def apply_lifecycle(
        self, tenant: Tenant, session_id: str | None, actions: Lifecycle, rules: Sequence[str] = ()
    ) -> None:
        """A scenario's lifecycle actions: expire now, fail processing, hold processing, purge.
        ``rules``: the names of the rules that fired on the request, which the activity log names."""
        now = tenant.now()
        session = tenant.sessions.get(session_id) if session_id else tenant.active_session
        if actions.expire_session:
            target = session if session is not None and session.state is State.ACTIVE else None
            if target is not None and target.id == tenant.active_session_id:
                target.expired_by_scenario = True
                self.expire(tenant, target, now, _expired_by(rules))
        tenant.processing_failures_pending += actions.fail_processing
        if actions.hold_processing_seconds is not None:
            tenant.processing_hold_until = max(tenant.processing_hold_until, now + actions.hold_processing_seconds)
        if actions.purge_expired:
            expired = [session] if session is not None else list(tenant.sessions.values())
            for each in expired:
                if each is not None and each.state is State.EXPIRED and not each.data_purged:
                    self._purge(tenant, each, now)

    def move(self, tenant: Tenant, session: Session, event: Event, at: float) -> None:
        new = next_state(session.state, event)
        tenant.quiet = False  # a session no longer active: closed, expired, processed or failed
        tenant.state_counts[session.state.value] -= 1
        tenant.state_counts[new.value] += 1
        session.state = new
        session.updated_at = at

    def expire(self, tenant: Tenant, session: Session, at: float, cause: str | None = None) -> None:
        """``cause``: what expired it, said in the activity log (None: the client's inactivity)."""
        self.move(tenant, session, Event.INACTIVITY, at)
        tenant.active_session_id = None
        session.expired_at = at
        session.data_retained_until = at + tenant.settings.expired_retention_seconds
        tenant.schedule(session.data_retained_until, "purge", session.id)
        why = cause or f"after {session.inactivity_timeout:g}s without a request"
        tenant.note(
            at,
            "warning",
            "session_expired",
            f"session expired {why}; its data can still be applied until it is purged",
            session.id,
            accepted_batches=len(session.accepted_pages),
        )

    def start_processing(self, tenant: Tenant, session: Session, at: float) -> None:
        """close(apply): the first attempt is due after the processing time (0: right now)."""
        session.processing_started_at = at
        tenant.schedule(at + tenant.settings.processing_seconds, "attempt", session.id)
        tenant.note(
            at,
            "info",
            "session_processing",
            "session closed with apply; processing",
            session.id,
            accepted_batches=len(session.accepted_pages),
        )
        self.settle(tenant)

    def retire(self, tenant: Tenant, session: Session, at: float) -> None:
        """A session is done with its data: free the bytes, and forget the oldest finished ones."""
        self._drop_staged(tenant, session, applied=session.state is State.PROCESSED)
        if session.finished_at is not None:
            return
        session.finished_at = at
        if len(session.accepted_pages) > FLATTEN_SLICE_PAGES and self.background is not None and _on_a_loop():
            self.background(self._finish_in_slices(tenant, session))
        else:
            session.finish()
        tenant.finished.append(session.id)
        while len(tenant.finished) > tenant.settings.max_sessions_kept:
            tenant.forget_session(tenant.finished.popleft())

    async def _finish_in_slices(self, tenant: Tenant, session: Session) -> None:
        """``Session.finish`` for a session of many pages, a slice at a time: 100,000 pages made
        flat at once held the loop ~0.2 s (issue 22). Until the last slice the pages stay as they
        were, which the judge and the dashboard read alike. Stops once the session is forgotten."""
        pages = session.accepted_pages
        flat = FlatRows()
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(pages), FLATTEN_SLICE_PAGES):
            rows.extend(flat.rows(pages[start : start + FLATTEN_SLICE_PAGES]))
            await asyncio.sleep(0)
            forgotten = tenant.forgotten or tenant.sessions.get(session.id) is not session
            if forgotten or session.accepted_pages is not pages:
                return
        session.finish(tuple(rows))

    def _purge(self, tenant: Tenant, session: Session, at: float) -> None:
        self._drop_staged(tenant, session, applied=False)
        session.data_purged = True
        tenant.note(at, "info", "expired_data_purged", "expired session data was purged", session.id)
        self.retire(tenant, session, at)

    def _attempt_processing(self, tenant: Tenant, session: Session, at: float) -> None:
        failure = None
        if tenant.processing_failures_pending > 0:
            tenant.processing_failures_pending -= 1
            failure = "applying the staged pages failed (injected by the scenario)"
        else:
            failure = self._apply(tenant, session, at)
        if failure is not None:
            session.last_error = f"processing failed at {format_time(at)}: {failure}"
            if session.retry_count == 0:
                session.retry_count = 1  # [doc] "retries once on Sprinto side"
                session.updated_at = at
                tenant.schedule(at + tenant.settings.processing_seconds, "attempt", session.id)
                tenant.note(at, "warning", "processing_retry", "processing failed; retrying once", session.id)
                return
            self.move(tenant, session, Event.PROCESSING_GAVE_UP, at)
            tenant.note(
                at,
                "error",
                "session_failed",
                "processing failed twice; nothing was applied",
                session.id,
                last_error=session.last_error,
            )
            self.retire(tenant, session, at)
            return
        self.move(tenant, session, Event.PROCESSING_SUCCEEDED, at)
        tenant.note(
            at,
            "info",
            "session_processed",
            f"applied {counted(session.accepted_records_total, 'record')} from "
            f"{counted(len(session.accepted_pages), 'page')}",
            session.id,
            accepted_records_by_entity=dict(session.accepted_records_by_entity),
        )
        self.retire(tenant, session, at)

    def _apply(self, tenant: Tenant, session: Session, at: float) -> str | None:
        """Apply accepted pages in acceptance order; later records win on the same key. The new
        datasets are built aside (what ``prepare_apply`` built ahead is taken up where it stands)
        and installed only when the memory budget has room for what they add beyond what the
        session gives back (its staged pages): else nothing is applied and the reason is returned
        (the attempt fails, and is retried once as any failed attempt)."""
        work = session.applying if isinstance(session.applying, Applying) else None
        if work is None or not work.still_fits(tenant):
            work = Applying(tenant.settings.apply_mode == "upsert")
        session.applying = None
        if work.failure is None:
            work.failure = _built(self._build, tenant, session, work, None)
        if work.failure is not None:
            return work.failure
        upsert, touched = work.upsert, work.touched
        replaced_bytes = sum(  # of the datasets these pages replace (or, upserting, before they grow)
            current.nbytes for name in touched if (current := tenant.datasets.get(name)) is not None
        )
        grows = sum(dataset.nbytes for dataset in touched.values()) - replaced_bytes
        freed = session.staged_bytes + session.staged_records * RECORD_OVERHEAD_BYTES
        if grows > freed and not tenant.budget.fits(grows - freed):
            return (
                f"applying would hold {grows - freed} bytes more than the session's staged pages, and the "
                f"emulator's memory budget has no room for them (setting memory_budget_bytes = "
                f"{tenant.budget.limit}); nothing was applied"
            )
        # first: the budget never counts the pages and their records at once
        self._drop_staged(tenant, session, applied=True)
        for entity_type, aside in touched.items():
            dataset = aside.merged()
            dataset.applied_at = at
            dataset.applied_by_session = session.id
            tenant.datasets[entity_type] = dataset
        tenant.applied_bytes += grows
        if not upsert:
            budget.freed(replaced_bytes)  # the datasets these pages replaced are gone
        return None

    def _build(self, tenant: Tenant, session: Session, work: Applying, records: int | None) -> bool:
        """Put the next pages' records into ``work``: about ``records`` of them and
        ``APPLY_SLICE_BYTES`` of their pages' decoded bytes (None: all that is left). A page of that
        many bytes or more is parsed in a slice of its own and its records put over the next ones.
        True once every accepted page is in."""
        pages = session.accepted_pages
        put = 0
        spent = 0.0  # of the pages' decoded bytes (a large page's: at its bytes a record put)
        while work.next_page < len(pages):
            page = pages[work.next_page]
            if work.putting is not None:  # a large page, parsed in an earlier slice
                put, spent = self._put_some(tenant, work, work.putting, records, put, spent)
                if work.putting.type_at >= len(work.putting.types):  # its last record is in
                    page.unknown_fields = fields_found(work.putting.found)  # for the judge
                    work.putting = None
                    work.next_page += 1
            else:
                payload = page.payload
                assert payload is not None  # accepted pages keep their bytes until retired
                if records is not None and len(payload) >= APPLY_SLICE_BYTES:
                    if put or spent:
                        break  # its parse is a slice of its own (18 MB: ~60-150 ms, one C call)
                    work.putting = self._parsed(payload)
                    break
                # The usual page, whole in one go: a page's split costs ~5 µs, too much on 30,000
                # pages of one record each (190 → 330 ms of an apply built at once).
                entities: dict[str, list[Any]] = orjson.loads(payload)["entities"]
                page.unknown_fields = fields_found(unknown_fields(entities, self.known_fields))  # for the judge
                for entity_type, page_records in entities.items():
                    dataset = self._dataset(tenant, work, entity_type)
                    for record in page_records:
                        dataset.put(record)
                    put += len(page_records)
                spent += len(payload)
                work.next_page += 1
            if records is not None and (put >= records or spent >= APPLY_SLICE_BYTES):
                break
        return work.next_page >= len(pages)

    def _put_some(
        self, tenant: Tenant, work: Applying, putting: PageBeingPut, records: int | None, put: int, spent: float
    ) -> tuple[int, float]:
        """Put a large page's next records into ``work`` (the slice's ``put`` records and ``spent``
        bytes so far, updated): until the slice is full (``records``; None: all that are left)."""
        while putting.type_at < len(putting.types):
            entity_type = putting.types[putting.type_at]
            page_records = putting.entities[entity_type]
            dataset = self._dataset(tenant, work, entity_type)
            end = len(page_records)
            if records is not None:
                room = min(records - put, (APPLY_SLICE_BYTES - spent) / putting.record_bytes)
                end = min(end, putting.record_at + max(1, int(room)))
            some = page_records[putting.record_at : end]
            if putting.merging and some:
                merge_unknown_fields(putting.found, unknown_fields({entity_type: some}, self.known_fields))
            for record in some:
                dataset.put(record)
            put += len(some)
            spent += len(some) * putting.record_bytes
            putting.record_at = end
            if end >= len(page_records):
                putting.type_at += 1
                putting.record_at = 0
            if records is not None and (put >= records or spent >= APPLY_SLICE_BYTES):
                break
        return put, spent

    def _parsed(self, payload: bytes) -> PageBeingPut:
        entities: dict[str, Any] = orjson.loads(payload)["entities"]
        listed = {name: value if type(value) is list else list(value) for name, value in entities.items()}
        count = sum(len(value) for value in listed.values())
        putting = PageBeingPut(listed, len(payload) / max(count, 1), list(listed), {})
        plain = all(type(value) is list for value in entities.values()) and all(
            type(record) is dict for value in listed.values() for record in value
        )
        if not plain:  # a schema that admits records other than objects: read whole, as always
            putting.found = unknown_fields(entities, self.known_fields)
            putting.merging = False
        return putting

    def _dataset(self, tenant: Tenant, work: Applying, entity_type: str) -> Dataset:
        """The dataset ``work`` builds for ``entity_type``, begun when the type is first met."""
        dataset = work.touched.get(entity_type)
        if dataset is None:
            current = tenant.datasets.get(entity_type)
            work.bases[entity_type] = current
            if work.upsert and current is not None:
                dataset = Dataset.over(current)
            else:
                dataset = Dataset(entity_type, self.registry.key_field(entity_type))
            work.touched[entity_type] = dataset
        return dataset

    @staticmethod
    def worth_preparing(session: Session) -> bool:
        """More staged records or bytes than one slice: smaller applies are built at once when due
        (a few ms; before, 100 records of 180 KB each, 18 MB, were built at once too)."""
        return session.staged_records > APPLY_SLICE_RECORDS or session.staged_bytes > APPLY_SLICE_BYTES

    def applies_in_the_close(self, tenant: Tenant, session: Session) -> bool:
        """A close(apply) of ``session`` would apply it in its own step, and it is large: its
        processing falls due at once (``processing_seconds`` 0), and the close built a large apply
        whole there (2,000 pages of 100 records held the loop ~0.7 s, and every other client
        waited). Such a close marks the apply as being built (``begin_building``) before it closes,
        so its settle waits for the slices, then builds them and answers "processed" as before.
        (Building after the answer instead made a test's "closed, so processed" depend on the
        slices' speed: a flaky test.)"""
        due_at_once = tenant.settings.processing_seconds <= 0 and tenant.processing_hold_until <= tenant.now()
        return due_at_once and self.worth_preparing(session)

    def begin_building(self, tenant: Tenant, session: Session) -> Applying:
        """The apply ``prepare_apply`` builds, marked as being built from now: processing that
        falls due as time passes waits for it (``_still_being_built``)."""
        work = Applying(tenant.settings.apply_mode == "upsert")
        work.building_since = (tenant.now(), asyncio.get_running_loop().time())
        session.applying = work
        return work

    async def prepare_apply(self, tenant: Tenant, session: Session, work: Applying | None = None) -> None:
        """Build a large apply aside in slices, yielding to the loop between them, while the session
        waits for processing: when it falls due, only what is left is built (all of it when the clock
        was moved at once), so the answer is the same either way. Stops when the tenant is deleted or
        reset away (what it built would only keep memory the reset gave back), or the session lets
        go of its pages (discarded, purged, applied: ``session.applying`` is then no longer it).
        ``work``: one ``begin_building`` marked already (a close that applies at once)."""
        if work is None:
            work = self.begin_building(tenant, session)
        try:
            while session.applying is work and not tenant.forgotten and work.still_fits(tenant):
                work.failure = _built(self._build, tenant, session, work, APPLY_SLICE_RECORDS)
                if work.failure is not None or work.next_page >= len(session.accepted_pages):
                    return  # built, or failed: the attempt says so when it falls due
                await asyncio.sleep(0)
            if session.applying is work:
                session.applying = None  # the datasets moved under it: the apply builds afresh
        finally:
            work.building_since = None  # done, stopped or cancelled: processing waits for it no more

    def _drop_staged(self, tenant: Tenant, session: Session, *, applied: bool) -> None:
        session.applying = None  # what was built ahead of an apply goes with the pages
        # A session not applied (discarded, purged, failed) keeps no fields a page was read for:
        # the judge read them only if a report was asked while the page was staged, and its verdict
        # must not depend on whether anyone looked (a page built for the apply always was read).
        for page in session.accepted_pages:
            page.payload = None
            if not applied:
                page.unknown_fields = None
        dropped = session.staged_bytes
        tenant.staged_bytes -= dropped
        session.staged_bytes = 0
        tenant.keep(-session.staged_records * RECORD_OVERHEAD_BYTES)
        session.staged_records = 0
        budget.freed(dropped)
        budget.trim_if_due()
