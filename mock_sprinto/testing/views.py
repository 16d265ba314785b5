"""What the test handles return, typed: the JSON the control plane answers, as ``TypedDict``\\ s.

At run time each value is the plain ``dict`` (or ``list`` of them) parsed from the answer, as it has
always been; the types only let an editor complete a field's name and ``mypy --strict`` refuse a
misspelled one::

    session = mock.assert_session_processed(records=250)
    assert session["accepted_records_by_entity"] == {"User": 250}
    for page in session["pages"]:
        ...

Each type is named after what it views and mirrors one schema of ``schemas/openapi.yaml`` (named
in its docstring); ``tests/unit/test_views.py`` holds the two to the same members, and to what
the server really sends. Records stay ``dict[str, Any]``: they are the user's own data.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from ..report import Severity
from ..rules import Basis

__all__ = [
    "ActivityItemView",
    "ActivityLevel",
    "Basis",
    "Behaviour",
    "CoverageView",
    "FindingId",
    "FindingView",
    "JournalEntryView",
    "PageErrorView",
    "PageView",
    "ReportSummaryView",
    "ReportView",
    "ScenarioRuleView",
    "ScenarioView",
    "SessionState",
    "SessionView",
    "SettingSource",
    "SettingsView",
    "Severity",
]

# The words the fields take (``lifecycle.State``, ``report.BY_ID`` and ``report.BEHAVIOURS`` at run time).
SessionState = Literal["active", "processing", "processed", "cancelled", "expired", "failed"]
ActivityLevel = Literal["info", "warning", "error"]
FindingId = Literal[
    "no_request_accepted",
    "retry_too_soon",
    "gave_up",
    "retry_without_backoff",
    "close_without_status",
    "start_conflict_unhandled",
    "resent_rejected_page_unchanged",
    "applied_with_rejected_pages",
    "push_to_inactive_session",
    "oversized_page",
    "too_many_records",
    "duplicate_page",
    "session_left_to_expire",
    "session_left_active",
    "start_conflict_ignored",
    "outcome_not_read",
    "large_uncompressed_body",
    "unknown_field",
    "status_polled_too_fast",
    "close_without_pages",
    "missing_page_hint",
]
Behaviour = Literal[
    "page_rejected",
    "start_conflict",
    "session_not_active",
    "payload_too_large",
    "rate_limited",
    "session_expired",
    "processing_retried",
    "processing_failed",
    "discarded",
    "applied",
    "transport_fault",
]
SettingSource = Literal["default", "config", "environment", "flag", "scenario", "integration"]


# ---- sessions and their pages ---------------------------------------------------------------------
class _PageErrorRequired(TypedDict):
    issue: str
    pointer: str  # a JSON pointer into the request body
    code: str  # the JSON Schema keyword that failed, or the envelope rule
    basis: Basis


class PageErrorView(_PageErrorRequired, total=False):
    """Why a page was rejected, one record field at a time (``ValidationError``). The members
    Sprinto types never null are left out where they do not apply (an error of the envelope)."""

    entity_type: str
    index: int
    field: str
    setting: str  # the setting that changes the rule, when one does


class PageView(TypedDict):
    """One push that reached an active session, accepted or not (``PageDetail``)."""

    ordinal: int
    request_id: str
    received_at: str
    accepted: bool
    record_count: int
    counts_by_entity: dict[str, int]
    wire_bytes: int
    decoded_bytes: int
    encoding: str
    page_hint: int | str | None
    code: str | None
    detail: str | None
    errors: list[PageErrorView]
    errors_truncated: bool
    duration_ms: float
    rule: str | None  # a page a scenario rule (or a Prefer header) rejected 400 before it ran: the rules


class SessionView(TypedDict):
    """A session as the control plane shows it: Sprinto's Session object, then the emulator's
    extras and every page kept (``SessionDetail``). Times are RFC 3339 strings of emulator time."""

    id: str
    integration_id: str
    state: SessionState
    client_reference_id: str | None
    created_at: str
    updated_at: str
    expires_at: str
    inactivity_timeout_seconds: float
    accepted_records_total: int
    accepted_records_by_entity: dict[str, int]
    accepted_batches: int
    retry_count: int
    last_error: str | None
    rejected_batches: int
    closed_at: str | None
    data_retained_until: str | None
    ordinal: int
    last_request_at: str
    processing_started_at: str | None
    finished_at: str | None
    close_status: Literal["apply", "discard"] | None
    expired_by: Literal["inactivity", "scenario"] | None  # what expired it, if anything did
    data_purged: bool
    pages_received: int
    staged_bytes: int
    pages_total: int  # the pages kept: every one of them is in ``pages``
    pages: list[PageView]


# ---- what the emulator saw ------------------------------------------------------------------------
class JournalEntryView(TypedDict):
    """One vendor-API request as the emulator answered it (``JournalEntry``)."""

    request_id: str
    at: str  # when it was answered (emulator time)
    method: str
    path: str
    operation: str
    status: int  # 0: the connection was broken (a scenario's transport fault)
    code: str | None
    latency_ms: float
    integration_id: str | None
    session_id: str | None
    bytes_in: int | None
    rule: str | None  # the scenario rule that fired on it
    arrived_at: str | None
    arrival: int
    answer: int
    retry_after: int | None
    encoding: str | None
    body_bytes: int | None
    digest: str | None
    page: int | None
    page_hint: int | str | None
    names_session: str | None
    connection: int | None  # the client's port: the requests of one connection share it


class ActivityItemView(TypedDict):
    """One event of an integration's activity log (``ActivityItem``)."""

    id: str
    at: str
    level: ActivityLevel
    type: str
    message: str
    session_id: str | None
    details: dict[str, Any]


