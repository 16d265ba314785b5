"""The use cases of the Entities Sync API, on plain Python values.

Time-driven progress (inactivity expiry, processing attempts, purging expired data) is not
driven by background tasks: each tenant keeps its future events in a heap and ``settle``
replays the ones that are due, in time order, whenever the tenant is touched. Work per request
is therefore independent of how many sessions or pages are held, and moving the clock
forward is all a test needs to do.
"""

from __future__ import annotations

import bisect
import heapq
import hmac
import itertools
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from .clock import Clock, ManualClock, OffsetClock, SystemClock, format_time, parse_time
from .errors import ApiError, bad_request, conflict, not_found
from .faults.engine import Decision, FaultState, RequestFacts, decide
from .faults.scenario import Scenario, effective_settings
from .journal import Journal
from .lifecycle import Event, State, next_state
from .payload import check_depth, parse_json
from .settings import Config, Settings, SettingsError, check_override
from .store import Dataset, IdSource, Page, Session, Tenant, TokenBucket
from .validation import SchemaRegistry, check_page

INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_REFERENCE_CHARS = 256
MAX_API_KEY_CHARS = 512
ANOMALY_ERRORS_SHOWN = 10


@dataclass(slots=True)
class Wire:
    """How a page arrived: sizes before and after decoding, encoding, and the request's id."""

    request_id: str
    wire_bytes: int
    decoded_bytes: int
    encoding: str
    started: float  # perf_counter() when the request arrived, for the page's duration


