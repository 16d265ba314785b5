"""The judge as a pure function: hand-made journal entries in, findings out (no server)."""

from __future__ import annotations

import itertools
from typing import Any

from mock_sprinto.clock import ManualClock, OffsetClock
from mock_sprinto.journal import JournalEntry
from mock_sprinto.lifecycle import State
from mock_sprinto.report import BY_ID, CHECKS, KINDS, Run, closest_field, findings_table, judge
from mock_sprinto.report.coverage import BEHAVIOURS, met_behaviours, nothing_to_meet
from mock_sprinto.settings import Settings
from mock_sprinto.store import IdSource, Page, Session, Tenant

T0 = 1_767_225_600.0


def tenant() -> Tenant:
    return Tenant("acme", "key", OffsetClock(ManualClock(T0)), Settings(), IdSource(1))


_ids = itertools.count(1)


def entry(arrival: int, answer: int, at: float, **fields: Any) -> JournalEntry:
    values: dict[str, Any] = {
        "request_id": f"req_{next(_ids)}",
        "at": T0 + at,
        "method": "GET",
        "path": "/api/external/push/v1/integrations/acme/status",
        "operation": "integration_status",
        "status": 200,
        "code": None,
        "latency_ms": 1.0,
        "integration_id": "acme",
        "session_id": None,
        "bytes_in": None,
        "arrived_at": T0 + at,
        "arrival": arrival,
        "answer": answer,
    }
    values.update(fields)
    return JournalEntry(**values)


def test_a_request_already_in_flight_when_the_429_was_answered_is_not_too_soon() -> None:
    throttled = entry(1, 3, 0.0, status=429, code="rate_limited", retry_after=2)
    in_flight = entry(2, 4, 0.0)  # arrived before the 429 was answered: a concurrent request
    too_soon = entry(5, 6, 1.0)
    waited = entry(7, 8, 2.0)
    report = judge(tenant(), [throttled, in_flight, too_soon, waited])
    (finding,) = report.findings
    assert finding.id == "retry_too_soon"
    assert [e["request_id"] for e in finding.evidence] == [too_soon.request_id]
    assert finding.evidence[0]["after_429"] == throttled.request_id


def _push(arrival: int, answer: int, at: float, connection: int, **fields: Any) -> JournalEntry:
    path = "/api/external/push/v1/integrations/acme/sessions/ses_1/entities"
    push = {"method": "POST", "path": path, "operation": "push_page", "status": 202, "session_id": "ses_1"}
    return entry(arrival, answer, at, connection=connection, **{**push, **fields})


def test_pages_pushed_at_once_wait_their_turn_on_a_busy_loop_and_are_still_in_flight() -> None:
    """Six pages pushed at once, the first throttled: on a busy machine the others were journaled up
    to 78 ms after its 429, the loop on the pages before them, and the careful client was
    retry_too_soon one exam run in three. How long the loop ran before letting a page in counts."""
    throttled = _push(1, 2, 0.0, 1, status=429, code="rate_limited", retry_after=1, page_hint=1)
    queued = _push(5, 6, 0.055, 3, page_hint=3, loop_busy_before=0.050)  # the loop ran 50 ms first
    assert "retry_too_soon" not in [f.id for f in judge(tenant(), [throttled, queued]).findings]
    # Let in at once (a slow upload, a report read a step at a time: no long turn): it did not wait.
    prompt = _push(5, 6, 0.055, 3, page_hint=3, loop_busy_before=0.004, latency_ms=900.0)
    assert "retry_too_soon" in [f.id for f in judge(tenant(), [throttled, prompt]).findings]
    unknown = _push(5, 6, 0.055, 3, page_hint=3)  # a HAR's or a bundle's: not known, no slack
    assert "retry_too_soon" in [f.id for f in judge(tenant(), [throttled, unknown]).findings]


def test_other_integrations_and_an_earlier_tenant_of_the_same_id_are_left_out() -> None:
    mine = tenant()
    mine.since = 10
    old = entry(1, 2, 0.0, status=429, code="rate_limited", retry_after=60)
    other = entry(11, 12, 0.0, status=429, code="rate_limited", retry_after=60, integration_id="other")
    report = judge(mine, [old, other, entry(13, 14, 0.5)])
    assert report.findings == [] and report.summary() == {"errors": 0, "warnings": 0, "infos": 0}


def test_closest_field_prefers_a_case_fold_then_a_near_spelling_and_leaves_real_extras_alone() -> None:
    known = ("employeeId", "workEmail", "firstName", "role")
    assert closest_field("workemail", known) == "workEmail"
    assert closest_field("firstname", known) == "firstName"
    assert closest_field("emploeeId", known) == "employeeId"
    assert closest_field("costCenter", known) is None


def test_the_findings_table_lists_every_finding_once() -> None:
    rows = findings_table().splitlines()[2:]
    assert len(rows) == len(KINDS) and len({row.split("|")[1] for row in rows}) == len(KINDS)
    assert set(CHECKS) == {kind.id for kind in KINDS}, "one check per finding kind, and a kind per check"