# ---- the judge's report -----------------------------------------------------------------------------
class FindingView(TypedDict):
    """One kind of client misbehaviour and where it was seen (``ClientReport.findings``)."""

    id: FindingId
    severity: Severity
    message: str
    advice: str
    basis: Basis
    count: int
    evidence: list[dict[str, Any]]  # the first 20 places: request_id, session_id, page, at, ... as apply


class CoverageView(TypedDict):
    """Whether the client met a documented Sprinto behaviour, and recovered (``ClientReport.coverage``)."""

    behaviour: Behaviour
    met: bool
    recovered: bool | None


class ReportSummaryView(TypedDict):
    errors: int
    warnings: int
    infos: int


class ReportView(TypedDict):
    """The judge's report on one integration's client (``ClientReport``)."""

    integration_id: str
    summary: ReportSummaryView
    findings: list[FindingView]
    coverage: list[CoverageView]


# ---- configuration ----------------------------------------------------------------------------------
class ScenarioRuleView(TypedDict):
    rule: str  # its name
    matched: int  # requests it matched
    fired: int  # times it fired


class ScenarioView(TypedDict):
    """The scenario in force for an integration, with its rules' counters (``IntegrationScenario``)."""

    integration_id: str
    scenario: dict[str, Any] | None  # the document as given
    applies_to: Literal["integration", "global"] | None
    rules: list[ScenarioRuleView]
    effective_settings: dict[str, Any]


class SettingsView(TypedDict):
    """An integration's own setting overrides and the settings in force (``IntegrationSettings``)."""

    integration_id: str
    overrides: dict[str, Any]
    effective: dict[str, Any]
    sources: dict[str, SettingSource]  # the layer that won, by setting


# ---- verification ------------------------------------------------------------------------------------
class VerifiedRequestView(TypedDict):
    """One request as verification saw it (``VerifiedRequest``)."""

    index: int  # its place in arrival order, from 1
    request_id: str
    operation: str
    status: int  # 0: the connection was broken
    code: str | None
    session: int | None  # the session's ordinal in the integration
    session_id: str | None
    page: int | None
    rule: str | None


class VerificationFailureView(TypedDict):
    expectation: str  # "counts[N]", "sequence" or "only"
    message: str
    requests: list[int]  # the requests it points at (their index)


class VerificationView(TypedDict):
    """The verdict on an integration's journal against expectations (``Verification``)."""

    ok: bool
    integration_id: str
    requests: int
    failures: list[VerificationFailureView]
    actual: list[VerifiedRequestView]
    diff: str  # for people: the requests, with a marker where a failure points
