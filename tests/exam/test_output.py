"""What the exam prints and writes, from results made here: the table's text wraps to the terminal
and never inside a word, and the JUnit XML names what it means."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mock_sprinto.exam import output
from mock_sprinto.exam.oracle import Reason
from mock_sprinto.exam.results import ExamResult, TrialResult
from mock_sprinto.exam.trials import BASELINE, BY_NAME

SILENT_429 = BY_NAME["throttled-no-retry-after"]


def result(name: str, *reasons: Reason, scenario: str | None = None) -> TrialResult:
    return TrialResult(
        name=name,
        scenario=scenario,
        description=BY_NAME[name].fault,
        recoverable=True,
        reasons=reasons,
        exit_code=1 if reasons else 0,
        records_expected=30,
        records_applied=0 if reasons else 30,
        fault_met=True,
        requests=3,
    )


def gave_up(trial_name: str) -> Reason:
    trial = BY_NAME[trial_name]
    return Reason("gave_up", f"exit code 1 after a recoverable fault ({trial.fault}); expected: {trial.expects}")


@pytest.mark.parametrize("columns", [50, 64, 80, 97, 110, 132])
def test_the_reasons_wrap_to_the_terminal_and_never_inside_a_word(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))  # what a terminal of that width says
    reasons = (gave_up("throttled-no-retry-after"), gave_up("throttled"))
    exam = ExamResult(trials=(result("throttled-no-retry-after", *reasons, scenario=SILENT_429.scenario),))
    text = output.table(exam)
    section = text[text.index("throttled-no-retry-after (fail)") :].splitlines()
    width = max(40, min(120, columns))  # docs/exam.md: the terminal's width, between 40 and 120
    reason_lines = [line for line in section if line.startswith(("  - ", "      "))]
    assert reason_lines and all(len(line) <= width for line in reason_lines), (width, reason_lines)
    words = set(" ".join(reason_lines).split())
    for reason in reasons:
        for word in f"{reason.id}: {reason.detail}".split():
            assert word in words, (word, reason_lines)  # "Retry-After:" whole, never "Retry-" then "After:"


def test_the_junit_xml_says_none_for_the_baselines_scenario_not_pythons_none() -> None:
    baseline = TrialResult(
        name="baseline",
        scenario=BASELINE.scenario_label,
        description=BASELINE.fault,
        recoverable=True,
        reasons=(),
        exit_code=0,
    )
    root = ET.fromstring(output.to_junit_xml(ExamResult(trials=(baseline,))))
    out = root.findtext("testsuite/testcase/system-out") or ""
    assert "scenario: none" in out.splitlines() and "None" not in out


def test_a_trial_that_did_not_run_is_a_skipped_junit_testcase() -> None:
    ran = result("throttled", Reason("gave_up", "exit code 2 after a recoverable fault"))
    exam = ExamResult(trials=(ran,), skipped=("server-errors", "close-fails"))
    suite = ET.fromstring(output.to_junit_xml(exam)).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "2")
    skipped = {case.get("name"): case.find("skipped") for case in suite.iter("testcase")}
    assert skipped["throttled"] is None
    assert skipped["server-errors"] is not None and "not run" in (skipped["server-errors"].get("message") or "")
    assert "FAILED: 0 of 1 trials passed (2 not run)" in output.headline(exam)


def test_the_judges_advice_is_printed_once_for_each_finding_it_names() -> None:
    # The reasons named the findings ("the judge's error findings: gave_up (1x)"); what to do about
    # them was in report.json alone.
    from dataclasses import replace

    from mock_sprinto.exam.results import Finding

    gave = Finding("gave_up", "error", 1, "the client gave up", "Retry 429s, 5xx answers and broken connections.")
    left = Finding("outcome_not_read", "warning", 1, "never read", "Poll the session until processed or failed.")
    hint = Finding("missing_page_hint", "info", 3, "no page_hint", "Send a page_hint.")
    trials = (
        replace(result("throttled", gave_up("throttled")), findings=(gave, left, hint)),
        replace(result("server-errors", gave_up("server-errors")), findings=(gave,)),
    )
    text = output.table(ExamResult(trials=trials), width=100)
    advice = text[text.index("the judge's advice:") :].splitlines()
    assert advice[1:3] == [
        "  - gave_up: Retry 429s, 5xx answers and broken connections.",
        "  - outcome_not_read: Poll the session until processed or failed.",
    ]
    assert text.count("Retry 429s") == 1 and "Send a page_hint" not in text
    assert "advice" not in output.table(ExamResult(trials=(result("throttled"),)), width=100)
