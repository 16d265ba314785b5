"""The vendor plane's door: Sprinto's use cases, on plain Python values.

Each vendor request is one call here (``start``, ``get_session``, ``push``, ``close``,
``integration_status``, ``activity``) that owns its whole order: version, api-key, rate limit, the
checks before the body, the body, the scenario's decision, the operation. The HTTP layer only
builds the ``Call``, hands over the body as a ``BodySource`` and serializes the ``Outcome``; unit
tests and the in-process benchmark make the same calls with bytes in memory.
Time-driven progress (expiry, processing, purges) lives in ``timeline.py``.
"""

from __future__ import annotations

import asyncio
import bisect
import hmac
import itertools
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .clock import Clock, ManualClock, OffsetClock, SystemClock, format_time, parse_time
from .errors import ApiError, bad_request, conflict, int_param, not_found
from .faults.engine import Decision, FaultState, RequestFacts, decide
from .faults.scenario import Scenario, effective_settings
from .faults.vocabulary import SILENT_FAULTS, Operation, TransportFault
from .journal import Journal, JournalEntry
from .lifecycle import Event, State
from .payload import BodySource, check_depth, parse_json
from .settings import Config, Settings
from .store import IdSource, Page, Session, Tenant, TokenBucket
from .timeline import Timeline
from .validation import SchemaRegistry, check_page

INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SUPPORTED_VERSIONS = ("v1",)
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


