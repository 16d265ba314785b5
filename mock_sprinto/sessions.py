"""The vendor operations on one tenant's sessions, once a request is let in: start, address,
push (validate, stage or reject), close, and the integration's status and activity views.

The door (``service.Emulator``) decides *whether* and *when* an operation runs (version, key,
rate limit, the scenario); these rules decide what it does.
"""

from __future__ import annotations

import bisect
import itertools
import time
from dataclasses import dataclass
from typing import Any

from .budget import CONTROL_REMEDY, RECORD_OVERHEAD_BYTES, SESSION_BYTES, approx_bytes
from .clock import format_time, parse_time
from .codes import (
    EXPIRED_DATA_PURGED,
    INVALID_CLOSE_STATUS,
    INVALID_PARAMETER,
    SESSION_ALREADY_ACTIVE,
    SESSION_NOT_ACTIVE,
    SESSION_NOT_CLOSABLE,
    SESSION_NOT_FOUND,
    STAGING_LIMIT_REACHED,
    ErrorCode,
)
from .errors import ApiError, counted, int_param
from .lifecycle import Event, State
from .payload import check_depth, parse_json
from .settings import Settings
from .store import Page, Session, Tenant, accepted_details_bytes, rejected_record_keys
from .timeline import Timeline
from .validation import PageVerdict, SchemaRegistry, check_page, refused_unparsed

MAX_REFERENCE_CHARS = 256
ANOMALY_ERRORS_SHOWN = 10
KEPT_ERRORS_BYTES = 16_384  # of a rejected page's errors, in its record (the 400 answer lists them all)
REFUSAL_NOTE_BYTES = 1_024  # about what the activity item of a refused page holds (its errors aside)


@dataclass(slots=True)
class Wire:
    """How a page arrived: sizes before and after decoding, encoding, and the request's id."""

    request_id: str
    wire_bytes: int
    decoded_bytes: int
    encoding: str
    started: float  # perf_counter() when the request arrived, for the page's duration
    digest: str | None = None  # of the decoded body, once read (the judge's "same page")
    page: int | None = None  # the ordinal the page got in its session, once recorded
    page_hint: int | str | None = None  # the page's page_hint, once read (the judge's "same page" too)


