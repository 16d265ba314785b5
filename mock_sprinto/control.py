"""The control plane's door: what a test or a developer does to the emulator through ``/_mock``.

Reset, integrations, clocks, scenarios, setting overrides, and the views of sessions, records and
the journal, on plain Python values (as moto's ``moto_api`` is a backend of its own). The HTTP
layer (``http/control.py``) only parses requests and serializes what these return; the test
handles (``mock_sprinto.testing``) call the same methods directly where no request should be
made (the activity log, a failing test's report).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from . import __version__
from .budget import CONTROL_REMEDY, trim_if_due
from .clock import OffsetClock, format_time, parse_time
from .codes import (
    ENTITY_TYPE_NOT_FOUND,
    INTEGRATION_EXISTS,
    INVALID_PARAMETER,
    INVALID_SCENARIO,
    PERSISTENCE_OFF,
    SESSION_NOT_FOUND,
    STATE_NOT_SAVED,
)
from .errors import ApiError
from .faults.engine import counters
from .faults.scenario import (
    Scenario,
    ScenarioError,
    load_scenario_file,
    parse_scenario,
    shipped_by_name,
    shipped_scenarios,
)
from .journal import JournalEntry, entries_of
from .jsontext import array_of_parts, array_parts, object_opening
from .naming import INTEGRATION_ID, api_key_problem
from .rows import Row
from .service import Emulator
from .settings import check_overrides, describe
from .settings.values import did_you_mean
from .steps import Steps, finished
from .store import ActivityItem, ActivityLog, Dataset, Session, Tenant, TenantAsItStood, page_fields

if TYPE_CHECKING:
    from .bundle import Restoration
    from .report import Report

MAX_KEY_CHARS = 512
# A stepped read (``steps``) makes this many journal entries a step: ~2-5 ms of the loop each.
ENTRIES_PER_STEP = 2_000
# The one-session view and the sessions list make and write a session's pages this many a part:
# ~3 ms of the loop (a page made from its flat row and serialized, ~5 µs; a session of 30,000
# pages made whole was one step of ~150-220 ms).
PAGES_PER_PART = 500
# The overview (the dashboard's read, every second): the newest sessions it holds by default, and
# at most when asked; the last pages of each; the last activity items and anomalies (what the
# dashboard's activity card lists: dashboard.js ACTIVITY_SHOWN).
OVERVIEW_SESSIONS = 20
MAX_OVERVIEW_SESSIONS = 1000
OVERVIEW_PAGES = 100
MAX_OVERVIEW_PAGES = 1000
OVERVIEW_ACTIVITY = 200
PAGE_EVENTS = frozenset({"page_accepted", "page_rejected", "page_refused"})
_LEVEL, _TYPE, _SESSION = (ActivityItem._fields.index(name) for name in ("level", "type", "session_id"))


class ControlPlane:
    """The control-plane use cases over one Emulator (stateless: make one wherever needed)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # ---- the server -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        emulator = self.emulator
        return {
            "status": "ok",
            "version": __version__,
            "integrations": len(emulator.tenants),
            "now": format_time(emulator.clock.now()),
            "memory": emulator.budget.public(),
        }

    def settings(self) -> dict[str, Any]:
        emulator = self.emulator
        return {
            "settings": emulator.settings.public(),
            # default, config, environment or flag: which layer set each value
            "sources": {name: emulator.config.source_of(name) for name in emulator.settings.public()},
            "reference": describe(),
            "entity_types": {
                name: {"key_field": schema.key_field, "source": schema.source}
                for name, schema in sorted(emulator.registry.types.items())
            },
            "integrations_declared": sorted(emulator.declared),
            "auto_create_integrations": emulator.auto_create,
        }

    def reset(self) -> dict[str, Any]:
        self.emulator.reset()
        return {"reset": True}

    # ---- integrations -----------------------------------------------------------------------
    def create_integration(self, integration_id: Any = None, api_key: Any = None) -> dict[str, Any]:
        """A new integration, its id and key generated when not given; 409 if the id is taken."""
        tenant = self.make_integration(integration_id, api_key)
        return {**_summary(tenant), "api_key": tenant.api_key}

    def make_integration(self, integration_id: Any = None, api_key: Any = None) -> Tenant:
        """``create_integration`` without its answer: the pytest fixture's create, which reads none."""
        refusal = _argument_refusal(integration_id, api_key)
        if refusal is not None:
            raise refusal
        emulator = self.emulator
        if integration_id is None:
            integration_id = emulator.ids.make("int")
        if integration_id in emulator.tenants:
            raise ApiError.of(INTEGRATION_EXISTS, f"integration {integration_id!r} already exists")
        if api_key is None:
            api_key = emulator.ids.make("key")
        return emulator.new_tenant(integration_id, api_key)

    def creatable(self, integration_id: str, api_key: str, before: int = 0) -> bool:
        """Whether ``create_integration(integration_id, api_key)`` would make it, after ``before``
        other creates: it reads and changes nothing (the pytest fixture queues a create without
        waiting for it only when it cannot be refused)."""
        return (
            _argument_refusal(integration_id, api_key) is None
            and integration_id not in self.emulator.tenants
            and self.emulator.new_tenant_refusal(integration_id, before) is None
        )

    def integrations_parts(self) -> Iterator[bytes]:
        """Every integration's summary as JSON text in parts (``jsontext``), for the HTTP route to
        stream (the dashboard reads it every second): the integrations are chosen now, each settled
        and summed up when it is written (5,000 were ~100 ms in one step of the loop); one deleted
        before its turn is left out, as if it had been deleted before the read."""
        emulator = self.emulator
        chosen = list(emulator.tenants.values())

        def summaries() -> Iterator[bytes]:
            for tenant in chosen:
                if not tenant.forgotten:
                    emulator.settle(tenant)
                    yield orjson.dumps(_summary(tenant))

        return array_parts(b'{"integrations":[', summaries(), b"]}")

    def integration(self, integration_id: str) -> dict[str, Any]:
        return _summary(self.emulator.tenant(integration_id))

    def delete_integration(self, integration_id: str) -> None:
        """Forget one tenant (a declared one comes back empty, bound to its key)."""
        _check_id(integration_id)  # a typo'd id must not look like a successful wipe
        emulator = self.emulator
        gone = emulator.tenants.pop(integration_id, None)
        if gone is not None:
            gone.release_memory()
            del gone
            trim_if_due()
        if integration_id in emulator.declared:
            emulator.new_tenant(integration_id, emulator.declared[integration_id])

    # ---- clocks -------------------------------------------------------------------------------
    def clock(self, integration_id: str | None = None) -> dict[str, Any]:
        clock, tenant = self._clock_of(integration_id)
        return self._clock_view(clock, tenant)

    def advance_clock(self, seconds: Any, integration_id: str | None = None) -> dict[str, Any]:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ApiError.of(
                INVALID_PARAMETER, "'seconds' must be a number, e.g. {\"seconds\": 3600}", parameter="seconds"
            )
        return self._moved(integration_id, lambda clock: clock.advance(float(seconds)))

    def set_clock(self, now: Any, integration_id: str | None = None) -> dict[str, Any]:
        try:
            when = parse_time(now) if isinstance(now, str) else None
        except ValueError:
            when = None
        if when is None:
            raise ApiError.of(
                INVALID_PARAMETER, "'now' must be an RFC 3339 time such as 2030-01-01T00:00:00Z", parameter="now"
            )
        return self._moved(integration_id, lambda clock: clock.set(when))

    def _clock_of(self, integration_id: str | None) -> tuple[OffsetClock, Tenant | None]:
        if integration_id is None:
            return self.emulator.clock, None
        tenant = self.emulator.tenant(integration_id)
        return tenant.clock, tenant

    def _moved(self, integration_id: str | None, move: Callable[[OffsetClock], object]) -> dict[str, Any]:
        """The server's clock, or an integration's (made if unseen), moved by ``move``."""
        if integration_id is None:
            move(self.emulator.clock)
            return self._after_clock_move(self.emulator.clock, None)
        with self._writing(integration_id) as tenant:
            move(tenant.clock)
        return self._after_clock_move(tenant.clock, tenant)

    @contextlib.contextmanager
    def _writing(self, integration_id: str) -> Iterator[Tenant]:
        """The integration a control write names, made (bound to no key) if unseen; a write refused
        (a clock step too large, a scenario over the memory budget) leaves nothing made."""
        made = integration_id not in self.emulator.tenants
        tenant = self.emulator.tenant_to_write(integration_id)
        try:
            yield tenant
        except ApiError:
            if made and self.emulator.tenants.get(integration_id) is tenant:
                self.delete_integration(integration_id)
            raise

    def _after_clock_move(self, clock: OffsetClock, tenant: Tenant | None) -> dict[str, Any]:
        if tenant is not None:
            self.emulator.settle(tenant)  # what fell due happens now, not at the next request
        return self._clock_view(clock, tenant)

    def _clock_view(self, clock: OffsetClock, tenant: Tenant | None) -> dict[str, Any]:
        now = clock.now()
        view: dict[str, Any] = {
            "now": format_time(now),
            "epoch_seconds": now,
            "offset_seconds": clock.offset,
            "frozen": self.emulator.settings.frozen_clock,
        }
        if tenant is not None:
            view["integration_id"] = tenant.id
        return view

    # ---- scenarios and settings ---------------------------------------------------------------
    def scenario(self, integration_id: str | None = None) -> dict[str, Any]:
        emulator = self.emulator
        if integration_id is None:
            scenario = emulator.scenario
            return {"scenario": None if scenario is None else scenario.public(), "applies_to": "global"}
        tenant = emulator.tenant(integration_id)
        own = tenant.own_scenario
        effective = own or emulator.scenario
        return {
            "integration_id": tenant.id,
            "scenario": None if effective is None else effective.public(),
            "applies_to": "integration" if own is not None else ("global" if effective is not None else None),
            "rules": counters(tenant.faults),
            "effective_settings": tenant.settings.public(),
        }

    def put_scenario(self, value: Any, integration_id: str | None = None) -> dict[str, Any]:
        """``value``: a shipped scenario's name (never a path), or an inline scenario object."""
        try:
            if isinstance(value, str):
                scenario = shipped_by_name(value)
            elif isinstance(value, dict):
                scenario = parse_scenario(value, "scenario")
            else:
                raise ApiError.of(
                    INVALID_SCENARIO,
                    'send a shipped scenario name ("rate-limited") or a scenario object',
                    errors=[{"path": "", "line": None, "message": "expected a string or an object"}],
                )
        except ScenarioError as exc:
            raise ApiError.of(
                INVALID_SCENARIO,
                f"the scenario has {exc.total} problem(s)",
                errors=[p.public() for p in exc.problems],
            ) from None
        self.set_scenario(scenario, integration_id)
        return self.scenario(integration_id)

    def set_scenario(self, scenario: Scenario | None, integration_id: str | None = None) -> None:
        """Install (or with None remove) the global scenario, or one integration's own."""
        emulator = self.emulator
        size = 0 if scenario is None else scenario.nbytes  # counted in the memory budget
        if integration_id is not None:
            if scenario is None and integration_id not in emulator.tenants:
                _check_id(integration_id)
                return  # removing the scenario of an integration not held: nothing to do, nothing made
            with self._writing(integration_id) as tenant:
                before = 0 if tenant.own_scenario is None else tenant.own_scenario.nbytes
                if size > before:
                    tenant.budget.check(size - before, CONTROL_REMEDY)
                tenant.own_scenario = scenario
                tenant.keep(size - before)
                emulator.take_scenario(tenant)
            return
        before = 0 if emulator.scenario is None else emulator.scenario.nbytes
        if size > before:
            emulator.budget.check(size - before, CONTROL_REMEDY)
        emulator.budget.add(size - before)
        emulator.scenario = scenario
        for each in emulator.tenants.values():
            if each.own_scenario is None:
                emulator.take_scenario(each)

    def shipped_scenarios(self) -> dict[str, Any]:
        listed = []
        for name, path in shipped_scenarios().items():
            listed.append({"name": name, "description": load_scenario_file(path).description})
        return {"scenarios": listed}

    def integration_settings(self, integration_id: str) -> dict[str, Any]:
        tenant = self.emulator.tenant(integration_id)
        scenario = tenant.faults.scenario
        scenario_settings = scenario.settings if scenario is not None else {}

        def source(name: str) -> str:
            if name in tenant.settings_overrides:
                return "integration"
            if name in scenario_settings:
                return "scenario"
            return self.emulator.config.source_of(name)

        effective = tenant.settings.public()
        return {
            "integration_id": tenant.id,
            "overrides": dict(tenant.settings_overrides),
            "effective": effective,
            # default, config, environment, flag, scenario or integration: the layer that won
            "sources": {name: source(name) for name in effective},
        }

    def put_integration_settings(self, integration_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Replace the integration's own setting overrides (checked; every problem listed)."""
        checked, problems = check_overrides(overrides)
        if problems:
            raise ApiError.of(
                INVALID_PARAMETER,
                f"{len(problems)} setting(s) refused",
                errors=[{"setting": name, "message": message} for name, message in problems.items()],
            )
        tenant = self.emulator.tenant_to_write(integration_id)
        tenant.settings_overrides = checked
        self.emulator.refresh_settings(tenant)
        return self.integration_settings(integration_id)

    def delete_integration_settings(self, integration_id: str) -> None:
        """Drop the integration's own overrides (an integration not held: nothing to do, nothing made)."""
        if integration_id in self.emulator.tenants:
            self.put_integration_settings(integration_id, {})
        else:
            _check_id(integration_id)

    # ---- what the emulator saw ------------------------------------------------------------------
    def sessions_parts(self, integration_id: str) -> Iterator[bytes]:
        """Every session kept, with its pages, as JSON text in parts (``jsontext``), for the HTTP
        route to stream: the sessions are chosen now, each one's view made when it is written (as it
        stands then), so a thousand sessions are not one step of the loop (~35 ms); and each
        session's pages ``PAGES_PER_PART`` at a time (``_detail_parts``), so neither is one session
        of 30,000 pages (~220 ms)."""
        tenant = self.emulator.tenant(integration_id)
        chosen = list(tenant.sessions.values())
        opening = b'{"integration_id":' + orjson.dumps(tenant.id) + b',"sessions":['
        return array_of_parts(opening, (_detail_parts(session) for session in chosen), b"]}")

    def sessions_kept(self, integration_id: str) -> list[dict[str, Any]]:
        """The sessions of an integration if it exists, without creating it (a failing test's
        report is written after the fixture deleted its integration)."""
        tenant = self.emulator.tenants.get(integration_id)
        if tenant is None:
            return []
        self.emulator.settle(tenant)
        return [session.detail() for session in tenant.sessions.values()]

    def session(self, integration_id: str, session_id: str) -> dict[str, Any]:
        return self._session(integration_id, session_id).detail()

    def session_parts(self, integration_id: str, session_id: str) -> Iterator[bytes]:
        """``session`` as JSON text in parts, for the HTTP route to stream: its pages are made and
        written ``PAGES_PER_PART`` at a time (a session of 30,000 pages was one step of the loop of
        ~150-190 ms, staged or processed). A session not found is refused now, before any part."""
        return _detail_parts(self._session(integration_id, session_id))

    def _session(self, integration_id: str, session_id: str) -> Session:
        tenant = self.emulator.tenant(integration_id)
        session = tenant.sessions.get(session_id)
        if session is None:
            raise ApiError.of(SESSION_NOT_FOUND, f"integration {tenant.id!r} has no such session")
        return session

    def datasets(self, integration_id: str) -> dict[str, Any]:
        tenant = self.emulator.tenant(integration_id)
        return {
            "integration_id": tenant.id,
            "datasets": {name: len(ds.records) for name, ds in sorted(tenant.datasets.items())},
        }

    def records(self, integration_id: str, entity_type: str, offset: int, limit: int) -> dict[str, Any]:
        return self._dataset(integration_id, entity_type).describe(offset, limit)

    def records_parts(
        self, integration_id: str, entity_type: str, offset: int, limit: int
    ) -> tuple[bytes, Iterator[bytes], bytes]:
        """``records`` as JSON text in parts for the HTTP route to stream (a million records is
        hundreds of MB): the answer up to its records, each record as kept, the end."""
        head, window = self._dataset(integration_id, entity_type).describe_parts(offset, limit)
        return orjson.dumps(head)[:-1] + b',"records":[', window, b"]}"

    def _dataset(self, integration_id: str, entity_type: str) -> Dataset:
        """The records applied of ``entity_type``: none yet of a type a schema knows or a session
        of the integration was sent; 404 ``entity_type_not_found`` for a type none of these names
        (a typo, ``user``, read as "nothing applied" made a test's assertion on an empty list pass)."""
        tenant = self.emulator.tenant(integration_id)
        dataset = tenant.datasets.get(entity_type)
        if dataset is not None:
            return dataset
        known = self.emulator.registry.types
        sent = any(entity_type in session.accepted_records_by_entity for session in tenant.sessions.values())
        if entity_type not in known and not sent:
            applied = sorted(tenant.datasets)
            raise ApiError.of(
                ENTITY_TYPE_NOT_FOUND,
                f"integration {tenant.id!r} has no records of type {entity_type[:80]!r}, and no schema names it"
                f"{_closest_type(entity_type, [*applied, *known])} "
                f"(applied: {', '.join(applied) or 'none'}; known: {', '.join(sorted(known)) or 'none'})",
            )
        return Dataset(entity_type, self.emulator.registry.key_field(entity_type))

    def activity(self, integration_id: str) -> list[dict[str, Any]]:
        """The whole activity log, oldest first, without a vendor request (not journaled, not
        throttled, not subject to the scenario)."""
        return [item.public() for item in self.emulator.tenant(integration_id).activity]

    def activity_parts(self, integration_id: str) -> Iterator[bytes]:
        """``{"items": activity}`` as JSON text in parts, for the HTTP route to stream: the items
        are chosen now, each made when it is written (a full log of 10,000: ~25 ms in one step)."""
        rows = list(self.emulator.tenant(integration_id).activity.rows)
        return array_parts(b'{"items":[', (orjson.dumps(ActivityItem._make(row).public()) for row in rows), b"]}")

    def overview_steps(
        self,
        integration_id: str,
        entity_type: str | None = None,
        offset: int = 0,
        limit: int = 20,
        sessions: int = OVERVIEW_SESSIONS,
        pages: int = OVERVIEW_PAGES,
    ) -> Steps[dict[str, Any]]:
        """What the dashboard shows of one integration, in one read that never creates it (a
        dashboard polling an integration a test just deleted must not bring it back): ``exists``
        false and nothing else when it is unknown.

        Bounded, as the dashboard reads it every second (issue 22: 1,000 sessions of 10 pages made
        6 MB in ~0.2 s of one loop step): the newest ``sessions`` sessions, each with its last
        ``pages`` pages, and of the activity log the last ``OVERVIEW_ACTIVITY`` items, the last
        ``OVERVIEW_ACTIVITY`` anomalies and the items of the sessions shown (their page events only
        for the pages shown); ``sessions_total``, each session's ``pages_total`` and
        ``activity_total`` say how many there are. ``sessions`` and ``activity`` are the full
        views' (``GET .../sessions``, ``GET .../activity``) items, oldest first."""
        if not INTEGRATION_ID.match(integration_id):
            raise ApiError.of(INVALID_PARAMETER, f"no integration can have the id {integration_id[:140]!r}")
        while True:
            judged = self.emulator.tenants.get(integration_id)
            if judged is None:
                return {"integration_id": integration_id, "exists": False}
            report = yield from self.report_steps(integration_id)  # the loop's other clients answered meanwhile
            if self.emulator.tenants.get(integration_id) is judged:  # not deleted (nor made again) meanwhile
                break
        tenant = self.emulator.tenant(integration_id)  # settled: what fell due has happened
        datasets = self.datasets(integration_id)["datasets"]
        shown = entity_type if entity_type in datasets else next(iter(datasets), None)
        newest = list(itertools.islice(reversed(tenant.sessions.values()), sessions))[::-1]
        return {
            "integration_id": integration_id,
            "exists": True,
            "clock": self.clock(integration_id),
            "sessions": [session.detail(pages) for session in newest],
            "sessions_total": len(tenant.sessions),
            "activity": _overview_activity(tenant.activity, {session.id for session in newest}, pages),
            "activity_total": len(tenant.activity),
            "report": report.public(),
            "scenario": self.scenario(integration_id),
            "datasets": datasets,
            "records": None if shown is None else self.records(integration_id, shown, offset, limit),
        }

    def report_of(self, integration_id: str) -> Report:
        return finished(self.report_steps(integration_id))

    def report_steps(self, integration_id: str) -> Steps[Report]:
        """``report_of`` a step at a time (``steps``): the journal's rows and the sessions are taken
        now, in one step, and every later step judges that instant (``TenantAsItStood``)."""
        from .report import judging  # imported here: the judge is paid for when asked, not at start-up

        registry = self.emulator.registry
        known = {name: schema.known_fields for name, schema in registry.types.items()}
        judged, rows = self._as_it_stands(integration_id)
        return (yield from judging(judged, (yield from _entries_in_steps(rows)), known, registry.key_fields))

    def _as_it_stands(self, integration_id: str) -> tuple[TenantAsItStood, list[Row]]:
        """What a stepped read judges, taken in one step: the integration as it stands and its
        journal's rows (made into entries in later steps: ``_entries_in_steps``)."""
        tenant = self.emulator.tenant(integration_id)
        return TenantAsItStood.of(tenant), self.emulator.journal.rows_answered_after(tenant.since, integration_id)

    def coverage_kept(self, integration_id: str) -> dict[str, bool | None]:
        """The behaviours an integration's run met (behaviour: recovered), without creating it."""
        tenant = self.emulator.tenants.get(integration_id)
        if tenant is None or tenant.quiet:  # quiet: nothing_to_meet holds, kept as the run went
            return {}
        journal = self.emulator.journal
        # Each answer's status and code first, no entry made: most pytest tests meet nothing, and
        # then their report costs this walk (a coverage read of one request: 72 -> 10 k instructions).
        answers = journal.answers_after(tenant.since, integration_id)
        # A tenant no request reached met nothing: the judge is not run (a cost every pytest test would pay).
        if not answers:
            return {}
        coverage = _coverage()
        if coverage.nothing_to_meet(answers, tenant.sessions.values()):
            return {}
        entries = journal.answered_after(tenant.since, integration_id, headers=False)
        from .report import Run  # the behaviours alone: no finding is looked for (a pytest test's cost)

        met: dict[str, bool | None] = coverage.met_behaviours(Run(tenant, entries, {}))  # reads no known field
        return met

    def run_summary(self) -> list[str]:
        """Every integration a client called, judged in a few lines (``serve`` prints it on Ctrl-C)."""
        called = self.emulator.journal.requests_by_integration()
        lines: list[str] = []
        from .report import summary_text  # imported here: serve pays for the judge on Ctrl-C, not at start

        journal = self.emulator.journal
        for integration_id, recorded in called.items():
            if integration_id in self.emulator.tenants:
                # its own requests: not those of an integration its id had before (a bundle put back)
                requests = len(journal.picked(integration_id, recorded, after=self._since(integration_id)))
                lines += summary_text(self.report_of(integration_id), requests)
        return lines

    # ---- state bundles (bundle.py; docs/bundles.md) ---------------------------------------------
    def state(self, integration_id: str | None = None) -> dict[str, Any]:
        """One integration's state bundle, or (None) the whole emulator's, every tenant settled first."""
        from . import bundle  # imported here: only an export or an import needs it

        self._settle_for_state(integration_id)
        return bundle.to_document(self.emulator, integration_id)

    def state_parts(self, integration_id: str | None = None) -> Iterator[bytes]:
        """``state`` as JSON text in parts (``bundle.document_parts``), for the HTTP route to stream."""
        from . import bundle

        self._settle_for_state(integration_id)
        return bundle.document_parts(self.emulator, integration_id)

    def _settle_for_state(self, integration_id: str | None) -> None:
        emulator = self.emulator
        if integration_id is None:
            for tenant in emulator.tenants.values():
                emulator.settle(tenant)
        else:
            emulator.tenant(integration_id)

    def state_kept(self, integration_id: str) -> dict[str, Any] | None:
        """An integration's bundle if it exists, without creating it (a failing test's report)."""
        tenant = self.emulator.tenants.get(integration_id)
        if tenant is None:
            return None
        self.emulator.settle(tenant)
        from . import bundle

        return bundle.to_document(self.emulator, integration_id)

    def put_state(self, document: Any, integration_id: str | None = None) -> dict[str, Any]:
        """Import a bundle: one integration's to its own id, or the whole emulator's (None), which
        replaces every integration and the journal. Checked whole first: a refusal changes nothing."""
        from . import bundle

        self._importable_to(integration_id)
        return self.restore_state(bundle.from_document(document, self.emulator), integration_id)

    def import_base(self) -> int:
        """Where the journal of a bundle built off the loop from now on is numbered from: past the
        requests answered meanwhile (``bundle.IMPORT_ORDER_GAP``)."""
        from . import bundle

        return self.emulator.import_base(bundle.IMPORT_ORDER_GAP)

    def checked_state(self, data: bytes, integration_id: str | None = None, base: int | None = None) -> Restoration:
        """A bundle's bytes decoded, checked whole and built (``bundle.from_document``, its journal
        numbered from ``base``), without changing anything: what ``PUT .../state`` does off the loop
        (``steps.off_loop``) before ``restore_state`` swaps it in."""
        from . import bundle, offload

        self._importable_to(integration_id)
        settings = self.emulator.settings
        if len(data) > offload.INLINE_DOCUMENT_BYTES:  # checked in a child process, rebuilt in chunks
            joined = offload.checked_bundle(data, settings.max_state_bytes, settings.max_json_depth)
            if joined is not None:
                try:
                    return bundle.from_document(joined.document, self.emulator, checked=True, base=base)
                finally:
                    joined.let_go()
        document = bundle.checked_document(data, settings.max_state_bytes, settings.max_json_depth)
        return bundle.from_document(document, self.emulator, checked=True, base=base)

    def restore_state(self, restoration: Restoration, integration_id: str | None = None) -> dict[str, Any]:
        from . import bundle

        restored = bundle.restore(self.emulator, restoration, integration_id)
        entries = len(restoration.rows)
        return {
            "scope": restoration.scope,
            "integrations": restored,
            "journal_entries": entries,
            "journal_entries_kept": min(entries, self.emulator.settings.journal_size),  # the ring keeps the newest
        }

    def _importable_to(self, integration_id: str | None) -> None:
        if integration_id is not None and not INTEGRATION_ID.match(integration_id):
            raise ApiError.of(INVALID_PARAMETER, f"no integration can have the id {integration_id[:140]!r}")

    def load_state(self, data: bytes) -> dict[str, Any]:
        """Import a bundle's bytes (JSON or gzip) whatever its scope: ``serve --state``, ``--persist``."""
        from . import bundle

        settings = self.emulator.settings
        document = bundle.decode(data, settings.max_state_bytes, settings.max_json_depth)
        if isinstance(document, dict) and document.get("scope") == "integration":
            integrations = document.get("integrations")
            first = integrations[0] if isinstance(integrations, list) and integrations else None
            named = first.get("id") if isinstance(first, dict) else None
            if isinstance(named, str):
                return self.put_state(document, named)
        return self.put_state(document)

    def save_state(self) -> dict[str, Any]:
        """The whole emulator written to the ``persist_file`` (atomically); 409 without one."""
        from . import bundle
        from .statefile import write_atomically

        path = self.emulator.settings.persist_file
        if path is None:
            raise ApiError.of(
                PERSISTENCE_OFF,
                "this server keeps its state in memory only; start it with --persist FILE to save it, "
                "or export it with GET /_mock/state",
                setting="persist_file",  # the file is what would change this answer, not max_state_bytes
            )
        document = self.state()
        data = bundle.encode(document, compress=path.endswith(".gz"))
        try:
            write_atomically(path, data)
        except OSError as exc:
            raise ApiError.of(
                STATE_NOT_SAVED,
                f"the state could not be written to {path}: {exc.strerror or exc}",
                path=path,
                setting="persist_file",
            ) from None
        return {
            "saved": path,
            "bytes": len(data),
            "integrations": len(document["integrations"]),
            "journal_entries": len(document["journal"]),
        }

    # ---- verification (verify.py; docs/verify.md) -------------------------------------------------
    def verify(self, integration_id: str, document: Any) -> dict[str, Any]:
        """Check the integration's journal against ``document``'s expectations: the verdict, or 422
        ``expectations_not_met`` with the diff, or 400 ``invalid_expectations`` (nothing created)."""
        return finished(self.verify_steps(integration_id, document))

    def verify_steps(self, integration_id: str, document: Any) -> Steps[dict[str, Any]]:
        """``verify`` a step at a time (``steps``), of the instant its first step takes."""
        from .verify import parse, verdict_steps

        expectations = parse(document)
        judged, rows = self._as_it_stands(integration_id)
        return (yield from verdict_steps(expectations, judged, (yield from _entries_in_steps(rows))))

    # ---- the judge on captured traffic (report/har.py; docs/judge-har.md) -----------------------------
    def judge_har(self, data: bytes, integration_id: str | None = None) -> dict[str, Any]:
        """The client report on a HAR capture's bytes, per integration it holds; 400 ``invalid_har``.
        A large capture is judged in a child process (``offload.CHILD``), else here."""
        from . import offload
        from .report.har import judge_har, parse_har

        registry = self.emulator.registry
        known = {name: schema.known_fields for name, schema in registry.types.items()}
        settings, keys = self.emulator.settings, registry.key_fields
        if len(data) > offload.INLINE_DOCUMENT_BYTES:
            judged = offload.judged_har(data, known, settings, integration_id, keys)
            if judged is not None:
                return judged
        return judge_har(parse_har(data), known, settings, integration_id, keys).public()

    def journal(
        self, integration_id: str | None, limit: int, operation: str | None = None, status: int | None = None
    ) -> dict[str, Any]:
        journal = self.emulator.journal
        entries = journal.picked(integration_id, limit, operation, status, after=self._since(integration_id))
        return {"entries": [entry.public() for entry in entries], "total_recorded": journal.total}

    def _since(self, integration_id: str | None) -> int:
        """Where the requests of the integration that has ``integration_id`` now begin (its
        ``since``): its journal is what its report and its bundle hold, not also the requests of an
        integration deleted or replaced (a bundle put back) under the same id before it. 0 (every
        request) for no id, or for an id no integration has now (what its requests were)."""
        tenant = self.emulator.tenants.get(integration_id) if integration_id is not None else None
        return tenant.since if tenant is not None else 0

    def journal_parts(
        self, integration_id: str | None, limit: int, operation: str | None = None, status: int | None = None
    ) -> Iterator[bytes]:
        """``journal`` as JSON text in parts (``jsontext``), for the HTTP route to stream: the
        entries are chosen now, each is made and serialized when it is written."""
        journal = self.emulator.journal
        entries = journal.picked(integration_id, limit, operation, status, after=self._since(integration_id))
        closing = b'],"total_recorded":' + orjson.dumps(journal.total) + b"}"
        return array_parts(b'{"entries":[', (orjson.dumps(entry.public()) for entry in entries), closing)

    def journal_har(
        self,
        integration_id: str | None,
        origin: str,
        limit: int | None = None,
        redact: bool = True,
        operation: str | None = None,
        status: int | None = None,
    ) -> dict[str, Any]:
        """The journal (optionally filtered, the last ``limit`` entries) as HAR 1.2."""
        from .har import har  # imported here: only a HAR download needs it, never serve's start

        entries = self._har_entries(integration_id, limit, operation, status)
        return har(entries, origin, __version__, redact=redact, closed_as=self._closed_as)

    def journal_har_parts(
        self,
        integration_id: str | None,
        origin: str,
        limit: int | None = None,
        redact: bool = True,
        operation: str | None = None,
        status: int | None = None,
    ) -> tuple[bytes, Iterator[bytes], bytes]:
        """``journal_har`` as JSON text in parts (``har.har_parts``), for the HTTP route to stream:
        the entries are chosen now, each is serialized when it is written."""
        from .har import har_parts  # imported here: only a HAR download needs it, never serve's start

        entries = self._har_entries(integration_id, limit, operation, status)
        return har_parts(entries, origin, __version__, redact=redact, closed_as=self._closed_as)

    def _closed_as(self, integration_id: str | None, session_id: str | None) -> str | None:
        """How a session was closed (``apply``, ``discard``), for a HAR's close (``har.ClosedAs``)."""
        tenant = self.emulator.tenants.get(integration_id) if integration_id is not None else None
        session = tenant.sessions.get(session_id) if tenant is not None and session_id is not None else None
        return session.close_status if session is not None else None

    def _har_entries(
        self, integration_id: str | None, limit: int | None, operation: str | None, status: int | None
    ) -> Sequence[JournalEntry]:
        """The entries a HAR export holds: the last ``limit`` (all by default), optionally filtered,
        chosen now and made as they are read. Each integration's own requests, as its report judges
        them: not those of an integration replaced under the same id before it (a bundle put back),
        which the unfiltered journal keeps. A HAR has no field to tell them apart, so the judge read
        the replaced run and its copy as one run, each page sent twice (a carry-home reviewer)."""
        journal = self.emulator.journal
        after = self._since(integration_id)
        since: dict[str | None, int] | None = None
        if integration_id is None:
            since = {name: tenant.since for name, tenant in self.emulator.tenants.items() if tenant.since}
        count = limit or len(journal.entries) or 1
        return journal.picked(integration_id, count, operation, status, after=after, since=since)


def _detail_parts(session: Session) -> Iterator[bytes]:
    """``session.detail()`` as JSON text in parts: the session as it stands when the first part is
    made (``Session.as_it_stands``: a page staged or the session finished meanwhile changes nothing
    of it), then its pages in ordinal order, ``PAGES_PER_PART`` made and serialized a part. Making a
    page (from its flat row, once the session is finished) and its view is Python, ~5 µs a page."""
    stood = session.as_it_stands()
    head = stood.detail(0)  # every member as ``detail()`` has it, but no page: "pages" is the last
    del head["pages"]
    yield object_opening(head, "pages")
    accepted, rejected = stood.accepted_pages, tuple(stood.rejected_pages)
    # The order ``detail`` sorts its pages in (stable, by ordinal: accepted before rejected on a tie),
    # read from the ordinals alone: no page is made for it (a finished session's are flat rows).
    ordinals = [values[0] for values in page_fields(accepted, "ordinal", "accepted")]
    ordinals += [page.ordinal for page in rejected]
    order = sorted(range(len(ordinals)), key=ordinals.__getitem__)
    held = len(accepted)
    for start in range(0, len(order), PAGES_PER_PART):
        pages = [accepted[i] if i < held else rejected[i - held] for i in order[start : start + PAGES_PER_PART]]
        listed = orjson.dumps([page.describe() for page in pages])
        yield (b"," if start else b"") + listed[1:-1]
    yield b"]}"


def _entries_in_steps(rows: Sequence[Row]) -> Steps[list[JournalEntry]]:
    """The entries of journal rows, ``ENTRIES_PER_STEP`` a step."""
    entries: list[JournalEntry] = []
    for start in range(0, len(rows), ENTRIES_PER_STEP):
        yield
        entries += entries_of(rows[start : start + ENTRIES_PER_STEP], headers=False)
    return entries


def _overview_activity(log: ActivityLog, sessions: set[str], pages: int) -> list[dict[str, Any]]:
    """The activity items an overview holds, oldest first: the last ``OVERVIEW_ACTIVITY`` items
    and the last ``OVERVIEW_ACTIVITY`` anomalies (what the dashboard's activity card lists, with
    or without its "anomalies only" tick), and the items of ``sessions`` (their timelines), of
    which the page events of each only for its last ``pages`` pages. One pass, newest first, that
    stops once nothing older can be wanted: past every shown session's creation and the anomalies."""
    rows = log.rows
    wanted: list[tuple[Any, ...]] = []
    anomalies = 0
    page_events: dict[str, int] = {}
    created = 0
    for position, row in enumerate(reversed(rows)):
        level, kind, session_id = row[_LEVEL], row[_TYPE], row[_SESSION]
        take = position < OVERVIEW_ACTIVITY
        if level != "info" and anomalies < OVERVIEW_ACTIVITY:
            anomalies += 1
            take = True
        if session_id in sessions:
            if kind in PAGE_EVENTS:
                seen = page_events[session_id] = page_events.get(session_id, 0) + 1
                take = take or seen <= pages
            else:
                take = True
                if kind == "session_created":
                    created += 1
        if take:
            wanted.append(row)
        elif created == len(sessions) and anomalies == OVERVIEW_ACTIVITY and position >= OVERVIEW_ACTIVITY:
            break  # an item of a shown session comes after its creation: nothing older is wanted
    return [ActivityItem._make(row).public() for row in reversed(wanted)]


@functools.cache
def _coverage() -> ModuleType:
    """The judge's behaviour coverage, imported at the first coverage read (not at start-up) and
    kept: an import statement each pytest test would cost ~1 us."""
    return importlib.import_module(".report.coverage", __package__)  # the package's name "coverage" is a function


def _argument_refusal(integration_id: Any, api_key: Any) -> ApiError | None:
    """Why ``create_integration`` refuses its arguments (None: a string each, or not given)."""
    for name, value in (("id", integration_id), ("api_key", api_key)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_KEY_CHARS):
            why = f"'{name}' must be a non-empty string of at most {MAX_KEY_CHARS} characters"
            return ApiError.of(INVALID_PARAMETER, why, parameter=name)
    problem = api_key_problem(api_key) if isinstance(api_key, str) else None
    if problem is not None:
        return ApiError.of(INVALID_PARAMETER, f"'api_key' {problem}", parameter="api_key")
    return None


def _closest_type(word: str, types: list[str]) -> str:
    """``did_you_mean`` among entity types, whatever the case (``user``, ``USER``: ``'User'``)."""
    by_lower = {name.lower(): name for name in types}
    return did_you_mean(word.lower(), by_lower, lambda lower: repr(by_lower[lower]))


def _check_id(integration_id: str) -> None:
    """A typo'd id must not look like a successful change (400, as for a delete)."""
    if not INTEGRATION_ID.match(integration_id):
        raise ApiError.of(INVALID_PARAMETER, f"no integration can have the id {integration_id[:140]!r}")


def _summary(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "api_key_bound": tenant.api_key is not None,
        "active_session_id": tenant.active_session_id,
        "sessions": dict(tenant.state_counts),
        "staged_bytes": tenant.staged_bytes,
        "datasets": {name: len(ds.records) for name, ds in tenant.datasets.items()},
        "clock_offset_seconds": tenant.clock.offset,
    }