class Emulator:
    """All tenants and the rules that move their sessions; one instance per server."""

    def __init__(self, config: Config, registry: SchemaRegistry, base_clock: Clock | None = None) -> None:
        self.settings: Settings = config.settings
        self.registry = registry
        if base_clock is None:
            base_clock = ManualClock() if self.settings.frozen_clock else SystemClock()
        self.clock = OffsetClock(base_clock)
        self.journal = Journal(self.settings.journal_size)
        self.ids = IdSource()
        self.declared = {item.id: item.api_key for item in config.integrations}
        self.tenants: dict[str, Tenant] = {}
        self._flat_types = registry.flat_types
        self.scenario: Scenario | None = None  # the global scenario; an integration's own one wins
        self.reset()

    # ---- tenants -------------------------------------------------------------------------
    @property
    def auto_create(self) -> bool:
        if self.settings.auto_create_integrations is None:
            return not self.declared
        return self.settings.auto_create_integrations

    def reset(self) -> None:
        """Forget every tenant, session, record and journal entry (the clock keeps its time)."""
        self.tenants.clear()
        self.journal.clear()
        for integration_id, api_key in self.declared.items():
            self._new_tenant(integration_id, api_key)

    def _new_tenant(self, integration_id: str, api_key: str | None) -> Tenant:
        if not INTEGRATION_ID.match(integration_id):
            raise bad_request(
                "invalid_parameter",
                "an integration id is 1-128 letters, digits, '.', '_', ':' or '-', "
                f"starting with a letter or digit; got {integration_id[:140]!r}",
            )
        if len(self.tenants) >= self.settings.max_integrations:
            raise ApiError(
                403,
                "integration_limit_reached",
                f"the emulator already holds {len(self.tenants)} integrations "
                "(setting max_integrations); reset it or delete some",
            )
        tenant = Tenant(integration_id, api_key, OffsetClock(self.clock), self.settings, self.ids)
        self.tenants[integration_id] = tenant
        self._take_scenario(tenant)
        return tenant

    def tenant(self, integration_id: str) -> Tenant:
        """The tenant a control-plane call names, created (bound to no key) if unseen."""
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            tenant = self._new_tenant(integration_id, self.declared.get(integration_id))
        self.settle(tenant)
        return tenant

    def authenticate(self, integration_id: str, api_key: str | None) -> Tenant:
        if not api_key:
            raise ApiError(401, "missing_api_key", "send the integration's key in the 'api-key' header")
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            if not self.auto_create or len(api_key) > MAX_API_KEY_CHARS:
                raise _invalid_key(integration_id)
            tenant = self._new_tenant(integration_id, api_key)
        if tenant.api_key is None:
            if len(api_key) > MAX_API_KEY_CHARS:
                raise _invalid_key(integration_id)
            tenant.api_key = api_key  # first authenticated request binds the key
        elif not hmac.compare_digest(tenant.api_key.encode(), api_key.encode()):
            raise _invalid_key(integration_id)
        self.settle(tenant)
        return tenant

    def create_integration(self, integration_id: str | None, api_key: str | None) -> Tenant:
        if integration_id is None:
            integration_id = self.ids.make("int")
        if integration_id in self.tenants:
            raise conflict("integration_exists", f"integration {integration_id!r} already exists")
        if api_key is None:
            api_key = self.ids.make("key")
        return self._new_tenant(integration_id, api_key)

    def delete_integration(self, integration_id: str) -> None:
        if not INTEGRATION_ID.match(integration_id):  # a typo'd id must not look like a successful wipe
            raise bad_request("invalid_parameter", f"no integration can have the id {integration_id[:140]!r}")
        self.tenants.pop(integration_id, None)
        if integration_id in self.declared:
            self._new_tenant(integration_id, self.declared[integration_id])

    # ---- scenarios -----------------------------------------------------------------------
    def set_scenario(self, scenario: Scenario | None, tenant: Tenant | None = None) -> None:
        """Install (or with None remove) the global scenario, or one integration's own."""
        if tenant is not None:
            tenant.own_scenario = scenario
            self._take_scenario(tenant)
            return
        self.scenario = scenario
        for each in self.tenants.values():
            if each.own_scenario is None:
                self._take_scenario(each)

    def _take_scenario(self, tenant: Tenant) -> None:
        """Fresh rule counters, seeded randomness and ids, and the scenario's settings."""
        scenario = tenant.own_scenario or self.scenario
        tenant.faults = FaultState(scenario, tenant.id)
        if scenario is not None and scenario.seed is not None:
            tenant.ids = IdSource(f"{scenario.seed}:{tenant.id}")
        else:
            tenant.ids = self.ids
        self._refresh_settings(tenant)

    def set_integration_settings(self, tenant: Tenant, overrides: dict[str, Any]) -> None:
        """Replace the integration's own setting overrides (checked; every problem listed)."""
        checked: dict[str, Any] = {}
        problems: list[dict[str, str]] = []
        for name, raw in overrides.items():
            try:
                checked[name] = check_override(name, raw)
            except SettingsError as exc:
                problems.append({"setting": name, "message": str(exc)})
        if problems:
            raise bad_request("invalid_parameter", f"{len(problems)} setting(s) refused", errors=problems)
        tenant.settings_overrides = checked
        self._refresh_settings(tenant)

    def _refresh_settings(self, tenant: Tenant) -> None:
        tenant.settings = effective_settings(self.settings, tenant.faults.scenario, tenant.settings_overrides)
        if tenant.activity.maxlen != tenant.settings.activity_log_size:
            tenant.activity = deque(tenant.activity, maxlen=tenant.settings.activity_log_size)

    def decide(
        self,
        tenant: Tenant,
        operation: str,
        session_id: str | None = None,
        entity_types: frozenset[str] = frozenset(),
        page_hint: int | str | None = None,
    ) -> Decision | None:
        """Which scenario rules fire on this request (counted once per request)."""
        if tenant.faults.scenario is None:
            return None
        session_ordinal = page_ordinal = None
        if operation == "start_session":
            session_ordinal = tenant.session_count + 1
        elif session_id is not None and (session := tenant.sessions.get(session_id)) is not None:
            session_ordinal = session.ordinal
            if operation == "push_page":
                page_ordinal = session.pages_received + 1
        facts = RequestFacts(operation, session_ordinal, page_ordinal, entity_types, page_hint)
        return decide(tenant.faults, facts)

    def apply_lifecycle(self, tenant: Tenant, session_id: str | None, actions: dict[str, Any]) -> None:
        """Scenario lifecycle actions: expire now, fail processing, hold processing, purge."""
        now = tenant.now()
        session = tenant.sessions.get(session_id) if session_id else tenant.active_session
        if actions.get("expire_session"):
            target = session if session is not None and session.state is State.ACTIVE else None
            if target is not None and target.id == tenant.active_session_id:
                self._expire(tenant, target, now)
        if "fail_processing" in actions:
            tenant.processing_failures_pending += int(actions["fail_processing"])
        if "hold_processing_seconds" in actions:
            tenant.processing_hold_until = max(
                tenant.processing_hold_until, now + float(actions["hold_processing_seconds"])
            )
        if actions.get("purge_expired"):
            expired = [session] if session is not None else list(tenant.sessions.values())
            for each in expired:
                if each is not None and each.state is State.EXPIRED and not each.data_purged:
                    self._purge(tenant, each, now)

    # ---- time ----------------------------------------------------------------------------
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
                self._expire(tenant, active, expiry)
                continue
            due = heapq.heappop(tenant.due)
            session = tenant.sessions.get(due.session_id)
            if session is None:
                continue
            if due.kind == "attempt" and session.state is State.PROCESSING:
                if due.at < tenant.processing_hold_until:
                    tenant.schedule(tenant.processing_hold_until, "attempt", session.id)  # held by a scenario
                    continue
                self._attempt_processing(tenant, session, due.at)
            elif due.kind == "purge" and session.state is State.EXPIRED and not session.data_purged:
                self._purge(tenant, session, due.at)

    def _purge(self, tenant: Tenant, session: Session, at: float) -> None:
        self._drop_staged(tenant, session)
        session.data_purged = True
        tenant.note(at, "info", "expired_data_purged", "expired session data was purged", session.id)
        self._retire(tenant, session, at)

    def _move(self, tenant: Tenant, session: Session, event: Event, at: float) -> None:
        new = next_state(session.state, event)
        tenant.state_counts[session.state.value] -= 1
        tenant.state_counts[new.value] += 1
        session.state = new
        session.updated_at = at

    def _expire(self, tenant: Tenant, session: Session, at: float) -> None:
        self._move(tenant, session, Event.INACTIVITY, at)
        tenant.active_session_id = None
        session.expired_at = at
        session.data_retained_until = at + tenant.settings.expired_retention_seconds
        tenant.schedule(session.data_retained_until, "purge", session.id)
        tenant.note(
            at,
            "warning",
            "session_expired",
            f"session expired after {session.inactivity_timeout:g}s without a request; "
            "its data can still be applied until it is purged",
            session.id,
            accepted_batches=len(session.accepted_pages),
        )

    def _attempt_processing(self, tenant: Tenant, session: Session, at: float) -> None:
        if tenant.processing_failures_pending > 0:
            tenant.processing_failures_pending -= 1
            session.last_error = {
                "code": "processing_failed",
                "message": "applying the staged pages failed (injected by the scenario)",
                "at": format_time(at),
            }
            if session.retry_count == 0:
                session.retry_count = 1  # [doc] "retries once on Sprinto side"
                session.updated_at = at
                tenant.schedule(at + tenant.settings.processing_seconds, "attempt", session.id)
                tenant.note(at, "warning", "processing_retry", "processing failed; retrying once", session.id)
                return
            self._move(tenant, session, Event.PROCESSING_GAVE_UP, at)
            tenant.note(
                at,
                "error",
                "session_failed",
                "processing failed twice; nothing was applied",
                session.id,
                last_error=session.last_error,
            )
            self._retire(tenant, session, at)
            return
        self._apply(tenant, session, at)
        self._move(tenant, session, Event.PROCESSING_SUCCEEDED, at)
        tenant.note(
            at,
            "info",
            "session_processed",
            f"applied {session.accepted_records_total} records from {len(session.accepted_pages)} pages",
            session.id,
            accepted_records_by_entity=dict(session.accepted_records_by_entity),
        )
        self._retire(tenant, session, at)

    def _apply(self, tenant: Tenant, session: Session, at: float) -> None:
        """Apply accepted pages in acceptance order; later records win on the same key."""
        upsert = tenant.settings.apply_mode == "upsert"
        touched: dict[str, Dataset] = {}
        for page in session.accepted_pages:
            assert page.payload is not None  # accepted pages keep their bytes until retired
            entities: dict[str, list[Any]] = orjson.loads(page.payload)["entities"]
            for entity_type, records in entities.items():
                dataset = touched.get(entity_type)
                if dataset is None:
                    existing = tenant.datasets.get(entity_type) if upsert else None
                    dataset = existing or Dataset(entity_type, self.registry.key_field(entity_type))
                    touched[entity_type] = dataset
                for record in records:
                    dataset.put(record)
        for entity_type, dataset in touched.items():
            dataset.applied_at = at
            dataset.applied_by_session = session.id
            tenant.datasets[entity_type] = dataset

    def _drop_staged(self, tenant: Tenant, session: Session) -> None:
        for page in session.accepted_pages:
            page.payload = None
        tenant.staged_bytes -= session.staged_bytes
        session.staged_bytes = 0

    def _retire(self, tenant: Tenant, session: Session, at: float) -> None:
        """A session is done with its data: free the bytes, and forget the oldest finished ones."""
        self._drop_staged(tenant, session)
        if session.finished_at is not None:
            return
        session.finished_at = at
        tenant.finished.append(session.id)
        while len(tenant.finished) > tenant.settings.max_sessions_kept:
            tenant.sessions.pop(tenant.finished.popleft(), None)

    # ---- rate limiting -------------------------------------------------------------------
    def throttle(self, tenant: Tenant, operation: str) -> dict[str, str]:
        """Spend a token of the tenant's bucket or raise 429; a throttled request changes nothing.

        Returns the ``RateLimit-*`` headers (IETF draft) every answer carries while a limit is on.
        """
        rate = tenant.settings.rate_limit
        if rate is None:
            tenant.bucket = None
            return {}
        now = tenant.now()
        bucket = tenant.bucket
        if bucket is None or bucket.rate != rate or bucket.burst != tenant.settings.rate_limit_burst:
            bucket = tenant.bucket = TokenBucket(rate, tenant.settings.rate_limit_burst, now)
        wait = bucket.take(now)
        refill = (bucket.burst - bucket.tokens) / rate if rate > 0 else 3600.0
        headers = {
            "RateLimit-Limit": str(bucket.burst),
            "RateLimit-Remaining": str(int(bucket.tokens)),
            "RateLimit-Reset": str(max(0, math.ceil(refill - 1e-9))),
        }
        if wait is None:
            return headers
        retry_after = max(1, math.ceil(wait - 1e-9)) if math.isfinite(wait) else 3600
        tenant.note(
            now,
            "warning",
            "rate_limited",
            f"{operation} throttled; retry after {retry_after}s",
            retry_after_seconds=retry_after,
        )
        error = rate_limited(retry_after, f"rate limit of {rate:g} requests/s exceeded")
        error.headers.update(headers)
        raise error

    # ---- vendor operations ---------------------------------------------------------------
    def start_session(self, tenant: Tenant, body: Any) -> Session:
        reference = _client_reference(body)
        active = tenant.active_session
        if active is not None:
            raise conflict(
                "session_already_active",
                f"integration {tenant.id!r} already has an active session; close it or let it expire",
                active_session_id=active.id,
            )
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
        tenant.sessions[session.id] = session
        tenant.active_session_id = session.id
        tenant.state_counts[State.ACTIVE.value] += 1
        tenant.note(now, "info", "session_created", "session started", session.id, client_reference_id=reference)
        return session

    def addressed_session(self, tenant: Tenant, session_id: str) -> Session:
        """The session a request names; any request that addresses it resets its inactivity."""
        session = tenant.sessions.get(session_id)
        if session is None:
            raise not_found("session_not_found", f"integration {tenant.id!r} has no session {session_id[:140]!r}")
        if session.state is State.ACTIVE:
            session.last_request_at = tenant.now()
        return session

    def push_target(self, tenant: Tenant, session_id: str) -> Session:
        """Checks that come before the body is read: the session exists and is active."""
        session = self.addressed_session(tenant, session_id)
        if session.state is not State.ACTIVE:
            raise conflict(
                "session_not_active",
                f"session is {session.state.value}; pages can only be pushed to an active session",
                state=session.state.value,
            )
        return session

    def reject_push(self, tenant: Tenant, session_id: str, wire: Wire, error: ApiError) -> None:
        """Record a push refused before validation (size, encoding, body) on the session."""
        session = tenant.sessions.get(session_id)
        if session is not None and session.state is State.ACTIVE:
            self._record_rejection(tenant, session, wire, error, record_count=0, counts={}, hint=None)

    def push_page(self, tenant: Tenant, session_id: str, raw: bytes, wire: Wire) -> dict[str, Any]:
        session = self.push_target(tenant, session_id)  # again: the body took time to arrive
        settings = tenant.settings
        try:
            if settings.max_staged_bytes is not None and tenant.staged_bytes + len(raw) > settings.max_staged_bytes:
                raise ApiError(
                    507,
                    "staging_limit_reached",
                    f"integration {tenant.id!r} already stages {tenant.staged_bytes} bytes "
                    f"(setting max_staged_bytes = {settings.max_staged_bytes}); close a session first",
                )
            body = parse_json(
                raw,
                settings.max_json_depth,
                reject_repeated_names=settings.duplicate_names == "reject",
                flat_types=self._flat_types,
            )
        except ApiError as error:
            self._record_rejection(tenant, session, wire, error, record_count=0, counts={}, hint=None)
            raise
        verdict = check_page(
            body,
            self.registry,
            max_items=settings.max_page_items,
            max_errors=settings.max_validation_errors,
            reject_unknown_types=settings.unknown_entity_types == "reject",
        )
        if verdict.code is not None:
            try:
                check_depth(body, settings.max_json_depth)  # records of flat types were not walked
            except ApiError as error:
                self._record_rejection(tenant, session, wire, error, record_count=0, counts={}, hint=None)
                raise
            response = _batch_response(
                session.id, 0, {}, verdict.total, verdict.errors, verdict.errors_truncated, verdict.page_hint
            )
            rejection = bad_request(verdict.code, verdict.detail, **response)
            self._record_rejection(
                tenant,
                session,
                wire,
                rejection,
                verdict.total,
                verdict.counts,
                verdict.page_hint,
                verdict.errors,
                verdict.errors_truncated,
            )
            raise rejection
        now = tenant.now()
        page = _new_page(session, wire, now, verdict.total, verdict.counts, verdict.page_hint)
        page.payload = raw
        session.accepted_pages.append(page)
        session.accepted_records_total += verdict.total
        session.accepted_records_by_entity.update(verdict.counts)
        session.staged_bytes += len(raw)
        session.updated_at = now
        tenant.staged_bytes += len(raw)
        tenant.note(
            now,
            "info",
            "page_accepted",
            f"page {page.ordinal} accepted: {verdict.total} records",
            session.id,
            page=page.ordinal,
            counts_by_entity=verdict.counts,
            request_id=wire.request_id,
        )
        response = _batch_response(session.id, verdict.total, verdict.counts, 0, [], False, verdict.page_hint)
        response["page"] = page.ordinal
        return response

    def _record_rejection(
        self,
        tenant: Tenant,
        session: Session,
        wire: Wire,
        error: ApiError,
        record_count: int,
        counts: dict[str, int],
        hint: int | str | None,
        errors: list[dict[str, Any]] | None = None,
        truncated: bool = False,
    ) -> None:
        now = tenant.now()
        session.rejected_batches += 1
        page = _new_page(session, wire, now, record_count, counts, hint)
        page.accepted = False
        page.code = error.code
        page.detail = error.detail
        page.errors = errors or []
        page.errors_truncated = truncated
        session.rejected_pages.append(page)
        tenant.note(
            now,
            "error",
            "page_rejected",
            f"page {page.ordinal} rejected ({error.code}): {error.detail}",
            session.id,
            page=page.ordinal,
            code=error.code,
            status=error.status,
            request_id=wire.request_id,
            rejected_count=record_count,
            errors=(errors or [])[:ANOMALY_ERRORS_SHOWN],
        )

    def close_session(self, tenant: Tenant, session_id: str, body: Any) -> Session:
        session = self.addressed_session(tenant, session_id)
        status = _close_status(body)
        now = tenant.now()
        event = Event.APPLY if status == "apply" else Event.DISCARD
        if session.state not in (State.ACTIVE, State.EXPIRED):
            raise conflict(
                "session_not_closable",
                f"session is {session.state.value}; only active or expired sessions can be closed",
                state=session.state.value,
            )
        if session.state is State.EXPIRED and event is Event.APPLY and session.data_purged:
            raise conflict(
                "expired_data_purged",
                "this expired session's data was purged after "
                f"{tenant.settings.expired_retention_seconds:g}s; start a new session and push again",
                state=session.state.value,
            )
        if session.state is State.ACTIVE:
            tenant.active_session_id = None
        self._move(tenant, session, event, now)
        session.closed_at = now
        session.close_status = status
        if event is Event.APPLY:
            session.processing_started_at = now
            tenant.schedule(now + tenant.settings.processing_seconds, "attempt", session.id)
            tenant.note(
                now,
                "info",
                "session_processing",
                "session closed with apply; processing",
                session.id,
                accepted_batches=len(session.accepted_pages),
            )
            self.settle(tenant)  # a processing time of 0 finishes right here
        else:
            tenant.note(now, "info", "session_cancelled", "session discarded; nothing will be applied", session.id)
            self._retire(tenant, session, now)
        return session

    def integration_status(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "integration_id": tenant.id,
            "sessions": {state.value: tenant.state_counts[state.value] for state in State},
            "last_activity_at": None if tenant.last_activity_at is None else format_time(tenant.last_activity_at),
        }

    def activity(self, tenant: Tenant, since: str | None, page: str | None, page_size: str | None) -> dict[str, Any]:
        """Activity oldest first, optionally from ``since`` on, in pages."""
        page_no = int_param("page", page, 1, 1, 1_000_000)
        size = int_param("page_size", page_size, 50, 1, 200)
        since_ts: float | None = None
        if since is not None:
            try:
                since_ts = parse_time(since)
            except ValueError as exc:
                raise bad_request(
                    "invalid_parameter",
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


def _new_page(
    session: Session, wire: Wire, now: float, record_count: int, counts: dict[str, int], hint: int | str | None
) -> Page:
    """The next page of a session, numbered in arrival order whether accepted or not."""
    session.pages_received += 1
    return Page(
        ordinal=session.pages_received,
        request_id=wire.request_id,
        received_at=now,
        accepted=True,
        record_count=record_count,
        counts=counts,
        wire_bytes=wire.wire_bytes,
        decoded_bytes=wire.decoded_bytes,
        encoding=wire.encoding,
        page_hint=hint,
        duration_ms=(time.perf_counter() - wire.started) * 1000,
    )


def rate_limited(retry_after: int, detail: str) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"{detail}; retry after {retry_after}s",
        extra={"retry_after_seconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def _invalid_key(integration_id: str) -> ApiError:
    # The same answer for an unknown integration and a wrong key: nothing leaks about which.
    return ApiError(401, "invalid_api_key", f"the api-key is not valid for integration {integration_id[:140]!r}")


def int_param(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within bounds, or 400 ``invalid_parameter`` naming it."""
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise bad_request(
            "invalid_parameter",
            f"'{name}' must be a whole number from {low} to {high}, got {raw[:40]!r}",
            parameter=name,
        )
    return value


def _client_reference(body: Any) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        raise bad_request(
            "invalid_parameter", 'the body must be a JSON object such as {"client_reference_id": "nightly-2026-01-01"}'
        )
    reference = body.get("client_reference_id")
    if reference is not None and (not isinstance(reference, str) or len(reference) > MAX_REFERENCE_CHARS):
        raise bad_request(
            "invalid_parameter",
            f"'client_reference_id' must be a string of at most {MAX_REFERENCE_CHARS} characters",
            parameter="client_reference_id",
        )
    return reference


def _close_status(body: Any) -> str:
    if body is None:
        return "apply"  # [doc] default
    if not isinstance(body, dict):
        raise bad_request("invalid_close_status", 'the body must be a JSON object such as {"status": "apply"}')
    status = body.get("status")
    action = body.get("action")  # [mock] alias a published client sends
    if status is not None and action is not None and status != action:
        raise bad_request("invalid_close_status", "'status' and 'action' disagree; send only 'status'")
    chosen = status if status is not None else action
    if chosen is None:
        return "apply"
    if chosen not in ("apply", "discard"):
        raise bad_request(
            "invalid_close_status",
            f"close status must be 'apply' or 'discard', got {str(chosen)[:60]!r}",
            allowed=["apply", "discard"],
        )
    return str(chosen)


def _batch_response(
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
        "echoes": {"page_hint": hint},
    }
