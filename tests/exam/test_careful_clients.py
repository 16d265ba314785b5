"""The careful clients pass every trial: the exam's own proof that each fault is recoverable (or
correctly not) by a client doing what Sprinto's guide asks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.exam.trials import CATALOGUE
from mock_sprinto.testing.exam import assert_exam_passed, run_exam

from .clients import careful
from .conftest import CAREFUL_NODE, CAREFUL_PY, DATASET

SILENT_429 = "throttled-no-retry-after"
AVAILABLE = [trial.name for trial in CATALOGUE]


def test_the_careful_python_client_passes_every_trial(artifacts: Path) -> None:
    result = assert_exam_passed(CAREFUL_PY, artifacts=artifacts)
    assert [trial.name for trial in result.trials] == AVAILABLE
    assert result.expected_from == "baseline"
    for trial in result.trials:
        assert trial.fault_met, trial.name
        assert trial.records_expected == 30
        assert trial.records_applied == (30 if trial.recoverable else 0), trial.name
        assert trial.exit_code == (0 if trial.recoverable else 1), trial.name
        assert trial.har is not None and trial.har.is_file()
    notes = {trial.name: [note.id for note in trial.notes] for trial in result.trials}
    assert notes["answer-lost"] == ["staged_twice"]
    assert notes["page-too-large"] == []  # the limit is the exam's, not Sprinto's: no oversized_page
    assert result.seconds < 30


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the Node client cannot run")
def test_the_careful_node_client_passes_every_trial(artifacts: Path) -> None:
    result = assert_exam_passed(CAREFUL_NODE, artifacts=artifacts, expect=DATASET)
    assert [trial.name for trial in result.trials] == AVAILABLE
    assert result.expected_from == "expect"


def test_a_careful_client_that_compresses_its_pages_is_refused_for_their_size_and_recovers(artifacts: Path) -> None:
    # Its gzip pages are ~300 bytes on the wire, under the smallest limit the exam sets there (a start
    # or a close must pass it): page-too-large said "fault_not_met ... the command sent smaller pages
    # than in the baseline". It now limits the decoded size of a client that compresses.
    result = run_exam([*CAREFUL_PY, "--gzip"], trials=["page-too-large"], artifacts=artifacts)
    trial = result.trial("page-too-large")
    assert trial.passed and trial.fault_met, trial.reasons
    assert trial.records_applied == 30


def test_a_sync_of_pages_too_small_to_refuse_is_told_so(artifacts: Path) -> None:
    result = run_exam(
        [*CAREFUL_PY, "--records", "2", "--page-size", "1"], trials=["page-too-large"], artifacts=artifacts
    )
    trial = result.trial("page-too-large")
    assert trial.verdict == "not_applicable" and not trial.reasons and result.passed  # not a failure
    assert "within the exam's smallest limit (512 bytes" in trial.not_applicable
    assert "smaller pages" not in trial.not_applicable


def test_the_careful_client_recovers_from_a_429_without_retry_after(artifacts: Path) -> None:
    result = run_exam(CAREFUL_PY, trials=[SILENT_429], expect=DATASET, artifacts=artifacts)
    trial = result.trial(SILENT_429)
    assert trial.passed and trial.fault_met, trial.reasons


def test_a_callable_target_runs_in_process(artifacts: Path) -> None:
    def sync(env: Any) -> None:
        if careful.Client(env=env).sync(careful.users(30), 10) != 0:
            raise RuntimeError("the sync failed")

    result = assert_exam_passed(
        sync, trials=["throttled", "expired-mid-sync", "processing-failed"], expect=DATASET, artifacts=artifacts
    )
    assert [trial.exit_code for trial in result.trials] == [0, 0, 1]
    failed = result.trial("processing-failed")
    assert failed.stderr is not None and "RuntimeError: the sync failed" in failed.stderr.read_text()