class Sessions:
    """The operations of the vendor API on a tenant's sessions."""

    def __init__(self, registry: SchemaRegistry, timeline: Timeline) -> None:
        self.registry = registry
        self.timeline = timeline
        # Entity types whose records parsing need not walk: flat by schema, or only when strict
        # (a record may carry nested fields beyond its known ones unless unknown_fields rejects them).
        self.flat_types = registry.flat_types
        self.strict_flat_types = registry.strict_flat_types

    def start_session(self, tenant: Tenant, body: Any) -> Session:
        reference = _client_reference(body)
        active = tenant.active_session
        if active is not None:
            raise ApiError.of(
                SESSION_ALREADY_ACTIVE,
                f"integration {tenant.id!r} already has an active session; close it or let it expire",
                active_session_id=active.id,
            )
        if not tenant.budget.fits_bookkeeping(SESSION_BYTES):
            raise tenant.budget.exceeded(SESSION_BYTES, "retry later; " + CONTROL_REMEDY)
        now = tenant.now()
        tenant.session_count += 1
        session_id = tenant.ids.make("ses")
        while session_id in tenant.sessions:  # a re-installed seeded scenario replays its ids
            session_id = tenant.ids.make("ses")
        session = Session(
            id=session_id,
            integration_id=tenant.id,
            ordinal=tenant.session_count,
            client_reference_id=reference,
            inactivity_timeout=tenant.settings.inactivity_timeout_seconds,
            created_at=now,
            updated_at=now,
            last_request_at=now,
        )
        session.kept += len(reference or "")
        tenant.add_session(session)
        tenant.active_session_id = session.id
        tenant.state_counts[State.ACTIVE.value] += 1
        tenant.note(now, "info", "session_created", "session started", session.id, client_reference_id=reference)
        return session

    def addressed_session(self, tenant: Tenant, session_id: str) -> Session:
        """The session a request names; any request that addresses it resets its inactivity."""
        session = tenant.sessions.get(session_id)
        if session is None:
            raise ApiError.of(SESSION_NOT_FOUND, f"integration {tenant.id!r} has no session {session_id[:140]!r}")
        if session.state is State.ACTIVE:
            session.last_request_at = tenant.now()
        return session

    def push_target(self, tenant: Tenant, session_id: str) -> Session:
        """Checks that come before the body is read: the session exists and is active."""
        session = self.addressed_session(tenant, session_id)
        if session.state is not State.ACTIVE:
            raise ApiError.of(
                SESSION_NOT_ACTIVE,
                f"session is {session.state.value}; pages can only be pushed to an active session",
                state=session.state.value,
            )
        return session

    def reject_push(self, tenant: Tenant, session_id: str, wire: Wire, error: ApiError) -> None:
        """Record a push refused before validation (size, encoding, body) on the session."""
        session = tenant.sessions.get(session_id)
        if session is not None and session.state is State.ACTIVE:
            self._record_rejection(tenant, session, wire, error)

    def reject_by_rule(
        self,
        tenant: Tenant,
        session_id: str,
        wire: Wire,
        error: ApiError,
        raw: bytes,
        learned: PageVerdict,
        rule: str,
    ) -> None:
        """Record a push a scenario rule (or a Prefer header) answered 400 before it ran, as if a
        record of it were invalid, on its session: the client was told its page was rejected, and
        Sprinto's session would count the rejection it answered (``rejected_batches``, an anomaly).
        ``learned``: its records and page_hint, as its answer gave them. Its records' keys are read
        as a rejected page's, so the judge tells it sent again (under any hint, split, serialized
        anew) from left out by what its session applied."""
        session = tenant.sessions.get(session_id)
        if session is not None and session.state is State.ACTIVE:
            keys = rejected_record_keys(raw, self.registry.key_field)
            self._record_rejection(tenant, session, wire, error, learned, keys, rule)

    def push_page(
        self, tenant: Tenant, session_id: str, raw: bytes, wire: Wire, judged: PageVerdict | ApiError | None = None
    ) -> dict[str, Any]:
        """Stage a valid page on the session; any page refused is recorded there, then raised.
        ``judged``: the page's verdict (or the refusal) when ``judge`` already ran, off the loop."""
        session = self.push_target(tenant, session_id)  # again: the body took time to arrive
        try:
            _make_room(tenant, len(raw))
            if judged is None:
                judged = self.judge(tenant.settings, raw)
            if isinstance(judged, ApiError):
                raise judged
            verdict = judged
        except ApiError as error:  # refused before a verdict: staging bound, memory budget, body
            self._record_rejection(tenant, session, wire, error)
            raise
        if verdict.code is not None:
            raise self._refuse_invalid(tenant, session, wire, verdict, verdict.code, raw)
        try:  # room for the page and for what applying its records will hold (issue 22)
            tenant.budget.check(len(raw) + verdict.total * RECORD_OVERHEAD_BYTES)
        except ApiError as error:
            self._record_rejection(tenant, session, wire, error)
            raise
        return self._stage(tenant, session, raw, wire, verdict)

    def judge_apart(self, settings: Settings, raw: bytes) -> PageVerdict | ApiError:
        """``judge`` for a worker thread: the refusal it raises is returned, to raise on the loop."""
        try:
            return self.judge(settings, raw)
        except ApiError as error:
            return error

    def judge(self, settings: Settings, raw: bytes) -> PageVerdict:
        """The page's verdict under ``settings``; raises when the body is not acceptable JSON (too
        deep a body only shows once its verdict is a rejection). A text that could hold many values
        has its records counted first: past ``max_page_items``, it is refused unparsed (issue 22)."""
        strict_fields = settings.unknown_fields == "reject"
        max_types = settings.max_page_entity_types
        if (refused := refused_unparsed(raw, settings.max_page_items, max_types)) is not None:
            return refused
        body = parse_json(
            raw,
            settings.max_json_depth,
            reject_repeated_names=settings.duplicate_names == "reject",
            flat_types=self.strict_flat_types if strict_fields else self.flat_types,
        )
        verdict = check_page(
            body,
            self.registry,
            max_items=settings.max_page_items,
            max_errors=settings.max_validation_errors,
            reject_unknown_types=settings.unknown_entity_types == "reject",
            reject_unknown_fields=strict_fields,
            reject_empty=settings.empty_pages == "reject",
            max_types=max_types,
        )
        if verdict.code is not None:
            check_depth(body, settings.max_json_depth)  # records of flat types were not walked
        return verdict

    def _refuse_invalid(
        self, tenant: Tenant, session: Session, wire: Wire, verdict: PageVerdict, code: ErrorCode, raw: bytes
    ) -> ApiError:
        """The 400 for a page that failed validation, recorded on the session: none of it is staged."""
        response = batch_response(
            session.id, 0, {}, verdict.total, verdict.errors, verdict.errors_truncated, verdict.page_hint
        )
        rejection = ApiError.of(code, verdict.detail, **response)
        self._record_rejection(
            tenant, session, wire, rejection, verdict, rejected_record_keys(raw, self.registry.key_field)
        )
        return rejection

    def _stage(self, tenant: Tenant, session: Session, raw: bytes, wire: Wire, verdict: PageVerdict) -> dict[str, Any]:
        """Stage an accepted page on its session; the answer counts its records by entity type."""
        now = tenant.now()
        page = _new_page(session, wire, now, verdict)
        page.payload = raw
        tenant.add_page(session, page)
        session.accepted_records_total += verdict.total
        by_entity = session.accepted_records_by_entity
        for entity_type, count in verdict.counts.items():  # cheaper than Counter.update's generic path
            by_entity[entity_type] += count
        session.staged_bytes += len(raw)
        session.staged_records += verdict.total
        session.updated_at = now
        tenant.staged_bytes += len(raw)
        tenant.keep(verdict.total * RECORD_OVERHEAD_BYTES)
        tenant.note_sized(
            now,
            "info",
            "page_accepted",
            f"page {page.ordinal} accepted: {counted(verdict.total, 'record')}",
            session.id,
            {"page": page.ordinal, "counts_by_entity": verdict.counts, "request_id": wire.request_id},
            accepted_details_bytes(page.ordinal, verdict.counts, wire.request_id),
        )
        response = batch_response(session.id, verdict.total, verdict.counts, 0, [], False, verdict.page_hint)
        response["page"] = page.ordinal
        return response

    def _record_rejection(
        self,
        tenant: Tenant,
        session: Session,
        wire: Wire,
        error: ApiError,
        verdict: PageVerdict | None = None,
        record_keys: tuple[tuple[str, str], ...] | None = None,
        rule: str | None = None,
    ) -> None:
        """A refused page, listed with the session's pages. ``verdict`` is what validation learned
        of it; None when the page was refused before it was read (nothing of its records is known).
        ``rule``: the scenario rules that refused it, where no validation did."""
        learned = verdict if verdict is not None else PageVerdict({}, {}, 0, None)
        now = tenant.now()
        page = _new_page(session, wire, now, learned)
        page.accepted = False
        page.code = error.code
        page.detail = error.detail
        page.errors, cut = _kept_errors(learned.errors, tenant)
        page.errors_truncated = learned.errors_truncated or cut
        page.record_keys = record_keys
        page.rule = rule
        # [doc] an invalid page (400) is an anomaly. A body refused before it was read as a page
        # (413 too large, 415 media type or coding, 507 staging bound) is a transport refusal:
        # a warning, listed with the session's pages but not counted as a rejected batch.
        anomaly = error.status == 400
        tenant.quiet = False  # its answer (an error) says so too; the page is kept before it is journaled
        if anomaly:
            session.rejected_batches += 1
        if not tenant.budget.fits_bookkeeping(page.count_kept() + REFUSAL_NOTE_BYTES):
            return  # the memory budget is full: the journal alone records this refusal
        tenant.add_page(session, page)
        tenant.note(
            now,
            "error" if anomaly else "warning",
            "page_rejected" if anomaly else "page_refused",
            f"page {page.ordinal} {'rejected' if anomaly else 'refused'} ({error.code}): {error.detail}",
            session.id,
            page=page.ordinal,
            code=error.code,
            status=error.status,
            request_id=wire.request_id,
            rejected_count=learned.total,
            errors=page.errors[:ANOMALY_ERRORS_SHOWN],
            **({} if rule is None else {"rule": rule}),
        )

    def applied_by_close(self, tenant: Tenant, session_id: str, body: Any) -> Session | None:
        """The session a close with ``body`` would apply (None: one it would refuse, or a discard)."""
        session = tenant.sessions.get(session_id)
        if session is None or session.state not in (State.ACTIVE, State.EXPIRED) or session.data_purged:
            return None
        try:
            status = _close_status(body, tenant.settings.lenient_close)
        except ApiError:
            return None
        return session if status == "apply" else None

    def close_session(self, tenant: Tenant, session_id: str, body: Any) -> Session:
        session = self.addressed_session(tenant, session_id)
        status = _close_status(body, tenant.settings.lenient_close)
        now = tenant.now()
        event = Event.APPLY if status == "apply" else Event.DISCARD
        if session.state not in (State.ACTIVE, State.EXPIRED):
            raise ApiError.of(
                SESSION_NOT_CLOSABLE,
                f"session is {session.state.value}; only active or expired sessions can be closed",
                state=session.state.value,
            )
        if session.state is State.EXPIRED and event is Event.APPLY and session.data_purged:
            raise ApiError.of(
                EXPIRED_DATA_PURGED,
                "this expired session's data was purged after "
                f"{tenant.settings.expired_retention_seconds:g}s; start a new session and push again",
                state=session.state.value,
            )
        if session.state is State.ACTIVE:
            tenant.active_session_id = None
        self.timeline.move(tenant, session, event, now)
        session.closed_at = now
        session.close_status = status
        if event is Event.APPLY:
            self.timeline.start_processing(tenant, session, now)  # a processing time of 0 finishes here
        else:
            tenant.note(now, "info", "session_cancelled", "session discarded; nothing will be applied", session.id)
            self.timeline.retire(tenant, session, now)
        return session

    def status_counts(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "integration_id": tenant.id,
            "sessions": {state.value: tenant.state_counts[state.value] for state in State},
            # [doc] a date-time, never null: before any activity, when the integration was first seen
            "last_activity_at": format_time(
                tenant.created_at if tenant.last_activity_at is None else tenant.last_activity_at
            ),
        }

    def activity_page(
        self, tenant: Tenant, since: str | None, page: str | None, page_size: str | None
    ) -> dict[str, Any]:
        """Activity oldest first, optionally from ``since`` on, in pages."""
        page_no = int_param("page", page, 1, 1, 1_000_000)
        size = int_param("page_size", page_size, 50, 1, 200)
        since_ts: float | None = None
        if since is not None:
            try:
                since_ts = parse_time(since)
            except ValueError as exc:
                raise ApiError.of(
                    INVALID_PARAMETER,
                    f"'since' must be an RFC 3339 time such as 2026-01-01T00:00:00Z ({exc})",
                    parameter="since",
                ) from None
        log = tenant.activity
        # The log is in time order, so 'since' is a binary search, not a copy of the whole log.
        first = 0 if since_ts is None else bisect.bisect_left(log, since_ts, key=lambda item: item.at)
        total = len(log) - first
        start = first + (page_no - 1) * size
        window = itertools.islice(log, start, start + size)
        return {
            "items": [item.public() for item in window],
            "page": page_no,
            "page_size": size,
            "next_page": page_no + 1 if (page_no - 1) * size + size < total else None,
            "total": total,
        }


