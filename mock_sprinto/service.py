"""The vendor plane's door: Sprinto's use cases, on plain Python values.

Each vendor request is one call here (``start``, ``get_session``, ``push``, ``close``,
``integration_status``, ``activity``) that owns its whole order: version, api-key, rate limit, the
checks before the body, the body, the scenario's decision, the operation. The HTTP layer only
builds the ``Call``, hands over the body as a ``BodySource`` and serializes the ``Outcome``; unit
tests and the in-process benchmark make the same calls with bytes in memory. What the door learns
of a call goes on its ``Learned`` record (``calls.py``), and the journal reads it once answered.
What the operations do lives in ``sessions.py``, time-driven progress (expiry, processing,
purges) in ``timeline.py``, the rate limit in ``ratelimit.py``.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import itertools
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from . import budget, judging
from .budget import CONTROL_REMEDY, TENANT_BYTES, MemoryBudget
from .calls import Answer, Call, Exchange, Injected, Learned, Outcome
from .clock import Clock, ManualClock, OffsetClock, SystemClock, forget_formatted_seconds, loop_busy_before
from .codes import (
    INTEGRATION_LIMIT_REACHED,
    INTEGRATION_NOT_FOUND,
    INVALID_API_KEY,
    INVALID_PARAMETER,
    MALFORMED_API_KEY,
    MISSING_API_KEY,
    SESSION_NOT_FOUND,
    TOO_MANY_ITEMS,
    UNSUPPORTED_VERSION,
)
from .errors import ApiError, let_go_of_frames, repeated_parameter, shutting_down
from .faults.engine import Decision, FaultState, RequestFacts, decide
from .faults.prefer import parse_prefer
from .faults.scenario import Scenario, effective_settings
from .faults.vocabulary import OPERATIONS, SILENT_FAULTS, Operation
from .journal import Journal, kept_headers, packed_request_headers, packed_response_headers, plain_success
from .lifecycle import State
from .naming import INTEGRATION_ID
from .payload import INLINE_JUDGE_BYTES, BodySource, many_values, page_digest, parse_json
from .ratelimit import throttle
from .rows import Row
from .sessions import Sessions, Wire, batch_response, page_number
from .settings import Config, Settings
from .store import IdSource, Tenant
from .timeline import Timeline
from .validation import PageVerdict, SchemaRegistry, record_count, usable_page_hint
from .wholenumbers import header_whole

SUPPORTED_VERSIONS = ("v1",)
# The operation a journal entry names: a vendor operation, or this for a request no route served.
UNMATCHED_OPERATION = "unknown"
JOURNAL_OPERATIONS: tuple[str, ...] = (*OPERATIONS, UNMATCHED_OPERATION)
# What a page being parsed holds, in times its decoded size: the text, and the strings and numbers
# parsing makes of it (a page of long strings: about twice its size; many small values cost more).
PARSE_FACTOR = 2
# The share of time the large-page judge may run: after judging for t seconds it rests t seconds.
# On a thread its C calls held the GIL the loop waited for (three clients pushing 24 MB pages back
# to back: health checks ~150 ms, issue 22's soak); in the judging child (judging.py) it still takes
# a core of two. Resting, a flood of large pages slows itself, not the other clients.
JUDGE_DUTY = 0.5
MAX_API_KEY_CHARS = 512
# A reset collects once more this long after it (``Emulator._collect_again_soon``): by then its own
# request's connection has closed and is garbage.
RESET_SETTLE_SECONDS = 1.0


class Emulator:
    """All tenants and the rules that move their sessions; one instance per server."""

    def __init__(
        self,
        config: Config,
        registry: SchemaRegistry,
        base_clock: Clock | None = None,
        scenario: Scenario | None = None,
    ) -> None:
        """``scenario``: the global scenario the server starts with (``--scenario``, the config
        file's), which a reset installs again."""
        self.settings: Settings = config.settings
        self.registry = registry
        if base_clock is None:
            base_clock = ManualClock() if self.settings.frozen_clock else SystemClock()
        self.clock = OffsetClock(base_clock)
        self.journal = Journal(self.settings.journal_size)
        self.ids = IdSource()
        self.declared = {item.id: item.api_key for item in config.integrations}
        self.config = config  # where each server setting came from (Config.source_of)
        self.tenants: dict[str, Tenant] = {}
        self.budget = MemoryBudget(self.settings.memory_budget_bytes)  # shared by every tenant
        self.timeline = Timeline(registry, self._in_background)
        self.sessions = Sessions(registry, self.timeline)
        self.scenario: Scenario | None = None  # the global scenario; an integration's own one wins
        self.starting_scenario = scenario
        self._stopping = asyncio.Event()  # set when the server stops: scenario delays end early
        # One thread judges the large pages, one at a time: each worker that runs Python code takes
        # the GIL from the event loop (at every switch interval, and after each of its C calls), so
        # several at once would starve the loop; the pages queue instead. Made on first use.
        self._judge_thread: ThreadPoolExecutor | None = None
        self._judge_turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._judge_rests_until = 0.0  # time.monotonic()
        self._background: set[asyncio.Task[None]] = set()
        self._order = itertools.count(1)  # arrivals and answers, in one order (the judge's "after")
        self._collect_pending: asyncio.AbstractEventLoop | None = None  # ``_collect_again_soon``
        self.reset()

    # ---- tenants -------------------------------------------------------------------------
    @property
    def auto_create(self) -> bool:
        if self.settings.auto_create_integrations is None:
            return not self.declared
        return self.settings.auto_create_integrations

    def reset(self) -> None:
        """Forget every tenant, session, record and journal entry, and install the scenario the
        server started with again, its counters afresh: the server is as it started (the clock
        keeps its time)."""
        held = bool(self.tenants or self.journal.entries)
        self._forget_tenants()
        self.journal.clear()
        self.budget.add(_nbytes(self.starting_scenario) - _nbytes(self.scenario))  # the global scenario is counted
        self.scenario = self.starting_scenario
        if held:  # everything went: whatever the budget counted, the heap is mostly free
            # What lives on past the run was made between its short-lived objects, and each such
            # survivor keeps its 1 MiB pymalloc arena: the formatted seconds and the names
            # CPython's type-attribute cache keeps are dropped, to be made again in full arenas.
            forget_formatted_seconds()
            sys._clear_type_cache()
            # A tenant's objects form cycles: without a collection first, the trim would find
            # them still allocated (issue 21: 12 MiB more RSS after a reset of a 4-s run).
            gc.collect()
            if not self._collect_again_soon():
                budget.give_back_free_heap()  # plain code: nothing runs after it
        for integration_id, api_key in self.declared.items():
            self.new_tenant(integration_id, api_key)

    def _collect_again_soon(self) -> bool:
        """One more collection ``RESET_SETTLE_SECONDS`` after a reset, on the running loop, then the
        heap given back when the process is quiet (False: no running loop, nothing scheduled).

        The request that asked for the reset (its protocol, transport, handler task) was made
        before everything went, in arenas the reset emptied, and becomes garbage only once its
        connection closes, in cycles that an idle server never collects: it kept ~10 pymalloc
        arenas (1 MiB each) resident after a reset of a long run (issue 21). At most one is
        pending: resets in a row add one collection, not one each."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False  # a reset from plain code: no request in flight
        if self._collect_pending is not loop:
            self._collect_pending = loop
            loop.call_later(RESET_SETTLE_SECONDS, self._collect_now)
        return True

    def _collect_now(self) -> None:
        self._collect_pending = None
        gc.collect()
        budget.trim_when_quiet()  # the heap goes back once what arrives after the reset is quiet

    def _forget_tenants(self) -> None:
        """Every tenant released and dropped; a method of its own so that no local name keeps the
        last one alive through the collection ``reset`` runs next."""
        for tenant in self.tenants.values():
            tenant.release_memory()
        self.tenants.clear()

    def new_tenant(self, integration_id: str, api_key: str | None, *, first_arrival: int | None = None) -> Tenant:
        """A fresh tenant; ``first_arrival`` is the request that made it (open mode), which is its own."""
        refusal = self.new_tenant_refusal(integration_id)
        if refusal is not None:
            raise refusal
        tenant = Tenant(integration_id, api_key, OffsetClock(self.clock), self.settings, self.ids, self.budget)
        # Journal entries of an earlier tenant of this id are not its own; the request that made it is.
        tenant.since = next(self._order) if first_arrival is None else first_arrival - 1
        self.tenants[integration_id] = tenant
        if self.scenario is not None:  # else made as take_scenario leaves it: no rule, the server's settings and ids
            self.take_scenario(tenant)
        return tenant

    def new_tenant_refusal(self, integration_id: str, before: int = 0) -> ApiError | None:
        """Why a tenant of this id could not be made now, after ``before`` others (None: it could).
        Reads and changes nothing: the pytest fixture asks it from its own thread (``creatable``)."""
        if not INTEGRATION_ID.match(integration_id):
            return ApiError.of(
                INVALID_PARAMETER,
                "an integration id is 1-128 letters, digits, '.', '_', ':' or '-', "
                f"starting with a letter or digit; got {integration_id[:140]!r}",
            )
        if len(self.tenants) + before >= self.settings.max_integrations:
            return ApiError.of(
                INTEGRATION_LIMIT_REACHED,
                f"the emulator already holds {len(self.tenants)} integrations "
                "(setting max_integrations); reset it or delete some",
            )
        if not self.budget.fits_bookkeeping(TENANT_BYTES * (before + 1)):
            return self.budget.exceeded(TENANT_BYTES, CONTROL_REMEDY)
        return None

    def tenant(self, integration_id: str) -> Tenant:
        """The tenant a control-plane read names; 404 ``integration_not_found`` when the emulator
        does not hold it: a read never creates anything, so no page on another site can fill the
        server by making a browser load URLs (API.md, Part B)."""
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            if not INTEGRATION_ID.match(integration_id):
                raise ApiError.of(INVALID_PARAMETER, f"no integration can have the id {integration_id[:140]!r}")
            raise ApiError.of(
                INTEGRATION_NOT_FOUND,
                f"the emulator holds no integration {integration_id!r}; a write (a scenario, settings, a clock "
                "move, POST /_mock/integrations) or its first authenticated request creates it",
            )
        self.timeline.settle(tenant)
        return tenant

    def tenant_to_write(self, integration_id: str) -> Tenant:
        """The tenant a control-plane write names, created (bound to no key) if unseen, so a test
        can set a scenario or a clock before its first request."""
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            tenant = self.new_tenant(integration_id, self.declared.get(integration_id))
        self.timeline.settle(tenant)
        return tenant

    def settle(self, tenant: Tenant) -> None:
        self.timeline.settle(tenant)

    def import_base(self, gap: int) -> int:
        """The first order number an import built from now on gives its journal entries: past every
        number taken so far, with ``gap`` numbers left between for the requests answered while it is
        built off the loop (``take_orders`` moves it on if more than that come)."""
        return next(self._order) + 1 + gap

    def take_orders(self, count: int, base: int | None = None) -> int:
        """The first of ``count`` consecutive numbers of the one order of arrivals and answers,
        none of which another request gets: where imported journal entries (a state bundle's) go.
        ``base``: the first wanted (``import_base``), given when no request has taken it yet; the
        numbers skipped before it are a gap in the order, which only ever compares numbers."""
        first = next(self._order)
        if base is not None and base > first:
            first = base
        self._order = itertools.count(first + max(count, 1))
        return first

    def authenticate(self, integration_id: str, api_key: str | None, arrival: int | None = None) -> Tenant:
        if not api_key:
            raise ApiError.of(MISSING_API_KEY, "send the integration's key in the 'api-key' header")
        if not _is_text(api_key):
            raise malformed_api_key("it is not UTF-8 text")
        tenant = self.tenants.get(integration_id)
        if tenant is None:
            if not self.auto_create or len(api_key) > MAX_API_KEY_CHARS:
                raise _invalid_key(integration_id)
            tenant = self.new_tenant(integration_id, api_key, first_arrival=arrival)
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
        tenant.resize_activity(tenant.settings.activity_log_size)

    # ---- the vendor plane's door ---------------------------------------------------------
    async def start(self, call: Call, source: BodySource) -> Outcome:
        tenant = self._enter(call)
        body = await self._optional_json(call, tenant, source)

        def run() -> Answer:
            try:
                session = self.sessions.start_session(tenant, body)
            except ApiError as error:
                active = error.extra.get("active_session_id")
                call.learned.names_session = active if isinstance(active, str) else None
                raise
            call.learned.created_session = session.id
            return Answer(201, session.public())

        return await self._under_scenario(call, tenant, run)

    async def get_session(self, call: Call) -> Outcome:
        tenant = self._enter(call)
        session_id = _session_of(call)
        return await self._under_scenario(
            call, tenant, lambda: Answer(200, self.sessions.addressed_session(tenant, session_id).public())
        )

    async def push(self, call: Call, source: BodySource) -> Outcome:
        """Push a page: authenticated and throttled, the session checked before its body is read
        (a 404 or 409 needs no upload), the body read within limits, then the scenario's say."""
        tenant = self._enter(call)
        session_id = _session_of(call)
        self.sessions.push_target(tenant, session_id)
        # The one record of how the page arrived: the session's page and the journal both read it.
        # Its sizes and coding are those read; only a read that fails records what was declared
        # (looking the headers up on every push, to overwrite them once read, cost two lookups).
        wire = Wire(call.request_id, 0, 0, "identity", call.started)
        call.learned.wire = wire
        try:
            body = await source.read(tenant.settings)
        except BaseException as error:  # refused, or anything else the journal then records
            wire.wire_bytes = source.wire_bytes_read or source.declared_length or 0
            wire.encoding = source.content_encoding
            if isinstance(error, ApiError):
                self.sessions.reject_push(tenant, session_id, wire, error)
            raise
        wire.wire_bytes = len(body.wire)
        wire.decoded_bytes = len(body.decoded)
        wire.encoding = body.encoding
        call.learned.request_body = body.decoded
        judged: PageVerdict | ApiError | None = None
        if len(body.decoded) > INLINE_JUDGE_BYTES:
            judged = await self._judge_large(tenant, session_id, wire, body.decoded)
        else:
            wire.digest = page_digest(body.decoded)
        entity_types, page_hint = _page_facts(body.decoded, judged) if tenant.faults.needs_body else (frozenset(), None)

        def run() -> Answer:
            self._still_held(tenant, session_id)
            return Answer(202, self.sessions.push_page(tenant, session_id, body.decoded, wire, judged))

        try:
            outcome = await self._under_scenario(call, tenant, run, entity_types, page_hint)
            if isinstance(outcome, Injected) and _refuses_as_invalid(outcome.decision):
                records = judged.total if isinstance(judged, PageVerdict) else _record_count(body.decoded)
                hint = _hint_read(tenant, page_hint, body.decoded, judged)
                outcome.batch = batch_response(session_id, 0, {}, records, [], False, hint)
                if outcome.real is None and self.tenants.get(tenant.id) is tenant:
                    # the rule answered before the push ran: a page rejected on its session (if the
                    # integration was not deleted or replaced during the rule's delay)
                    refusal = ApiError(400, outcome.decision.rejection_code, outcome.decision.detail)
                    rule = ", ".join(outcome.decision.rules)
                    learned = PageVerdict({}, {}, records, hint)
                    self.sessions.reject_by_rule(tenant, session_id, wire, refusal, body.decoded, learned, rule)
            return outcome
        finally:
            if wire.page is None:
                # The page never reached its session (a rule answered other than as a rejection,
                # or the session was gone after a rule's delay): the journal keeps its hint all the
                # same, so the judge can tell the page sent again (serialized anew, say) from the
                # next one sent in its place. Read only here, off the usual path.
                wire.page_hint = _hint_read(tenant, page_hint, body.decoded, judged)

    async def _judge_large(self, tenant: Tenant, session_id: str, wire: Wire, decoded: bytes) -> PageVerdict | ApiError:
        """A large page's verdict, from a worker thread: its Python walks give the event loop its
        turn (the GIL switches between them), so the other clients' requests, a health check
        included, are answered meanwhile. While it is parsed, the page and what parsing makes of it
        (``PARSE_FACTOR`` times its size) are counted in the memory budget: a page that cannot be
        parsed within it is refused 507 first, so many large pages at once cannot take the process
        far past the budget."""
        transient = len(decoded) * PARSE_FACTOR
        loop = asyncio.get_running_loop()
        try:
            self.budget.check(transient)
        except ApiError as error:
            # digested on a worker too, as the page's verdict would have been (blake2b held the loop
            # ~35 ms for 24 MB; StringZilla's hash takes ~1 ms, still better spent off the loop)
            wire.digest = await loop.run_in_executor(self._judges, page_digest, decoded)
            self.sessions.reject_push(tenant, session_id, wire, error)  # a deleted tenant's: nobody reads it
            raise
        self.budget.reserve(transient)
        settings = tenant.settings

        sources = self.registry.sources

        def judge() -> tuple[PageVerdict | ApiError, str]:
            # in the judging child (a GIL of its own: judging.py), else here on the thread
            answer = judging.CHILD.judge(sources, settings, decoded) if sources is not None else None
            if answer is not None:
                return judging.unpack(answer[0]), answer[1]
            return self.sessions.judge_apart(settings, decoded), page_digest(decoded)

        try:
            async with self._judging_turn(loop):
                if (rest := self._judge_rests_until - time.monotonic()) > 0:
                    await asyncio.sleep(rest)
                started = time.monotonic()
                judged, wire.digest = await loop.run_in_executor(self._judges, judge)
                finished = time.monotonic()
                self._judge_rests_until = finished + (finished - started) * (1 - JUDGE_DUTY) / JUDGE_DUTY
        finally:
            self.budget.release(transient)
        return judged

    def _judging_turn(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        """Large pages take turns on the loop, so the judge's rest comes between them (a lock of
        the running loop: an emulator served on another loop later gets a new one)."""
        if self._judge_turn is None or self._judge_turn[0] is not loop:
            self._judge_turn = (loop, asyncio.Lock())
        return self._judge_turn[1]

    @property
    def _judges(self) -> ThreadPoolExecutor:
        if self._judge_thread is None:
            self._judge_thread = ThreadPoolExecutor(1, thread_name_prefix="mock-sprinto-judge")
        return self._judge_thread

    def _still_held(self, tenant: Tenant, session_id: str) -> None:
        """After an await (a body arriving, a page judged, a scenario's delay): the integration may
        have been deleted or the emulator reset meanwhile; its session is then gone, and a page or
        a close answered 202 would be kept nowhere."""
        if self.tenants.get(tenant.id) is not tenant:
            raise ApiError.of(
                SESSION_NOT_FOUND,
                f"integration {tenant.id!r} was deleted, replaced by a state bundle's import, or the emulator reset "
                "while this request was on its way; "
                f"session {session_id[:140]!r} is gone",
            )

    async def close(self, call: Call, source: BodySource) -> Outcome:
        tenant = self._enter(call)
        body = await self._optional_json(call, tenant, source)
        session_id = _session_of(call)
        closing = self.sessions.applied_by_close(tenant, session_id, body)
        work = None
        if closing is not None and self.timeline.applies_in_the_close(tenant, closing):
            # Marked as being built before it closes: the close's own settle then waits for the
            # slices (built below, beside other clients' requests) instead of building it whole.
            work = self.timeline.begin_building(tenant, closing)

        def run() -> Answer:
            self._still_held(tenant, session_id)
            session = self.sessions.close_session(tenant, session_id, body)
            if work is None and session.state is State.PROCESSING and self.timeline.worth_preparing(session):
                self._in_background(self.timeline.prepare_apply(tenant, session))
            return Answer(202, session.public())

        try:
            outcome = await self._under_scenario(call, tenant, run)
        finally:
            if closing is not None and closing.applying is work and closing.state in (State.ACTIVE, State.EXPIRED):
                closing.applying = None  # not closed after all (refused, or a scenario answered for it)
        if work is None or closing is None or closing.state is not State.PROCESSING or closing.applying is not work:
            return outcome
        # Closed, so no push, close or discard can change it now (each gets 409, as once the close
        # is answered); the apply is built, then made, and the answer says so.
        await self.timeline.prepare_apply(tenant, closing, work)
        self.timeline.settle(tenant)
        if isinstance(outcome, Answer) and not tenant.forgotten:
            return Answer(outcome.status, closing.public(), outcome.headers)
        return outcome

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the loop, holding it until it ends (the loop keeps only a weak reference)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def integration_status(self, call: Call) -> Outcome:
        tenant = self._enter(call)
        return await self._under_scenario(call, tenant, lambda: Answer(200, self.sessions.status_counts(tenant)))

    async def activity(
        self, call: Call, since: Sequence[str] = (), page: Sequence[str] = (), page_size: Sequence[str] = ()
    ) -> Outcome:
        """Each query parameter as every value sent: one sent twice is refused once the key is
        accepted (``?page=2&page=abc``: which one was meant is a guess, the other may be a bug)."""
        tenant = self._enter(call)
        for name, values in (("since", since), ("page", page), ("page_size", page_size)):
            if len(values) > 1:
                raise repeated_parameter(name, len(values))
        return await self._under_scenario(
            call,
            tenant,
            lambda: Answer(200, self.sessions.activity_page(tenant, _first(since), _first(page), _first(page_size))),
        )

    def journal_call(self, call: Call | None, exchange: Exchange) -> None:
        """Record a vendor request as answered (``call`` is None for a path no operation serves)."""
        row = _row(call, exchange, next(self._order), self.clock, self.settings)
        self.journal.add_row(row)
        tenant = call.learned.tenant if call is not None else None
        if tenant is not None and not plain_success(row):
            # An error status or a code: ``nothing_to_meet`` would say no. The row counts for the
            # integration's tenant now, also one made again while the request was under way.
            tenant.quiet = False
            current = self.tenants.get(tenant.id)
            if current is not None:
                current.quiet = False

    def _enter(self, call: Call) -> Tenant:
        """What every vendor request does first: version, api-key, tenant, rate limit."""
        learned = call.learned
        learned.arrival = next(self._order)
        if call.version not in SUPPORTED_VERSIONS:
            raise ApiError.of(
                UNSUPPORTED_VERSION,
                f"API version {call.version[:40]!r} is not served; use {', '.join(SUPPORTED_VERSIONS)}",
                supported_versions=list(SUPPORTED_VERSIONS),
            )
        tenant = learned.tenant = self.authenticate(call.integration_id, call.api_key, learned.arrival)
        learned.arrived_at = tenant.now()
        learned.loop_busy = loop_busy_before()
        learned.rate_limit_headers = throttle(tenant, call.operation)
        return tenant

    async def _optional_json(self, call: Call, tenant: Tenant, source: BodySource) -> Any:
        """A small optional JSON body (start, close): None when there is none."""
        if not source.present:
            return None
        body = await source.read(tenant.settings)
        call.learned.request_body = body.decoded
        if not body.decoded:  # empty is no body; white space alone is not JSON (400)
            return None
        settings = tenant.settings
        return parse_json(
            body.decoded, settings.max_json_depth, reject_repeated_names=settings.duplicate_names == "reject"
        )

    async def _scenario_delay(self, seconds: float) -> None:
        """A rule's delay, cut short when the server stops: the request is then answered 503
        ``shutting_down`` instead of holding the shutdown for its grace period (a delay is the
        emulator's own wait: nothing the client sent is lost by ending it)."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            return
        raise shutting_down()

    def stop_delays(self) -> None:
        """The server is stopping: every scenario delay in progress ends now."""
        self._stopping.set()

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
        forced = parse_prefer(list(call.prefer)) if call.prefer and tenant.settings.prefer_header else None
        if forced is not None:
            decision: Decision | None = forced  # this one request's answer; the scenario is not asked
            call.learned.preference_applied = forced.rules[0].removeprefix("Prefer: ")
        else:
            digest = call.learned.wire.digest if call.learned.wire is not None else None
            decision = self.decide(tenant, call.operation, call.session_id, entity_types, page_hint, digest)
        if decision is None:
            return run()
        call.learned.rule = ", ".join(decision.rules)
        if decision.delay_seconds:
            await self._scenario_delay(decision.delay_seconds)
        if decision.lifecycle:
            self.timeline.apply_lifecycle(tenant, call.session_id, decision.lifecycle, decision.rules)
        try:
            return self._answered(call, decision, run)
        finally:
            # The rules in phase after act once the operation had its turn: it ran (its answer or
            # its refusal made), or a rule answered before it. Their answer, if any, comes later.
            if decision.lifecycle_after:
                self.timeline.apply_lifecycle(tenant, call.session_id, decision.lifecycle_after, decision.rules)

    @staticmethod
    def _answered(call: Call, decision: Decision, run: Callable[[], Answer]) -> Outcome:
        """The operation's own answer, or the rule's given before it (it never runs) or after it."""
        if not decision.replaces_response:
            return run()
        call.learned.transport = decision.transport
        if decision.phase == "before":
            return Injected(decision, None)
        try:
            real = run()
        except ApiError as error:
            real = Answer(error.status, error.problem(), dict(error.headers))
            let_go_of_frames(error)  # answered here, not by the envelope, which lets go of the others
        return Injected(decision, real)

    def decide(
        self,
        tenant: Tenant,
        operation: Operation,
        session_id: str | None = None,
        entity_types: frozenset[str] = frozenset(),
        page_hint: int | str | None = None,
        digest: str | None = None,
    ) -> Decision | None:
        """Which scenario rules fire on this request (counted once per request); ``digest``: a
        pushed page's, which tells a page sent again from the next one (``page_number``)."""
        if tenant.faults.scenario is None:
            return None
        session_ordinal = page_ordinal = None
        if operation == "start_session":
            session_ordinal = tenant.session_count + 1
        elif session_id is not None and (session := tenant.sessions.get(session_id)) is not None:
            session_ordinal = session.ordinal
            if operation == "push_page":
                page_ordinal = page_number(session, digest)
        facts = RequestFacts(operation, session_ordinal, page_ordinal, entity_types, page_hint)
        return decide(tenant.faults, facts)


def _nbytes(scenario: Scenario | None) -> int:
    return 0 if scenario is None else scenario.nbytes


def _invalid_key(integration_id: str) -> ApiError:
    # The same answer for an unknown integration and a wrong key: nothing leaks about which.
    return ApiError.of(INVALID_API_KEY, f"the api-key is not valid for integration {integration_id[:140]!r}")


def malformed_api_key(why: str) -> ApiError:
    """A key that cannot be any integration's (never bound, never compared)."""
    return ApiError.of(MALFORMED_API_KEY, f"the 'api-key' header cannot be used: {why}; send the key once, as text")


def _is_text(value: str) -> bool:
    """False for a header value that is not UTF-8 on the wire (aiohttp keeps such bytes as
    lone surrogates, which no key can equal and which cannot be encoded again)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_NOTHING_LEARNED = Learned()  # what the journal knows of a path no operation serves (never written)


def _row(call: Call | None, exchange: Exchange, answer: int, clock: Clock, settings: Settings) -> Row:
    """The journal's row of an answered request (``JournalEntry``'s fields, in their order): what
    the door learned of its call (nothing for a path no operation serves) beside what the transport
    saw of the exchange. Made as the row the ring keeps, with no ``JournalEntry`` in between: the
    entry, read back field by field into the row, was a fifth of the journal's cost of a push
    (benchmarks/ANALYSIS.md); ``tests/unit/test_calls.py`` checks every field read back by name."""
    learned = call.learned if call is not None else _NOTHING_LEARNED
    tenant, wire = learned.tenant, learned.wire
    at = tenant.now() if tenant is not None else clock.now()
    status, code = exchange.status, exchange.code
    response_headers = exchange.response_headers
    retry_after = _whole_seconds(response_headers.get("Retry-After"))
    if learned.transport is not None:
        code = f"transport_{learned.transport}"
        if learned.transport in SILENT_FAULTS:
            status, retry_after = 0, None  # nothing reached the client
    session_id = None
    if tenant is not None and call is not None:
        session_id = call.session_id if call.session_id is not None else learned.created_session
        if session_id is not None and len(session_id) > 128:
            session_id = session_id[:128]  # an id from the path no session has (theirs are 28): as the path, cut
    # What the HAR export reads: the request's headers within ``journal_header_bytes``, and the
    # bodies, cut at ``journal_bodies_bytes``, only when capture is on.
    request_headers, dropped = kept_headers(exchange.request_headers, settings.journal_header_bytes)
    answered_with: Any = response_headers.items()
    if learned.rule is not None:  # a scenario's headers, up to 50 of 8 KB: kept within the same bound
        answered_with, _ = kept_headers(tuple(answered_with), settings.journal_header_bytes)
    request_body = response_body = request_body_bytes = response_body_bytes = None
    limit = settings.journal_bodies_bytes
    if limit:
        body = learned.request_body if call is not None else None
        if body is not None:
            request_body, request_body_bytes = body[:limit], len(body)
        if exchange.response_body is not None:
            response_body, response_body_bytes = exchange.response_body[:limit], len(exchange.response_body)
    return (
        exchange.request_id,
        at,
        exchange.method,
        exchange.path[:300],
        call.operation if call is not None else UNMATCHED_OPERATION,
        status,
        code,
        _ms_since(exchange.started),
        tenant.id if tenant is not None else None,
        session_id,
        exchange.bytes_in,
        learned.rule,
        learned.arrived_at if learned.arrived_at is not None else at,
        learned.arrival or answer,
        answer,
        retry_after,
        wire.encoding if wire is not None else None,
        _body_bytes(wire) if wire is not None else None,
        wire.digest if wire is not None else None,
        wire.page if wire is not None else None,
        wire.page_hint if wire is not None else None,
        learned.names_session,
        exchange.connection,
        exchange.query[: settings.journal_header_bytes],
        exchange.http_version,
        packed_request_headers(request_headers),
        dropped,
        packed_response_headers(answered_with),  # not the framework's multidict
        request_body,
        response_body,
        request_body_bytes,
        response_body_bytes,
        exchange.response_type,
        learned.loop_busy,
    )


def _body_bytes(wire: Wire) -> int | None:
    """A push's body on the wire, as the journal keeps it: the bytes read or, when the read was
    refused (too large, badly coded, too slow), the length declared (None when none was)."""
    read = wire.digest is not None  # the digest is taken once the whole body is read
    return wire.wire_bytes if read else wire.wire_bytes or None


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _whole_seconds(header: str | None) -> int | None:
    """A Retry-After of delta-seconds, as the emulator writes it (never an HTTP-date; a scenario rule
    sets it only with ``retry_after``), read as any header is: None for what is not a whole number
    the journal can write."""
    return header_whole(header, 2**62)


def _first(values: Sequence[str]) -> str | None:
    return values[0] if values else None


def _session_of(call: Call) -> str:
    assert call.session_id is not None, f"{call.operation} addresses a session"
    return call.session_id


def _hint_read(
    tenant: Tenant, page_hint: int | str | None, decoded: bytes, judged: PageVerdict | ApiError | None
) -> int | str | None:
    """A push's page_hint: read for the scenario's rules already, or read now (off the usual path)."""
    return page_hint if tenant.faults.needs_body else _page_facts(decoded, judged)[1]


def _refuses_as_invalid(decision: Decision) -> bool:
    """A rule answering a push 400 with no body of its own: a page refused as if a record were invalid."""
    respond = decision.respond
    return decision.transport is None and respond is not None and respond.status == 400 and not respond.has_body


def _record_count(decoded: bytes) -> int:
    """How many records a page holds, as its 400 counts them (0 when it cannot be read)."""
    if many_values(decoded):
        return 0
    try:
        page = orjson.loads(decoded)
    except orjson.JSONDecodeError:
        return 0
    entities = page.get("entities") if isinstance(page, dict) else None
    if not isinstance(entities, dict):
        return 0
    return record_count(entities)


def _page_facts(decoded: bytes, judged: PageVerdict | ApiError | None) -> tuple[frozenset[str], int | str | None]:
    """Entity types and page_hint of a page, for rules that match on them (best effort): from its
    verdict when it was judged already, none for a text too large in values to parse twice."""
    if judged is not None:
        if isinstance(judged, ApiError) or judged.code is TOO_MANY_ITEMS:
            return frozenset(), None
        return frozenset(judged.counts), judged.page_hint
    if many_values(decoded):
        return frozenset(), None
    try:
        page = orjson.loads(decoded)
    except orjson.JSONDecodeError:
        return frozenset(), None
    if not isinstance(page, dict):
        return frozenset(), None
    entities = page.get("entities")
    types = frozenset(entities) if isinstance(entities, dict) else frozenset()
    return types, usable_page_hint(page.get("page_hint"))
