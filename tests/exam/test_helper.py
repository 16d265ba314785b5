"""``mock_sprinto.testing.exam``: what a failing test says, and the helper's arguments."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from mock_sprinto.testing.exam import ExamResult, TrialResult, assert_exam_passed, run_exam

from .conftest import CAREFUL_PY, DATASET, habit


def test_a_failed_exam_names_each_failed_trial_its_reasons_and_evidence() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_exam_passed(habit("exit-zero-always"), trials=["processing-failed", "close-fails"], expect=DATASET)
    message = str(raised.value)
    assert message.startswith("mock-sprinto exam: 1 of 2 trial(s) failed")
    assert "processing-failed (processing-always-fails)" in message
    assert "- claimed_success: exit code 0 although" in message
    assert "close-fails" not in message
    paths = dict(re.findall(r"^\s+(har|report|stdout|stderr): (.+)$", message, re.MULTILINE))
    assert set(paths) == {"har", "report", "stdout", "stderr"}
    assert all(Path(path).is_file() for path in paths.values())  # kept in a temporary folder


def test_progress_is_reported_as_each_trial_finishes(tmp_path: Path) -> None:
    seen: list[TrialResult] = []
    result: ExamResult = run_exam(
        CAREFUL_PY, trials=["close-fails", "stale-session"], expect=DATASET, artifacts=tmp_path, on_done=seen.append
    )
    assert sorted(trial.name for trial in seen) == ["close-fails", "stale-session"]
    assert result.passed and result.public()["passed"] is True


def test_bad_arguments_are_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="sequence of arguments"):
        run_exam(f"{sys.executable} sync.py")  # a str is a sequence: refused at run time
    with pytest.raises(ValueError, match="no trial named 'nope'"):
        run_exam(CAREFUL_PY, trials=["nope"], artifacts=tmp_path)
    with pytest.raises(ValueError, match="expected dataset"):
        run_exam(CAREFUL_PY, expect={"User": "not a list"}, artifacts=tmp_path)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="scenario"):
        run_exam(CAREFUL_PY, scenarios=[{"name": "Bad Name"}], artifacts=tmp_path)
    with pytest.raises(ValueError, match="clashes"):
        run_exam(CAREFUL_PY, scenarios=[{"name": "throttled", "rules": []}], artifacts=tmp_path)


def test_an_exam_removes_an_earlier_exams_evidence_and_nothing_else(tmp_path: Path) -> None:
    """A CI job uploads the artifacts folder: the folders of trials this exam did not run must not
    show an earlier run's output, and a user's own files there must stay."""

    def applies_nothing(env: object) -> None:
        return None

    mine = {"name": "my-fault", "rules": [{"match": {"operation": "start_session"}, "respond": {"status": 503}}]}
    run_exam(applies_nothing, trials=["close-fails"], scenarios=[mine], expect={}, artifacts=tmp_path)
    assert (tmp_path / "close-fails" / "traffic.har").is_file() and (tmp_path / "my-fault" / "report.json").is_file()
    (tmp_path / "keep.txt").write_text("the user's")
    (tmp_path / "close-fails" / "notes.txt").write_text("the user's too")

    run_exam(applies_nothing, trials=["baseline"], expect={}, artifacts=tmp_path)
    assert not (tmp_path / "my-fault").exists()  # the earlier exam's own scenario's folder
    assert [path.name for path in (tmp_path / "close-fails").iterdir()] == ["notes.txt"]
    assert (tmp_path / "keep.txt").read_text() == "the user's"
    assert (tmp_path / "baseline" / "traffic.har").is_file()


def test_a_command_that_cannot_start_fails_the_test_with_its_stderr(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_exam_passed([sys.executable, str(tmp_path / "missing_sync.py")], artifacts=tmp_path / "exam")
    message = str(raised.value)
    assert message.startswith("mock-sprinto exam: 1 of 1 trial(s) failed (14 not run)")
    assert "the command sent no request to the emulator; its stderr:" in message
    assert "can't open file" in message and "missing_sync.py" in message
