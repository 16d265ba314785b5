"""The second dashboard-and-plugin review's pure parts: ``processing_retried`` when the retried
processing failed too, and the words a too-long entity type name is refused with."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from mock_sprinto.clock import ManualClock, OffsetClock
from mock_sprinto.lifecycle import State
from mock_sprinto.report import Run
from mock_sprinto.report.coverage import BEHAVIOURS, met_behaviours, recovery_table
from mock_sprinto.settings import Settings
from mock_sprinto.store import IdSource, Session, Tenant
from mock_sprinto.validation import SchemaRegistry, check_page

T0 = 1_767_225_600.0
_ordinals = itertools.count(1)


def _tenant(*sessions: Session) -> Tenant:
    tenant = Tenant("acme", "key", OffsetClock(ManualClock(T0)), Settings(), IdSource(1))
    for session in sessions:
        tenant.sessions[session.id] = session
    return tenant


def _session(**fields: Any) -> Session:
    ordinal = next(_ordinals)
    values: dict[str, Any] = {
        "id": f"ses_{ordinal}",
        "integration_id": "acme",
        "ordinal": ordinal,
        "client_reference_id": None,
        "inactivity_timeout": 3600.0,
        "created_at": T0,
        "close_status": "apply",
    }
    values.update(fields)
    return Session(**values)


# ---- 3. processing_retried ----------------------------------------------------------------------------
def test_a_retried_processing_that_failed_too_is_met_and_its_recovery_means_nothing() -> None:
    failed = _session(retry_count=2, state=State.FAILED, finished_at=T0 + 4)
    met = met_behaviours(Run(_tenant(failed), [], {}))
    # was: processing_retried False ("recovered in 0") for a client that rightly stopped
    assert met["processing_retried"] is None
    assert met["processing_failed"] is False  # that one is judged where it belongs


def test_a_retried_session_that_was_processed_is_still_judged_beside_one_that_failed() -> None:
    failed = _session(retry_count=2, state=State.FAILED, finished_at=T0 + 4)
    processed_unread = _session(retry_count=1, state=State.PROCESSED, finished_at=T0 + 8)
    assert met_behaviours(Run(_tenant(failed, processed_unread), [], {}))["processing_retried"] is False


def test_the_recovery_table_says_when_processing_retried_means_nothing() -> None:
    row = next(line for line in recovery_table().splitlines() if line.startswith("| `processing_retried` |"))
    assert "recovery means nothing when the retried processing failed too" in row
    assert len(BEHAVIOURS) == len(recovery_table().splitlines()) - 2


# ---- 4. an entity type name over 64 characters ----------------------------------------------------
def _issue(name: str) -> str:
    registry = SchemaRegistry.shipped(None)
    body = orjson.loads(orjson.dumps({"entities": {name: [{"a": 1}]}}))
    verdict = check_page(body, registry, max_items=100, max_errors=100, reject_unknown_types=False)
    assert verdict.code is not None and verdict.code.code == "validation_failed"
    (error,) = verdict.errors
    return str(error["issue"])


def test_a_name_too_long_is_refused_with_the_whole_rule_and_its_length() -> None:
    name = "A" * 83  # letters only: its length alone breaks the rule
    issue = _issue(name)
    # was: "'AAAA...(83 characters)...AAAA' is not a valid entity type name (letters, digits, '_')"
    assert issue == (
        f"{name!r} (83 characters) is not a valid entity type name: "
        "a letter, then up to 63 letters, digits or '_' (64 characters at most)"
    )


def test_a_name_of_forbidden_characters_gets_the_same_rule_and_a_huge_one_is_cut_with_its_length() -> None:
    assert _issue("../x") == (
        "'../x' is not a valid entity type name: a letter, then up to 63 letters, digits or '_' (64 characters at most)"
    )
    huge = _issue("B" * 5000)
    assert "...(5000 characters)..." in huge and huge.endswith("(64 characters at most)")
    assert len(huge) < 300
    assert _issue("1" + "a" * 10).startswith("'1aaaaaaaaaa' is not a valid entity type name: a letter, then")
