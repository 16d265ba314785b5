"""The exam from Python and pytest: ``run_exam`` returns what it found, ``assert_exam_passed``
fails a test with each failed trial's reasons and evidence::

    from mock_sprinto.testing.exam import assert_exam_passed

    def test_my_sync_survives_every_documented_fault():
        assert_exam_passed([sys.executable, "sync.py"])

    def test_the_sync_function_itself(tmp_path):
        assert_exam_passed(lambda env: sync(env["SPRINTO_BASE_URL"], env["SPRINTO_API_KEY"],
                                            env["SPRINTO_INTEGRATION_ID"]),
                           trials=["throttled", "expired-mid-sync"], artifacts=tmp_path)

A target is a command (a sequence of strings, run once per trial in its own process group) or a
callable given the environment a command would get (run on a worker thread: returning is exit 0,
raising is exit 1; one still running at the wall-clock limit is reported ``timed_out`` and
abandoned, since Python cannot stop a thread).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from ..exam.cli import UsageError, checked_expect, load_expect, scenario_trial
from ..exam.oracle import REASON_IDS, Reason
from ..exam.output import output_tail
from ..exam.process import SyncCallable, Target
from ..exam.results import ExamResult, Finding, TrialResult
from ..exam.runner import DEFAULT_JOBS, DEFAULT_TRIAL_TIMEOUT, EnvNames, Exam, ExamOptions
from ..exam.trials import CATALOGUE, Trial, user_trial
from ..faults import ScenarioError, parse_scenario

__all__ = [
    "CATALOGUE",
    "REASON_IDS",
    "EnvNames",
    "ExamResult",
    "Finding",
    "Reason",
    "SyncCallable",
    "Target",
    "TrialResult",
    "assert_exam_passed",
    "failure_message",
    "run_exam",
]

ExpectSpec = Union[Mapping[str, Sequence[Mapping[str, Any]]], str, "os.PathLike[str]"]
ScenarioSpec = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def run_exam(
    target: Target,
    *,
    trials: Sequence[str] | None = None,
    expect: ExpectSpec | None = None,
    scenarios: Sequence[ScenarioSpec] = (),
    jobs: int = DEFAULT_JOBS,
    trial_timeout: float = DEFAULT_TRIAL_TIMEOUT,
    artifacts: str | os.PathLike[str] | None = None,
    env_names: EnvNames | None = None,
    on_done: Callable[[TrialResult], None] | None = None,
) -> ExamResult:
    """Run the exam of ``target`` on an emulator of its own; the result of every trial.

    ``trials``: catalogue trial names (default: all); ``expect``: the expected dataset (a mapping
    ``{"User": [records]}`` or a JSON file; default: what the baseline applied); ``scenarios``:
    your own scenarios (files or dicts), each a recoverable trial; ``artifacts``: the folder of
    evidence (default: a new temporary folder, kept, so a failure's paths can be opened)."""
    if isinstance(target, (str, bytes)):
        raise TypeError("a command is a sequence of arguments, e.g. [sys.executable, 'sync.py'], not one string")
    if not callable(target) and not list(target):
        raise ValueError("an empty command")
    try:
        expected = _expected(expect)
        extra = [_scenario_trial(spec) for spec in scenarios]
    except UsageError as problem:
        raise ValueError(str(problem)) from None
    folder = Path(artifacts) if artifacts is not None else Path(tempfile.mkdtemp(prefix="mock-sprinto-exam-"))
    options = ExamOptions(
        trials=None if trials is None else list(trials),
        expect=expected,
        extra_trials=extra,
        jobs=jobs,
        trial_timeout=trial_timeout,
        artifacts=folder,
        env_names=env_names or EnvNames(),
    )
    return Exam(target, options, on_done=on_done).run()


def assert_exam_passed(target: Target, **options: Any) -> ExamResult:
    """``run_exam`` (same options), raising ``AssertionError`` unless every trial passed; the
    message lists each failed trial with its reasons and the paths of its evidence."""
    __tracebackhide__ = True
    result = run_exam(target, **options)
    if not result.passed:
        raise AssertionError(failure_message(result))
    return result


def failure_message(result: ExamResult) -> str:
    failed = result.failed
    not_run = f" ({len(result.skipped)} not run)" if result.skipped else ""
    lines = [f"mock-sprinto exam: {len(failed)} of {len(result.trials)} trial(s) failed{not_run}"]
    for trial in failed:
        lines.append(f"  {trial.name} ({trial.scenario or 'no fault'}): {trial.description}")
        for reason in trial.reasons:
            lines.append(f"    - {reason.id}: {reason.detail}")
        if trial.failed_without_a_request:  # the cause is in what it wrote, not in the reasons
            lines.extend(f"  {line}" for line in output_tail(trial))
        for label, path in trial.evidence():
            lines.append(f"      {label}: {path}")
    lines.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(lines)


def _expected(expect: ExpectSpec | None) -> dict[str, list[Any]] | None:
    if expect is None:
        return None
    if isinstance(expect, (str, os.PathLike)):
        return load_expect(expect)
    return checked_expect(dict(expect))


def _scenario_trial(spec: ScenarioSpec) -> Trial:
    if isinstance(spec, Mapping):
        try:
            parse_scenario(dict(spec), "scenario")
        except ScenarioError as exc:
            raise UsageError(str(exc)) from None
        return user_trial(dict(spec), "inline")
    return scenario_trial(spec)