def page_number(session: Session, digest: str | None) -> int:
    """The number a page pushed now has in its session, for a scenario rule's ``match.page``: one
    more than the pages the session has staged, so a page refused (by validation, or answered for
    by a rule before it ran) is numbered again when it is sent again; a page identical to the last
    one staged (the same digest: its answer was lost) is that page sent again, and keeps its number,
    and the page after it is the next number, as if it had been staged once. The journal and the
    session's views number pages in arrival order instead (``_new_page``)."""
    staged = session.accepted_pages
    numbered = len(staged) - session.pages_sent_again
    if digest is not None and staged and staged[-1].digest == digest:
        return numbered
    return numbered + 1


def _new_page(session: Session, wire: Wire, now: float, verdict: PageVerdict) -> Page:
    """The next page of a session, numbered in arrival order whether accepted or not."""
    session.pages_received += 1
    wire.page = session.pages_received
    wire.page_hint = verdict.page_hint
    return Page(
        ordinal=session.pages_received,
        request_id=wire.request_id,
        received_at=now,
        accepted=True,
        record_count=verdict.total,
        counts=verdict.counts,
        wire_bytes=wire.wire_bytes,
        decoded_bytes=wire.decoded_bytes,
        encoding=wire.encoding,
        page_hint=verdict.page_hint,
        duration_ms=(time.perf_counter() - wire.started) * 1000,
        digest=wire.digest,
    )