def _session(**fields: Any) -> Session:
    values: dict[str, Any] = {
        "id": "ses_1",
        "integration_id": "acme",
        "ordinal": 1,
        "client_reference_id": None,
        "inactivity_timeout": 3600.0,
        "created_at": T0,
    }
    values.update(fields)
    return Session(**values)


def _rejected(session: Session) -> Session:
    page = Page(1, "req_x", T0, False, 1, {"User": 1}, 10, 10, "identity", code="validation_failed")
    session.rejected_pages.append(page)
    return session


def test_nothing_to_meet_is_true_only_where_the_judge_meets_nothing() -> None:
    # Each behaviour's trigger, in the answers or in a session: the fast path of a pytest test's
    # report (control.coverage_kept) must never say "nothing" where the judge meets something.
    start = {"method": "POST", "operation": "start_session", "session_id": "ses_1", "status": 201}
    push = {"method": "POST", "operation": "push_page", "session_id": "ses_1", "status": 202}
    answers: list[dict[str, Any]] = [
        start,
        {**start, "status": 409, "code": "session_already_active", "names_session": "ses_1"},
        {**push, "status": 409, "code": "session_not_active"},
        {**push, "status": 413, "code": "payload_too_large"},
        {**start, "status": 429, "code": "rate_limited", "retry_after": 1},
        {**push, "code": "transport_reset"},
        {**push, "status": 0, "code": "transport_drop"},
    ]
    sessions = [
        lambda: _session(),
        lambda: _rejected(_session()),
        lambda: _session(expired_at=T0 + 1, state=State.EXPIRED),
        lambda: _session(retry_count=1, state=State.PROCESSING, close_status="apply"),
        lambda: _session(state=State.FAILED, close_status="apply", finished_at=T0 + 2),
        lambda: _session(state=State.PROCESSED, close_status="apply"),
        lambda: _session(state=State.CANCELLED, close_status="discard"),
    ]
    met_somewhere: set[str] = set()
    for fields, make in itertools.product(answers, sessions):
        mine = tenant()
        session = make()
        mine.sessions[session.id] = session
        entries = [entry(1, 2, 0.0, **start), entry(3, 4, 1.0, **fields)]
        met = met_behaviours(Run(mine, entries, {}))
        met_somewhere.update(met)
        if nothing_to_meet([(e.status, e.code) for e in entries], mine.sessions.values()):
            assert met == {}, (fields, session)
    assert met_somewhere == set(BEHAVIOURS), "every behaviour met by one of the cases: add a case for a new one"


class _CountedReads(list[JournalEntry]):
    """The run's client requests, counting each time a check reads them all."""

    reads = 0

    def __iter__(self) -> Any:
        _CountedReads.reads += 1
        return super().__iter__()


def _busy_history(syncs: int) -> tuple[Tenant, list[JournalEntry]]:
    """Sync after sync: a start throttled and sent again, a start refused for the session still
    active, a page, an apply; every other sync reads its outcome, the rest never do."""
    mine = tenant()
    entries: list[JournalEntry] = []
    order = itertools.count(1)

    def add(at: float, **fields: Any) -> None:
        arrival = next(order)
        entries.append(entry(arrival, next(order), at, method="POST", **fields))

    for i in range(syncs):
        session_id = f"ses_{i}"
        add(i, operation="start_session", status=429, code="rate_limited", retry_after=1)
        add(i + 0.2, operation="start_session", status=201, session_id=session_id)
        add(i + 0.3, operation="start_session", status=409, code="session_already_active", names_session=session_id)
        add(i + 0.4, operation="push_page", status=202, session_id=session_id, digest=f"page{i}")
        add(i + 0.5, operation="close_session", status=202, session_id=session_id)
        if i % 2:
            add(i + 0.6, operation="get_session", status=200, session_id=session_id)
        mine.sessions[session_id] = _session(id=session_id, ordinal=i + 1, close_status="apply")
    return mine, entries


def test_a_busy_integrations_report_reads_its_history_a_fixed_number_of_times(monkeypatch: Any) -> None:
    # The dashboard reads the report of each busy integration every second. Checks that looked at
    # every later request for each close, conflict or failure took ~170 ms a report after a few
    # minutes of four clients' syncs (one loop step, every client waiting), and grew with each sync.
    made = Run.__init__

    def counted(self: Run, *args: Any) -> None:
        made(self, *args)
        self.client = _CountedReads(self.client)

    monkeypatch.setattr(Run, "__init__", counted)
    reads = {}
    for syncs in (10, 100):
        _CountedReads.reads = 0
        report = judge(*_busy_history(syncs))
        reads[syncs] = _CountedReads.reads
        found = {finding.id: finding.count for finding in report.findings}
        assert found.get("outcome_not_read") == syncs // 2  # the syncs that never read their outcome
        assert "gave_up" not in found and "start_conflict_unhandled" not in found  # each was dealt with
    assert reads[100] == reads[10]


