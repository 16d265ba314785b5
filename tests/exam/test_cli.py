"""``python -m mock_sprinto.exam``: exit codes, --list, and the JSON, JUnit XML and Markdown files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.exam import output
from mock_sprinto.exam.cli import main
from mock_sprinto.exam.trials import CATALOGUE
from mock_sprinto.testing.exam import run_exam

from .conftest import CAREFUL_PY, DATASET, habit

ROOT = Path(__file__).parents[2]
TRIAL_KEYS = {
    "name",
    "scenario",
    "verdict",
    "reasons",
    "exit_code",
    "seconds",
    "records",
    "fault_met",
    "findings",
    "har",
}


def exam(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mock_sprinto.exam", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One exam with a passing and a failing trial, every output file written."""
    folder = tmp_path_factory.mktemp("cli")
    (folder / "expect.json").write_text(json.dumps(DATASET))
    ran = exam(
        "--trials",
        "close-fails,processing-failed",
        "--expect",
        "expect.json",
        "--json",
        "out/exam.json",
        "--junit-xml",
        "out/exam.xml",
        "--markdown",
        "out/exam.md",
        "--",
        *habit("exit-zero-always"),
        cwd=folder,
    )
    return ran, folder


def test_a_failed_trial_exits_1_with_progress_and_the_table(failing: Any) -> None:
    ran, _ = failing
    assert ran.returncode == 1, ran.stderr
    lines = ran.stdout.splitlines()
    assert any(line.split()[:2] == ["FAIL", "processing-failed"] for line in lines)  # progress
    assert any(line.split()[:2] == ["PASS", "close-fails"] for line in lines)
    assert "claimed_success: exit code 0 although" in ran.stdout  # the failed trial's detail
    assert "mock-sprinto exam FAILED: 1 of 2 trials passed" in lines[-1]


def test_the_json_has_the_shape_of_api_md_part_c(failing: Any) -> None:
    _, folder = failing
    document = json.loads((folder / "out/exam.json").read_text())
    assert document["passed"] is False
    # In the catalogue's order, whatever order they finished in
    assert [trial["name"] for trial in document["trials"]] == ["processing-failed", "close-fails"]
    for trial in document["trials"]:
        assert TRIAL_KEYS <= set(trial)
        assert trial["verdict"] in ("pass", "fail")
        assert isinstance(trial["exit_code"], int) and isinstance(trial["seconds"], float)
        assert set(trial["records"]) == {"expected", "applied"} and trial["records"]["expected"] == 30
        assert isinstance(trial["fault_met"], bool) and trial["fault_met"]
        assert isinstance(trial["findings"], list)
        assert all(set(reason) == {"id", "detail"} for reason in trial["reasons"])
        assert (folder / trial["har"]).is_file()  # relative to where the exam ran
        assert json.loads((folder / trial["report"]).read_text())["findings"] is not None
    failed = document["trials"][0]
    assert (failed["verdict"], failed["scenario"]) == ("fail", "processing-always-fails")
    assert [reason["id"] for reason in failed["reasons"]] == ["claimed_success"]


