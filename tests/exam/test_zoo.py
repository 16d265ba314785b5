"""The zoo: the careful client with one bad habit each fails the trial that catches that habit,
for the reason the oracle gives it (only the relevant trials run, against a given --expect)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_sprinto.testing.exam import run_exam

from .conftest import DATASET, habit

# habit -> {trial: reason ids it must fail with}
ZOO: dict[str, dict[str, set[str]]] = {
    "no-retry": {
        "throttled": {"gave_up", "lost_records"},
        "server-errors": {"gave_up", "lost_records"},
        "connection-reset": {"gave_up", "lost_records"},
    },
    "no-timeout": {"slow-answer": {"timed_out", "lost_records", "session_left_active"}},
    "exit-zero-always": {"processing-failed": {"claimed_success"}, "page-rejected": {"claimed_success"}},
    "skip-failed-page": {"server-errors": {"lost_records"}},
    "ignore-start-conflict": {"stale-session": {"gave_up", "lost_records", "session_left_active"}},
    "action-close": {"baseline": {"lost_records", "session_left_active"}},
    "no-split": {"page-too-large": {"gave_up", "lost_records"}},
    "no-expiry-handling": {"expired-mid-sync": {"gave_up", "lost_records"}},
    # The judge's existing retry_too_soon finding: a retry before the 429's Retry-After elapsed.
    "retry-fast": {"throttled": {"findings"}},
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_each_bad_habit_fails_the_trial_that_catches_it(name: str, tmp_path: Path) -> None:
    expected = ZOO[name]
    result = run_exam(habit(name), trials=sorted(expected), expect=DATASET, trial_timeout=4, artifacts=tmp_path)
    for trial_name, reasons in expected.items():
        trial = result.trial(trial_name)
        assert trial.verdict == "fail", trial_name
        assert reasons <= set(trial.reason_ids), (trial_name, trial.reasons)
        assert trial.fault_met, trial_name
    assert not result.passed


def test_retry_fast_is_named_by_the_judges_finding(tmp_path: Path) -> None:
    result = run_exam(habit("retry-fast"), trials=["throttled"], expect=DATASET, artifacts=tmp_path)
    (reason,) = result.trial("throttled").reasons
    assert "retry_too_soon" in reason.detail


def test_a_timed_out_trial_is_killed_at_its_limit(tmp_path: Path) -> None:
    result = run_exam(habit("no-timeout"), trials=["slow-answer"], expect=DATASET, trial_timeout=2, artifacts=tmp_path)
    trial = result.trial("slow-answer")
    assert trial.timed_out and trial.exit_code is None
    assert 2 <= trial.seconds < 8  # the limit, the kill's grace, the judging


def test_retry_fast_on_server_errors_is_a_finding(tmp_path: Path) -> None:
    result = run_exam(habit("retry-fast"), trials=["server-errors"], expect=DATASET, artifacts=tmp_path)
    assert "findings" in result.trial("server-errors").reason_ids


def test_action_close_is_a_finding(tmp_path: Path) -> None:
    result = run_exam(habit("action-close"), trials=["baseline"], expect=DATASET, artifacts=tmp_path)
    reasons = result.trial("baseline").reasons
    assert any(reason.id == "findings" and "close_without_status" in reason.detail for reason in reasons)


def test_a_one_page_sync_meets_no_page_2_fault(tmp_path: Path) -> None:
    command = [*habit("no-retry")[:2], "--records", "10"]
    result = run_exam(command, trials=["throttled", "answer-lost", "close-fails"], artifacts=tmp_path)
    assert result.trial("baseline").passed
    for name in ("throttled", "answer-lost"):
        (reason,) = result.trial(name).reasons
        assert reason.id == "fault_not_met" and "fewer than two pages" in reason.detail, name
    assert result.trial("close-fails").passed  # a close happens to any sync