def _kept_errors(errors: list[dict[str, Any]], tenant: Tenant) -> tuple[list[dict[str, Any]], bool]:
    """The errors a rejected page's record keeps (the answer listed them all): the first ones, up to
    ``KEPT_ERRORS_BYTES``, and none when the memory budget has no room left for them. True when
    some were left out."""
    kept: list[dict[str, Any]] = []
    size = 0
    for error in errors:
        size += approx_bytes(error)
        if size > KEPT_ERRORS_BYTES:
            break
        kept.append(error)
    if kept and not tenant.budget.fits_bookkeeping(size):
        kept = []
    return kept, len(kept) < len(errors)


def _make_room(tenant: Tenant, size: int) -> None:
    """Refuse a page that the integration's staging bound (setting ``max_staged_bytes``) or the
    process-wide memory budget (``memory_budget_bytes``) has no room for."""
    limit = tenant.settings.max_staged_bytes
    if limit is not None and tenant.staged_bytes + size > limit:
        raise ApiError.of(
            STAGING_LIMIT_REACHED,
            f"integration {tenant.id!r} already stages {tenant.staged_bytes} bytes "
            f"(setting max_staged_bytes = {limit}); close a session first",
        )
    tenant.budget.check(size)


def _client_reference(body: Any) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        raise ApiError.of(
            INVALID_PARAMETER, 'the body must be a JSON object such as {"client_reference_id": "nightly-2026-01-01"}'
        )
    reference = body.get("client_reference_id")
    if reference is not None and (not isinstance(reference, str) or len(reference) > MAX_REFERENCE_CHARS):
        raise ApiError.of(
            INVALID_PARAMETER,
            f"'client_reference_id' must be a string of at most {MAX_REFERENCE_CHARS} characters",
            parameter="client_reference_id",
        )
    return reference


