"""A hypothesis state machine over the session lifecycle, against a deliberately simple model.

It drives the Emulator's vendor-plane door directly (no socket: thousands of steps a second), the
same calls the HTTP handlers make (``Emulator.start``, ``push``, ``close``, ...), and after every
step checks:

- at most one active session per integration;
- applied data equals the accepted pages of applied sessions, in application order (keyed
  records: first position, last value wins);
- nothing from a rejected page or a discarded session is ever applied;
- each session's counts, the integration status and the activity log agree with the model;
- a throttled request changes nothing;
- one integration's requests never change another's state.

Two integrations: ``a`` unthrottled, ``b`` throttled through a settings-only scenario.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mock_sprinto.calls import Answer, Call, Outcome
from mock_sprinto.clock import ManualClock
from mock_sprinto.control import ControlPlane
from mock_sprinto.errors import ApiError
from mock_sprinto.faults.scenario import parse_scenario
from mock_sprinto.faults.vocabulary import Lifecycle, Operation
from mock_sprinto.payload import NO_BODY, BytesBody
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.validation import SchemaRegistry

START = 1_767_225_600.0
TIMEOUT = 3600.0
PROCESSING = 2.0
RETENTION = 86_400.0
MAX_ITEMS = 5
KEYS = {"a": "key-a", "b": "key-b"}
REGISTRY = SchemaRegistry.shipped()
STEPS = [0.0, 1.0, 2.0, 3.0, 3.0, 1799.0, 3599.0, 3600.0, 3601.0, RETENTION, RETENTION + 3700.0]


def user(key: str, name: str) -> dict[str, Any]:
    return {
        "employeeId": key,
        "firstName": name,
        "lastName": "Doe",
        "workEmail": f"{key.lower()}@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
    }


# A page: 1-4 User records over a few keys (so later pages overwrite earlier ones) and 0-1 unkeyed
# Device records; the session marker is stamped on every record when the page is pushed.
pages = st.tuples(
    st.lists(
        st.tuples(st.sampled_from(["E0", "E1", "E2", "E3"]), st.sampled_from(["Ann", "Bo", "Cy"])),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.sampled_from(["laptop", "phone"]), max_size=1),
)
# Mostly sessions that exist, so pushes and closes get past the 404s and reach the interesting states.
targets = st.sampled_from(["active", "active", "active", "latest", "latest", "any", "unknown", "foreign"])
INVALID = ["schema", "empty", "too_many", "malformed", "duplicate", "envelope"]


@dataclass
class ModelSession:
    id: str
    ordinal: int
    state: str = "active"
    last_request: float = 0.0
    accepted: list[dict[str, list[dict[str, Any]]]] = field(default_factory=list)
    rejected: int = 0
    process_at: float | None = None
    close_seq: int = 0
    retried: bool = False
    expired_at: float | None = None
    purged: bool = False


@dataclass
class ModelTenant:
    id: str
    sessions: dict[str, ModelSession] = field(default_factory=dict)
    active: str | None = None
    datasets: dict[str, list[tuple[Any, dict[str, Any]]]] = field(default_factory=dict)
    applied_markers: set[str] = field(default_factory=set)
    discarded_markers: set[str] = field(default_factory=set)
    failures_pending: int = 0
    closes: int = 0
    expired_ever: int = 0

    def settle(self, now: float) -> None:
        """The model's own replay of time: expiry, processing attempts, purges, in time order."""
        while True:
            events: list[tuple[float, int, int, str, ModelSession]] = []
            if self.active is not None:
                session = self.sessions[self.active]
                events.append((session.last_request + TIMEOUT, 0, 0, "expire", session))
            for session in self.sessions.values():
                if session.state == "processing" and session.process_at is not None:
                    events.append((session.process_at, 1, session.close_seq, "process", session))
                if session.state == "expired" and not session.purged and session.expired_at is not None:
                    events.append((session.expired_at + RETENTION, 1, 0, "purge", session))
            due = [event for event in events if event[0] <= now]
            if not due:
                return
            at, _, _, kind, session = min(due, key=lambda event: event[:3])
            if kind == "expire":
                session.state, session.expired_at = "expired", at
                self.active = None
                self.expired_ever += 1
            elif kind == "purge":
                session.purged = True
            elif self.failures_pending > 0:
                self.failures_pending -= 1
                if session.retried:
                    session.state = "failed"
                else:
                    session.retried = True
                    session.process_at = at + PROCESSING
            else:
                self.apply(session)
                session.state = "processed"

    def apply(self, session: ModelSession) -> None:
        touched: dict[str, dict[Any, dict[str, Any]]] = {}
        unkeyed = 0
        for page in session.accepted:
            for entity_type, records in page.items():
                dataset = touched.setdefault(entity_type, {})
                for record in records:
                    if entity_type == "User":
                        dataset[record["employeeId"]] = record
                    else:
                        unkeyed += 1
                        dataset[("#", unkeyed)] = record
        for entity_type, dataset in touched.items():
            self.datasets[entity_type] = list(dataset.items())
        self.applied_markers.add(f"s{session.ordinal}")

    def counts(self) -> Counter[str]:
        found = Counter({state: 0 for state in ("active", "processing", "processed", "cancelled", "expired", "failed")})
        found.update(session.state for session in self.sessions.values())
        return found


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        settings = Settings().with_overrides(
            {
                "inactivity_timeout_seconds": TIMEOUT,
                "processing_seconds": PROCESSING,
                "expired_retention_seconds": RETENTION,
                "max_page_items": MAX_ITEMS,
            }
        )
        self.emulator = Emulator(Config(settings), REGISTRY, self.clock)
        self.model = {name: ModelTenant(name) for name in KEYS}
        self.requests = 0
        self.loop = asyncio.new_event_loop()  # one loop for every step: the door is a coroutine

    def teardown(self) -> None:
        self.loop.close()

    @initialize()
    def bind_keys_and_throttle_b(self) -> None:
        for name, key in KEYS.items():
            self.emulator.authenticate(name, key)
        throttled = parse_scenario({"name": "throttled", "settings": {"rate_limit": 0.5, "rate_limit_burst": 3}})
        ControlPlane(self.emulator).set_scenario(throttled, "b")

    # ---- helpers -------------------------------------------------------------------------
    def send(
        self, name: str, operation: Operation, door: Callable[[Call], Awaitable[Outcome]], session_id: str | None = None
    ) -> tuple[Any, ApiError | None] | None:
        """One vendor request through the door: (the answer's body, or the error it raised);
        None when the request was throttled, which must have changed nothing."""
        tenant = self.emulator.tenants[name]
        self.model[name].settle(tenant.now())
        before = self.snapshot()
        self.requests += 1
        call = Call(operation, name, KEYS[name], f"req_{self.requests}", time.perf_counter(), session_id=session_id)
        try:
            outcome = self.loop.run_until_complete(door(call))
        except ApiError as error:
            if error.status != 429:
                return None, error
            assert error.code == "rate_limited"
            assert int(error.headers["Retry-After"]) >= 1
            assert self.snapshot() == before, "a throttled request changed state"
            event("throttled")
            return None
        assert isinstance(outcome, Answer), "no scenario rule answers here"
        return outcome.body, None

    def snapshot(self) -> Any:
        return {
            name: (
                [session.public() for session in tenant.sessions.values()],
                {kind: list(ds.records.values()) for kind, ds in tenant.datasets.items()},
                tenant.active_session_id,
            )
            for name, tenant in self.emulator.tenants.items()
        }

    def target(self, model: ModelTenant, which: str, pick: int) -> str:
        ids = list(model.sessions)
        if which == "active" and model.active is not None:
            return model.active
        if which == "latest" and ids:
            return ids[-1]
        if which == "any" and ids:
            return ids[pick % len(ids)]
        if which == "foreign":
            other = self.model["b" if model.id == "a" else "a"]
            if other.sessions:
                return list(other.sessions)[pick % len(other.sessions)]
        return f"ses_unknown{pick}"

    def expect_addressable(self, model: ModelTenant, session_id: str, error: ApiError | None) -> ModelSession | None:
        session = model.sessions.get(session_id)
        if session is None:
            assert error is not None and error.status == 404 and error.code == "session_not_found", error
            assert "ses_" not in error.detail.replace(session_id[:140], "")  # names only what was asked
        return session

    # ---- rules ---------------------------------------------------------------------------
    @rule(name=st.sampled_from(sorted(KEYS)))
    def start(self, name: str) -> None:
        sent = self.send(name, "start_session", lambda call: self.emulator.start(call, NO_BODY))
        if sent is None:
            return
        session, error = sent
        model = self.model[name]
        if error is not None:
            assert model.active is not None, error
            assert (error.status, error.code) == (409, "session_already_active")
            assert error.extra["active_session_id"] == model.active
            return
        assert model.active is None, "a second session started while one is active"
        now = self.emulator.tenants[name].now()
        model.sessions[session["id"]] = ModelSession(session["id"], len(model.sessions) + 1, last_request=now)
        model.active = session["id"]

    @rule(name=st.sampled_from(sorted(KEYS)), which=targets, pick=st.integers(0, 50))
    def read_session(self, name: str, which: str, pick: int) -> None:
        model = self.model[name]
        session_id = self.target(model, which, pick)
        sent = self.send(name, "get_session", self.emulator.get_session, session_id)
        if sent is None:
            return
        _, error = sent
        session = self.expect_addressable(model, session_id, error)
        if session is not None:
            assert error is None
            if session.state == "active":
                session.last_request = self.emulator.tenants[name].now()  # [doc] status reads count as activity

    def _push(self, name: str, which: str, pick: int, raw_for: Any, valid: bool) -> None:
        model = self.model[name]
        session_id = self.target(model, which, pick)
        session = model.sessions.get(session_id)
        marker = f"s{session.ordinal}" if session is not None else "s?"
        raw, page = raw_for(marker)
        sent = self.send(name, "push_page", lambda call: self.emulator.push(call, BytesBody(raw)), session_id)
        if sent is None:
            return
        result, error = sent
        if self.expect_addressable(model, session_id, error) is None:
            return
        assert session is not None
        if session.state != "active":
            assert error is not None and (error.status, error.code) == (409, "session_not_active"), error
            assert error.extra["state"] == session.state
            return
        session.last_request = self.emulator.tenants[name].now()
        if error is not None:
            assert not valid, error.problem()
            assert error.status == 400 and error.code in (
                "validation_failed",
                "empty_page",
                "too_many_items",
                "malformed_body",
            ), error.problem()
            if error.code != "malformed_body":
                assert error.extra["accepted_count_total"] == 0
            session.rejected += 1
            event(f"page rejected: {error.code}")
            return
        assert valid, f"an invalid page was accepted: {raw[:200]!r}"
        event("page accepted")
        assert result["accepted_count_total"] == sum(len(records) for records in page.values())
        session.accepted.append(page)

    @rule(name=st.sampled_from(sorted(KEYS)), which=targets, pick=st.integers(0, 50), page=pages)
    def push_valid_page(self, name: str, which: str, pick: int, page: tuple[list[tuple[str, str]], list[str]]) -> None:
        users, devices = page

        def build(marker: str) -> tuple[bytes, dict[str, list[dict[str, Any]]]]:
            body: dict[str, list[dict[str, Any]]] = {"User": [{**user(k, n), "role": marker} for k, n in users]}
            if devices:
                body["Device"] = [{"kind": kind, "role": marker} for kind in devices]
            return orjson.dumps({"entities": body, "page_hint": marker}), body

        self._push(name, which, pick, build, valid=True)

    @rule(name=st.sampled_from(sorted(KEYS)), which=targets, pick=st.integers(0, 50), kind=st.sampled_from(INVALID))
    def push_invalid_page(self, name: str, which: str, pick: int, kind: str) -> None:
        def build(marker: str) -> tuple[bytes, dict[str, Any]]:
            good = {**user("E0", "Rejected"), "lastName": "REJECTED", "role": marker}
            raws = {
                "schema": orjson.dumps({"entities": {"User": [good, {**good, "workEmail": "not-an-email"}]}}),
                "empty": orjson.dumps({"entities": {"User": []}}),
                "too_many": orjson.dumps({"entities": {"User": [good] * (MAX_ITEMS + 1)}}),
                "malformed": b'{"entities": {"User": [' + orjson.dumps(good),
                "duplicate": b'{"entities": {"User": [' + orjson.dumps(good) + b']}, "entities": {}}',
                "envelope": orjson.dumps({"entities": [good]}),
            }
            return raws[kind], {}

        self._push(name, which, pick, build, valid=False)

    @rule(
        name=st.sampled_from(sorted(KEYS)),
        which=targets,
        pick=st.integers(0, 50),
        status=st.sampled_from(["apply", "apply", "discard", "bogus"]),
    )
    def close(self, name: str, which: str, pick: int, status: str) -> None:
        model = self.model[name]
        session_id = self.target(model, which, pick)
        body = BytesBody(orjson.dumps({"status": status}))
        sent = self.send(name, "close_session", lambda call: self.emulator.close(call, body), session_id)
        if sent is None:
            return
        closed, error = sent
        tenant = self.emulator.tenants[name]
        session = self.expect_addressable(model, session_id, error)
        if session is None:
            return
        if session.state == "active":
            session.last_request = tenant.now()  # addressing it counts, even when the close is refused
        if status == "bogus":
            assert error is not None and (error.status, error.code) == (400, "invalid_close_status"), error
            return
        if session.state not in ("active", "expired"):
            assert error is not None and (error.status, error.code) == (409, "session_not_closable"), error
            return
        if session.state == "expired" and session.purged and status == "apply":
            assert error is not None and (error.status, error.code) == (409, "expired_data_purged"), error
            return
        assert error is None, error.problem() if error else None
        if model.active == session.id:
            model.active = None
        if status == "discard":
            session.state = "cancelled"
            model.discarded_markers.add(f"s{session.ordinal}")
        else:
            model.closes += 1
            session.state, session.process_at, session.close_seq = "processing", tenant.now() + PROCESSING, model.closes
        model.settle(tenant.now())  # a processing time of 0 would finish right here
        assert closed["state"] == session.state

    @rule(
        name=st.sampled_from(sorted(KEYS)),
        batch=st.lists(pages, min_size=2, max_size=4),
        broken=st.sampled_from([None, *INVALID]),
    )
    def whole_sync(self, name: str, batch: list[tuple[list[tuple[str, str]], list[str]]], broken: str | None) -> None:
        """A client's whole run from the primitive steps: start, pages (one maybe refused), close, wait.

        Without it a session rarely lives through several overlapping pages to be processed."""
        self.start(name)
        for page in batch:
            self.push_valid_page(name, "active", 0, page)
            if broken is not None:
                self.push_invalid_page(name, "active", 0, broken)
                broken = None
        self.close(name, "active", 0, "apply")
        self.advance_one_clock(name, PROCESSING)

    @rule(seconds=st.sampled_from(STEPS))
    def advance_every_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(name=st.sampled_from(sorted(KEYS)), seconds=st.sampled_from(STEPS))
    def advance_one_clock(self, name: str, seconds: float) -> None:
        self.emulator.tenant(name).clock.advance(seconds)

    @precondition(lambda self: sum(m.failures_pending for m in self.model.values()) < 3)
    @rule(name=st.sampled_from(sorted(KEYS)))
    def fail_the_next_processing_attempt(self, name: str) -> None:
        """What a scenario's `lifecycle: {fail_processing: 1}` does."""
        tenant = self.emulator.tenant(name)
        self.model[name].settle(tenant.now())
        self.emulator.timeline.apply_lifecycle(tenant, None, Lifecycle(fail_processing=1))
        self.model[name].failures_pending += 1

    # ---- invariants ----------------------------------------------------------------------
    @invariant()
    def emulator_agrees_with_the_model(self) -> None:
        for name, model in self.model.items():
            tenant = self.emulator.tenant(name)  # settles, touches no session
            model.settle(tenant.now())
            actives = [s for s in tenant.sessions.values() if s.state.value == "active"]
            assert len(actives) <= 1, "two active sessions"
            assert tenant.active_session_id == model.active
            for session_id, expected in model.sessions.items():
                public = tenant.sessions[session_id].public()
                assert public["state"] == expected.state, (session_id, public["state"], expected.state)
                accepted = [r for page in expected.accepted for records in page.values() for r in records]
                assert public["accepted_batches"] == len(expected.accepted)
                assert public["accepted_records_total"] == len(accepted)
                by_entity: Counter[str] = Counter()
                for page in expected.accepted:
                    by_entity.update({kind: len(records) for kind, records in page.items()})
                assert {k: v for k, v in public["accepted_records_by_entity"].items() if v} == dict(by_entity)
                assert public["rejected_batches"] == expected.rejected
                assert public["retry_count"] == (1 if expected.retried else 0)
            for state, count in model.counts().items():
                if count:
                    event(f"reached {state}")
            status = self.emulator.sessions.status_counts(tenant)
            assert status["sessions"] == dict(model.counts()), (status["sessions"], model.counts())
            self._activity_agrees(tenant, model)
            self._applied_data_agrees(tenant, model)

    def _activity_agrees(self, tenant: Any, model: ModelTenant) -> None:
        kinds: Counter[tuple[str, str | None]] = Counter((item.type, item.session_id) for item in tenant.activity)
        totals: Counter[str] = Counter(item.type for item in tenant.activity)
        assert totals["session_created"] == len(model.sessions)
        for session_id, session in model.sessions.items():
            assert kinds[("page_accepted", session_id)] == len(session.accepted)
            assert kinds[("page_rejected", session_id)] == session.rejected
        states = model.counts()
        assert totals["session_processed"] == states["processed"]
        assert totals["session_cancelled"] == states["cancelled"]
        assert totals["session_failed"] == states["failed"]
        assert totals["session_expired"] == model.expired_ever

    def _applied_data_agrees(self, tenant: Any, model: ModelTenant) -> None:
        applied = {kind: [orjson.loads(raw) for raw in ds.records.values()] for kind, ds in tenant.datasets.items()}
        expected = {kind: [record for _, record in items] for kind, items in model.datasets.items()}
        assert applied == expected, json.dumps({"applied": applied, "model": expected})[:2000]
        markers = {record.get("role") for records in applied.values() for record in records}
        assert markers <= model.applied_markers, "records of a session that was never applied"
        assert not markers & (model.discarded_markers - model.applied_markers), "a discarded session was applied"
        assert all(record.get("lastName") != "REJECTED" for records in applied.values() for record in records)


TestLifecycle = LifecycleMachine.TestCase