def test_the_junit_xml_has_a_testcase_per_trial(failing: Any) -> None:
    _, folder = failing
    root = ET.parse(folder / "out/exam.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["processing-failed", "close-fails"]
    assert cases["close-fails"].find("failure") is None
    failure = cases["processing-failed"].find("failure")
    assert failure is not None and failure.get("message") == "claimed_success"
    assert "har:" in (failure.text or "")
    out = cases["processing-failed"].findtext("system-out") or ""
    assert "closed" in out and "stdout (tail)" in out  # the client's own output


def test_the_markdown_is_a_table_for_a_job_summary(failing: Any) -> None:
    _, folder = failing
    text = (folder / "out/exam.md").read_text()
    assert text.startswith("### mock-sprinto exam FAILED")
    assert "| `processing-failed` | ❌ **fail** | 0 |" in text
    assert "`claimed_success`" in text


def test_every_trial_passed_exits_0(tmp_path: Path) -> None:
    (tmp_path / "expect.json").write_text(json.dumps(DATASET))
    ran = exam("--trials", "close-fails", "--expect", "expect.json", "--quiet", "--", *CAREFUL_PY, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "PASS  close-fails" not in ran.stdout  # --quiet: no progress lines
    assert (tmp_path / "mock-sprinto-exam" / "close-fails" / "traffic.har").is_file()  # the default artifacts


@pytest.fixture(scope="module")
def no_sync_py(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A newcomer's first exam, in a folder with no sync.py: Python exits 2 at once."""
    folder = tmp_path_factory.mktemp("no-sync")
    ran = exam("--quiet", "--junit-xml", "exam.xml", "--", sys.executable, "sync.py", cwd=folder)
    return ran, folder


def test_a_command_failing_before_any_request_shows_its_stderr_and_stops_the_exam(no_sync_py: Any) -> None:
    ran, folder = no_sync_py
    assert ran.returncode == 1, ran.stderr
    lines = ran.stdout.splitlines()
    shown = lines.index("    the command sent no request to the emulator; its stderr:")  # one line: all of it
    assert "can't open file" in lines[shown + 1] and "sync.py" in lines[shown + 1]  # the cause, on the terminal
    assert "mock-sprinto exam FAILED: 0 of 1 trials passed (14 not run)" in lines[-1]
    assert "were not run" in ran.stdout and "fault_not_met" not in ran.stdout  # no trial that proves nothing
    assert sorted(path.name for path in (folder / "mock-sprinto-exam").iterdir() if path.is_dir()) == ["baseline"]
    suite = ET.parse(folder / "exam.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("skipped")) == ("15", "14")


def test_a_command_exiting_0_without_a_request_stops_the_exam_and_names_the_variables(tmp_path: Path) -> None:
    """Before: all 15 trials ran (~130 lines of fault_not_met) and nothing said why: a client that
    reads no SPRINTO_BASE_URL syncs somewhere else, or nowhere."""
    said = "import sys; print('nothing to sync today'); sys.exit(0)"
    ran = exam("--quiet", "--", sys.executable, "-c", said, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    assert "mock-sprinto exam FAILED: 0 of 1 trials passed (14 not run)" in ran.stdout.splitlines()[-1]
    said_why = " ".join(ran.stdout.split())  # the note, wrapped
    assert "exited 0 without sending a single request" in said_why and "SPRINTO_BASE_URL" in said_why
    assert "fault_not_met" not in ran.stdout
    lines = ran.stdout.splitlines()
    shown = lines.index("    the command sent no request to the emulator; its stdout:")  # its stderr was empty
    assert lines[shown + 1] == "    | nothing to sync today"


@pytest.mark.parametrize(
    ("said", "why"),
    [
        ("import sys; sys.exit(3)", "(exit status 3; it wrote nothing to stderr or stdout)"),
        ("import sys; print('no token'); sys.exit(3)", "(its stdout says why)"),
    ],
)
def test_a_silent_failure_before_any_request_is_not_said_to_be_in_stderr(tmp_path: Path, said: str, why: str) -> None:
    """The note said "its stderr says why" of a command that wrote nothing there."""
    ran = exam("--quiet", "--", sys.executable, "-c", said, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    assert "failed before it sent a single request to the emulator " + why in " ".join(ran.stdout.split())


def test_a_baseline_that_hangs_stops_the_exam(tmp_path: Path) -> None:
    """Before: a command that hung after its first request ran every trial to its timeout (about 8
    minutes at the defaults)."""
    hang = (
        "import os, time, urllib.request\n"
        "base = os.environ['SPRINTO_BASE_URL'] + '/v1/integrations/' + os.environ['SPRINTO_INTEGRATION_ID']\n"
        "request = urllib.request.Request(base + '/sessions', data=b'{}', method='POST', headers={\n"
        "    'api-key': os.environ['SPRINTO_API_KEY'], 'Content-Type': 'application/json'})\n"
        "urllib.request.urlopen(request).read()\n"
        "time.sleep(60)\n"
    )
    ran = exam("--quiet", "--trial-timeout", "2", "--", sys.executable, "-c", hang, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    assert "(14 not run)" in ran.stdout.splitlines()[-1]
    assert "still running after 2 s with no fault injected (1 request(s) sent)" in " ".join(ran.stdout.split())


def test_quiet_prints_the_table_and_nothing_before_it(no_sync_py: Any) -> None:
    ran, _ = no_sync_py
    assert ran.stdout.splitlines()[0].split()[:3] == ["trial", "verdict", "exit"]


def test_the_records_column_says_dash_when_there_is_no_expected_dataset(no_sync_py: Any) -> None:
    ran, _ = no_sync_py
    (row,) = [line.split() for line in ran.stdout.splitlines() if line.startswith("baseline  ")]
    assert row[:5] == ["baseline", "fail", "2", row[3], "0/-"]  # as every trial's with nothing to expect


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "nope", "--", "true"], "no trial named 'nope'"),
        ([], "no command to examine"),
        (["--", "no-such-command-here"], "command not found"),
        (["--expect", "missing.json", "--", "true"], "--expect 'missing.json'"),
        (["--jobs", "0", "--", "true"], "--jobs"),
        (["--scenario", "bad.yaml", "--", "true"], "bad.yaml"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nrules: [{match: {operation: nowhere}, respond: {status: 503}}]\n")
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_list_names_every_trial(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    for trial in CATALOGUE:
        assert f"{trial.name}  [" in text
    assert "NOT recoverable" in text


def test_expect_judges_the_baseline_too(tmp_path: Path) -> None:
    more = {"User": [*DATASET["User"], {**DATASET["User"][0], "employeeId": "E31"}]}
    result = run_exam(CAREFUL_PY, trials=["baseline"], expect=more, artifacts=tmp_path)
    (reason,) = result.trial("baseline").reasons
    assert reason.id == "lost_records" and "employeeId=E31" in reason.detail
    fewer = {"User": DATASET["User"][:-1]}
    result = run_exam(CAREFUL_PY, trials=["baseline"], expect=fewer, artifacts=tmp_path)
    (reason,) = result.trial("baseline").reasons
    assert reason.id == "extra_records" and "employeeId=E30" in reason.detail


def test_a_users_scenario_is_a_recoverable_trial_named_after_it(tmp_path: Path) -> None:
    scenario = tmp_path / "first-start-fails.yaml"
    scenario.write_text(
        "name: first-start-fails\n"
        "rules:\n"
        "  - {name: start-503, match: {operation: start_session}, times: 1, respond: {status: 503}}\n"
    )
    result = run_exam(CAREFUL_PY, trials=[], scenarios=[scenario], expect=DATASET, artifacts=tmp_path / "a")
    (trial,) = result.trials
    assert (trial.name, trial.scenario, trial.passed, trial.fault_met) == (
        "first-start-fails",
        "first-start-fails",
        True,
        True,
    )


def test_the_environment_names_can_be_changed(tmp_path: Path) -> None:
    seen = tmp_path / "env.json"
    command = [
        sys.executable,
        "-c",
        "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))",
        str(seen),
    ]
    (tmp_path / "expect.json").write_text("{}")
    ran = exam(
        "--trials", "baseline", "--expect", "expect.json", "--env-base-url", "MY_URL", "--", *command, cwd=tmp_path
    )
    env = json.loads(seen.read_text())
    assert env["MY_URL"].startswith("http://127.0.0.1:") and env["MY_URL"].endswith("/api/external/push")
    assert "SPRINTO_BASE_URL" not in env or env["SPRINTO_BASE_URL"] != env["MY_URL"]
    assert env["SPRINTO_API_KEY"] and env["SPRINTO_INTEGRATION_ID"] and env["MOCK_SPRINTO_TRIAL"] == "baseline"
    assert ran.returncode == 0  # an empty expectation met by a command that applies nothing


def test_junit_xml_survives_output_xml_cannot_carry(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; sys.stdout.write('bell\\x07 nul\\x00 <tag> & done'); sys.exit(1)"]
    result = run_exam(command, trials=["baseline"], expect={}, artifacts=tmp_path)
    root = ET.fromstring(output.to_junit_xml(result))
    out = root.findtext("testsuite/testcase/system-out") or ""
    assert "<tag> & done" in out and "\x00" not in out


def test_the_console_script_runs_the_exam_as_a_subcommand(tmp_path: Path) -> None:
    """``mock-sprinto exam`` is the documented spelling; ``mock-sprinto --help`` lists it."""
    (tmp_path / "expect.json").write_text(json.dumps(DATASET))
    script = [sys.executable, "-m", "mock_sprinto"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = subprocess.run(
        [*script, "exam", "--trials", "baseline", "--expect", "expect.json", "--", *CAREFUL_PY],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "mock-sprinto exam PASSED: 1 of 1 trials passed" in ran.stdout
    listed = subprocess.run([*script, "--help"], env=env, capture_output=True, text=True, timeout=60)
    words = " ".join(listed.stdout.split())  # argparse wraps to the terminal's width
    assert "exam put your sync command (any language) through every documented fault" in words