CLOSE_FIX = 'send {"status": "apply"} to apply the staged pages, or {"status": "discard"}'


def _close_status(body: Any, lenient: bool) -> str:
    """[doc] ``status`` is required. Leniency (setting ``lenient_close``) reads a missing status as
    the documented default, apply, and ``action`` as an alias, as some clients send."""
    if body is None:
        if lenient:
            return "apply"
        raise _close_refused("a close needs a JSON object body with 'status'", lenient_would_take=True)
    if not isinstance(body, dict):
        raise _close_refused("a close needs a JSON object body with 'status'")
    status = body.get("status")
    action = body.get("action")
    if action is not None and not lenient:
        raise _close_refused(
            "'action' is not a close field (Sprinto reads 'status'; a discard may apply)", lenient_would_take=True
        )
    if status is not None and action is not None and status != action:
        raise _close_refused("'status' and 'action' disagree; send only 'status'")
    chosen = status if status is not None else action
    if chosen is None:
        if lenient:
            return "apply"
        raise _close_refused("'status' is required", lenient_would_take=True)
    if chosen not in ("apply", "discard"):
        raise _close_refused(f"close status must be 'apply' or 'discard', got {str(chosen)[:60]!r}")
    return str(chosen)


def _close_refused(problem: str, lenient_would_take: bool = False) -> ApiError:
    """``lenient_would_take``: a close ``lenient_close`` reads as apply, so the refusal is the
    emulator's choice (``mock``, and the setting named), not Sprinto's documented 400."""
    basis, setting = ("mock", "lenient_close") if lenient_would_take else (None, True)
    return ApiError.of(
        INVALID_CLOSE_STATUS, f"{problem}; {CLOSE_FIX}", basis=basis, setting=setting, allowed=["apply", "discard"]
    )


def batch_response(
    session_id: str,
    accepted: int,
    accepted_by_entity: dict[str, int],
    rejected: int,
    errors: list[dict[str, Any]],
    truncated: bool,
    hint: int | str | None,
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "accepted_count_total": accepted,
        "accepted_count_by_entity": dict(accepted_by_entity),
        "rejected_count_total": rejected,
        "validation_errors": errors,
        "validation_errors_truncated": truncated,
        "echoes": {} if hint is None else {"page_hint": hint},  # never null: Sprinto types it a value
    }