def test_a_session_as_it_stands_copies_what_can_still_change_and_shares_the_rest() -> None:
    # A stepped report judges the sessions as they stood at its first step (TenantAsItStood).
    def page(ordinal: int) -> Page:
        return Page(ordinal, f"req_{ordinal}", T0, True, 1, {"User": 1}, 10, 10, "identity")

    active = _session(accepted_pages=[page(1)])
    then = active.as_it_stands()
    active.add_page(page(2))
    _rejected(active)
    active.state = State.EXPIRED
    assert [p.ordinal for p in then.accepted_pages] == [1] and not then.rejected_pages
    assert then.state is State.ACTIVE and then.id == active.id
    processed = _session(state=State.PROCESSED, accepted_pages=[page(1)])
    assert processed.as_it_stands() is processed  # a final state: nothing it records changes
    purged = _session(state=State.EXPIRED, accepted_pages=[page(1), page(2)])
    purged.finish()  # flat rows, as a purge leaves them: shared, not made into pages again
    assert purged.as_it_stands().accepted_pages is purged.accepted_pages


def _calls_of(monkeypatch: Any, module: Any, name: str) -> list[Any]:
    """The first argument of each call of ``module.name`` from now on."""
    calls: list[Any] = []
    original = getattr(module, name)

    def counted(argument: Any, *more: Any) -> Any:
        calls.append(argument)
        return original(argument, *more)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_run_with_no_recoverable_failure_makes_no_index_of_follow_ups(monkeypatch: Any) -> None:
    """``gave_up`` indexed every settled request of the run before it looked for a failure: ~20 ms
    of a full journal's report on a slow machine, in every report of a run that had none."""
    from mock_sprinto.report import checks

    keyed = _calls_of(monkeypatch, checks, "_follow_up_keys")
    starts = [entry(n, n, float(n), method="POST", operation="start_session", status=201) for n in range(1, 50)]
    assert checks.gave_up(Run(tenant(), starts, {})).count == 0
    assert keyed == []
    failed = entry(60, 61, 60.0, method="POST", operation="start_session", status=503, code="service_unavailable")
    assert checks.gave_up(Run(tenant(), [*starts, failed], {})).count == 1
    assert len(keyed) == len(starts)  # the index is made once a failure needs it: each settled request


def test_a_finding_seen_past_its_listed_evidence_makes_no_item_for_it(monkeypatch: Any) -> None:
    """Each place a finding was seen made its item (a formatted time, a dict) before the item was
    dropped past the first MAX_EVIDENCE: ~28 ms of one check's step on a slow machine, for a run
    that sent 3,667 pages twice."""
    from mock_sprinto.report import model
    from mock_sprinto.report import run as run_module

    formatted = _calls_of(monkeypatch, run_module, "format_time")
    mine, entries = _busy_history(300)
    report = judge(mine, entries)
    seen = {finding.id: finding.count for finding in report.findings}
    assert seen == {"retry_too_soon": 1350, "outcome_not_read": 150, "close_without_pages": 300}
    listed = sum(len(finding.evidence) for finding in report.findings)
    assert all(len(finding.evidence) == min(finding.count, model.MAX_EVIDENCE) for finding in report.findings)
    assert len(formatted) <= listed == 60  # at most a time formatted for each item listed, none for the rest


def test_places_noted_together_are_all_counted_and_only_the_first_listed() -> None:
    """``Finding.noted`` (a check that finds the same thing on every page of a long session) counts
    as one ``note`` a place would, and makes items only for the places listed."""
    from mock_sprinto.report import model

    finding = BY_ID["missing_page_hint"].new()
    finding.note(lambda: {"page": 0})
    made: list[int] = []

    def item(page: int) -> dict[str, Any]:
        made.append(page)
        return {"page": page}

    finding.noted(list(range(1, 31)), item)
    finding.noted([], item)
    finding.noted([31, 32], item)
    assert finding.count == 33
    assert [e["page"] for e in finding.evidence] == list(range(model.MAX_EVIDENCE))
    assert made == list(range(1, model.MAX_EVIDENCE))


def test_a_large_staged_page_is_read_for_unknown_fields_a_slice_of_records_at_a_step() -> None:
    """One staged page of 2.5 MB: its unknown fields were read in one step of the report (an 18 MB
    page of 100 records with 4,000 extra names each held the loop 530-665 ms); now a slice a step,
    finding what one read of the page finds."""
    import orjson

    from mock_sprinto.report.run import SLICED_PAGE_BYTES
    from mock_sprinto.validation import unknown_fields

    records = [
        {"employeeId": f"E{n}", "note": "x" * 25_000, **{f"f{n:03d}_{k}": 1 for k in range(30)}} for n in range(100)
    ]
    payload = orjson.dumps({"entities": {"User": records}})
    assert len(payload) > 2 * SLICED_PAGE_BYTES
    mine = tenant()
    session = Session("ses_1", "acme", 1, None, 3600.0, T0, updated_at=T0, last_request_at=T0)
    page = Page(1, "req_p", T0, True, 100, {"User": 100}, len(payload), len(payload), "identity", payload=payload)
    session.add_page(page)
    mine.sessions[session.id] = session
    known = {"User": ("employeeId", "note")}
    steps = sum(1 for _ in Run(mine, [], known).reading_fields())
    assert steps >= 3  # before: 1
    assert page.unknown_fields == unknown_fields({"User": records}, {"User": frozenset(known["User"])})