@dataclass(slots=True)
class Call:
    """One vendor request as the domain sees it. The transport makes it; the use case fills in
    what it learns (tenant, session, the rules that fired), and the journal records it."""

    operation: Operation
    integration_id: str
    api_key: str | None
    request_id: str
    started: float  # perf_counter() when the request arrived
    version: str = "v1"
    session_id: str | None = None  # from the path, or the session a start created
    tenant: Tenant | None = None  # once the api-key was accepted
    rule: str | None = None  # the scenario rules that fired, comma-separated
    transport: TransportFault | None = None  # the broken connection a rule injected
    rate_limit_headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Answer:
    """The operation's own answer: a status and a JSON body."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Injected:
    """A scenario rule's answer replaces the operation's: ``real`` is what the operation answered
    (phase ``after``: it ran, the client never learns), None when it never ran (``before``)."""

    decision: Decision
    real: Answer | None


Outcome = Answer | Injected


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
        self.timeline = Timeline(registry)
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
            self.new_tenant(integration_id, api_key)

    def new_tenant(self, integration_id: str, api_key: str | None) -> Tenant:
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
        self.take_scenario(tenant)
        return tenant

    def tenant(self, integration_id: str) -> Tenant:
        """The tenant a control-plane call names, created (bound to no key) if unseen."""
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            tenant = self.new_tenant(integration_id, self.declared.get(integration_id))
        self.timeline.settle(tenant)
        return tenant

    def settle(self, tenant: Tenant) -> None:
        self.timeline.settle(tenant)

    def authenticate(self, integration_id: str, api_key: str | None) -> Tenant:
        if not api_key:
            raise ApiError(401, "missing_api_key", "send the integration's key in the 'api-key' header")
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            if not self.auto_create or len(api_key) > MAX_API_KEY_CHARS:
                raise _invalid_key(integration_id)
            tenant = self.new_tenant(integration_id, api_key)
        if tenant.api_key is None:
            if len(api_key) > MAX_API_KEY_CHARS:
                raise _invalid_key(integration_id)
            tenant.api_key = api_key  # first authenticated request binds the key
        elif not hmac.compare_digest(tenant.api_key.encode(), api_key.encode()):
            raise _invalid_key(integration_id)
        self.timeline.settle(tenant)
        return tenant

    def request_limit(self, integration_id: str) -> int:
        """The body size this integration accepts on the wire (before it is authenticated)."""
        tenant = self.tenants.get(integration_id)
        return (tenant.settings if tenant else self.settings).max_request_bytes

    def take_scenario(self, tenant: Tenant) -> None:
        """Fresh rule counters, seeded randomness and ids, and the scenario's settings."""
        scenario = tenant.own_scenario or self.scenario
        tenant.faults = FaultState(scenario, tenant.id)
        if scenario is not None and scenario.seed is not None:
            tenant.ids = IdSource(f"{scenario.seed}:{tenant.id}")
        else:
            tenant.ids = self.ids
        self.refresh_settings(tenant)

    def refresh_settings(self, tenant: Tenant) -> None:
        tenant.settings = effective_settings(self.settings, tenant.faults.scenario, tenant.settings_overrides)
        if tenant.activity.maxlen != tenant.settings.activity_log_size:
            tenant.activity = deque(tenant.activity, maxlen=tenant.settings.activity_log_size)

    # ---- the vendor plane's door ---------------------------------------------------------
    async def start(self, call: Call, source: BodySource) -> Outcome:
        tenant = self._enter(call)
        body = await self._optional_json(tenant, source)

        def run() -> Answer:
            session = self.start_session(tenant, body)
            call.session_id = session.id
            return Answer(201, session.public())

        return await self._under_scenario(call, tenant, run)

    async def get_session(self, call: Call) -> Outcome:
        tenant = self._enter(call)
        session_id = _session_of(call)
        return await self._under_scenario(
            call, tenant, lambda: Answer(200, self.addressed_session(tenant, session_id).public())
        )

    async def push(self, call: Call, source: BodySource) -> Outcome:
        """Push a page: authenticated and throttled, the session checked before its body is read
        (a 404 or 409 needs no upload), the body read within limits, then the scenario's say."""
        tenant = self._enter(call)
        session_id = _session_of(call)
        self.push_target(tenant, session_id)
        wire = Wire(call.request_id, source.declared_length or 0, 0, source.content_encoding, call.started)
        try:
            body = await source.read(tenant.settings)
        except ApiError as error:
            self.reject_push(tenant, session_id, wire, error)
            raise
        wire.wire_bytes = len(body.wire)
        wire.decoded_bytes = len(body.decoded)
        wire.encoding = body.encoding
        entity_types, page_hint = _page_facts(body.decoded) if tenant.faults.needs_body else (frozenset(), None)
        return await self._under_scenario(
            call,
            tenant,
            lambda: Answer(202, self.push_page(tenant, session_id, body.decoded, wire)),
            entity_types,
            page_hint,
        )

    async def close(self, call: Call, source: BodySource) -> Outcome:
        tenant = self._enter(call)
        body = await self._optional_json(tenant, source)
        session_id = _session_of(call)
        return await self._under_scenario(
            call, tenant, lambda: Answer(202, self.close_session(tenant, session_id, body).public())
        )

    async def integration_status(self, call: Call) -> Outcome:
        tenant = self._enter(call)
        return await self._under_scenario(call, tenant, lambda: Answer(200, self.status_counts(tenant)))

    async def activity(self, call: Call, since: str | None, page: str | None, page_size: str | None) -> Outcome:
        tenant = self._enter(call)
        return await self._under_scenario(
            call, tenant, lambda: Answer(200, self.activity_page(tenant, since, page, page_size))
        )

    def journal_call(
        self,
        call: Call | None,
        request_id: str,
        started: float,
        method: str,
        path: str,
        status: int,
        code: str | None,
        bytes_in: int | None,
    ) -> None:
        """Record a vendor request as answered (``call`` is None for a path no operation serves)."""
        tenant = call.tenant if call is not None else None
        if call is not None and call.transport is not None:
            code = f"transport_{call.transport}"
            if call.transport in SILENT_FAULTS:
                status = 0  # nothing reached the client
        self.journal.add(
            JournalEntry(
                request_id=request_id,
                at=tenant.now() if tenant is not None else self.clock.now(),
                method=method,
                path=path[:300],
                operation=call.operation if call is not None else "unknown",
                status=status,
                code=code,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                integration_id=tenant.id if tenant is not None else None,
                session_id=call.session_id if tenant is not None and call is not None else None,
                bytes_in=bytes_in,
                rule=call.rule if call is not None else None,
            )
        )

    def _enter(self, call: Call) -> Tenant:
        """What every vendor request does first: version, api-key, tenant, rate limit."""
        if call.version not in SUPPORTED_VERSIONS:
            raise not_found(
                "unsupported_version",
                f"API version {call.version[:40]!r} is not served; use {', '.join(SUPPORTED_VERSIONS)}",
                supported_versions=list(SUPPORTED_VERSIONS),
            )
        tenant = self.authenticate(call.integration_id, call.api_key)
        call.tenant = tenant
        call.rate_limit_headers = self.throttle(tenant, call.operation)
        return tenant

    async def _optional_json(self, tenant: Tenant, source: BodySource) -> Any:
        """A small optional JSON body (start, close): None when there is none."""
        if not source.present:
            return None
        body = await source.read(tenant.settings)
        if not body.decoded.strip():
            return None
        settings = tenant.settings
        return parse_json(
            body.decoded, settings.max_json_depth, reject_repeated_names=settings.duplicate_names == "reject"
        )

    async def _under_scenario(
        self,
        call: Call,
        tenant: Tenant,
        run: Callable[[], Answer],
        entity_types: frozenset[str] = frozenset(),
        page_hint: int | str | None = None,
    ) -> Outcome:
        """The one place a scenario's decision is carried out: its delay, its lifecycle actions,
        and an answer given before the operation (it never runs) or after it (it ran)."""
        decision = self.decide(tenant, call.operation, call.session_id, entity_types, page_hint)
        if decision is None:
            return run()
        call.rule = ", ".join(decision.rules)
        if decision.delay_seconds:
            await asyncio.sleep(decision.delay_seconds)
        if decision.lifecycle:
            self.timeline.apply_lifecycle(tenant, call.session_id, decision.lifecycle)
        if not decision.replaces_response:
            return run()
        call.transport = decision.transport
        if decision.phase == "before":
            return Injected(decision, None)
        try:
            real = run()
        except ApiError as error:
            real = Answer(error.status, error.problem(), dict(error.headers))
        return Injected(decision, real)

    def decide(
        self,
        tenant: Tenant,
        operation: Operation,
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
            "last_activity_at": None if tenant.last_activity_at is None else format_time(tenant.last_activity_at),
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


def _session_of(call: Call) -> str:
    assert call.session_id is not None, f"{call.operation} addresses a session"
    return call.session_id


def _page_facts(decoded: bytes) -> tuple[frozenset[str], int | str | None]:
    """Entity types and page_hint of a page, for rules that match on them (best effort)."""
    try:
        page = orjson.loads(decoded)
    except orjson.JSONDecodeError:
        return frozenset(), None
    if not isinstance(page, dict):
        return frozenset(), None
    entities = page.get("entities")
    hint = page.get("page_hint")
    types = frozenset(entities) if isinstance(entities, dict) else frozenset()
    return types, hint if isinstance(hint, (int, str)) and not isinstance(hint, bool) else None
