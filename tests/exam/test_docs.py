"""docs/exam.md stays true: the trials table of Sprinto's documented failures is the generated one."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mock_sprinto.exam import output
from mock_sprinto.exam.trials import BY_NAME, DOC_RULES_MET, doc_rules_table
from mock_sprinto.rules import RULES
from mock_sprinto.testing.exam import run_exam

from .conftest import DATASET, habit

DOC = (Path(__file__).parents[2] / "docs" / "exam.md").read_text(encoding="utf-8")


def test_every_documented_rule_is_met_by_a_trial_that_exists() -> None:
    documented = {rule.topic for rule in RULES if rule.basis == "doc"}
    assert set(DOC_RULES_MET) == documented
    for topic, trials in DOC_RULES_MET.items():
        assert trials and all(name in BY_NAME for name in trials), topic


def test_the_docs_table_is_the_generated_one() -> None:
    match = re.search(r"<!-- doc-rules:begin[^>]*-->\n(.*?)\n<!-- doc-rules:end -->", DOC, re.S)
    assert match and match.group(1) == doc_rules_table(), "copy mock_sprinto.exam.trials.doc_rules_table() here"


def test_every_trial_is_in_the_docs() -> None:
    for name in BY_NAME:
        assert f"| `{name}` |" in DOC, name


def _block(name: str) -> str:
    from ..doctext import block

    return block(name)


def test_the_commands_shown_parse_and_list_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from mock_sprinto.exam.cli import build_parser, main

    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in _block("exam-commands").splitlines()]
    assert len(lines) == 4
    for line in lines:
        words = shlex.split(line)
        start = 1 if words[0] == "mock-sprinto" and words[1] == "exam" else 3  # python -m mock_sprinto.exam
        args = words[start + (words[0] == "mock-sprinto") :]
        build_parser().parse_args(args)
    assert main(["--list"]) == 0
    assert "slow-answer" in capsys.readouterr().out


def test_the_json_shown_has_the_members_a_run_writes(tmp_path: Path) -> None:
    shown = json.loads(_block("exam-json"))
    result = run_exam(habit("exit-zero-always"), trials=["processing-failed"], expect=DATASET, artifacts=tmp_path)
    written = json.loads(output.to_json(result))
    assert set(shown) == set(written)
    assert set(shown["trials"][0]) == set(written["trials"][-1])
    assert [r["id"] for r in written["trials"][-1]["reasons"]] == [r["id"] for r in shown["trials"][0]["reasons"]]


def test_the_ci_job_shown_installs_from_git_and_runs_a_valid_exam() -> None:
    from mock_sprinto.exam.cli import build_parser

    steps = yaml.safe_load(_block("exam-ci"))
    install, exam = steps[0]["run"], steps[1]["run"]
    assert install.startswith("pip install") and "git+" in install  # not on the package index
    words = shlex.split(exam)
    assert words[:2] == ["mock-sprinto", "exam"]
    args = build_parser().parse_args(words[2:])
    assert args.json == "exam.json" and args.junit_xml == "exam.xml" and args.sync_command[-2:] == ["python", "sync.py"]


def test_the_pytest_example_passes_on_a_careful_client(tmp_path: Path) -> None:
    careful = Path(__file__).parent / "clients" / "careful.py"
    test_file = tmp_path / "test_exam_example.py"
    test_file.write_text(_block("exam-python").replace('"sync.py"', repr(str(careful))), encoding="utf-8")
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert ran.returncode == 0 and "2 passed" in ran.stdout, ran.stdout[-3000:] + ran.stderr[-3000:]


def test_every_trials_scenario_ships() -> None:
    from mock_sprinto.faults import shipped_scenarios

    shipped = set(shipped_scenarios())
    assert [t.name for t in BY_NAME.values() if t.scenario is not None and t.scenario not in shipped] == []


def test_the_habit_table_says_what_the_zoo_finds() -> None:
    """Each habit's row names the trials the zoo runs it on and, exactly, the reasons and error
    findings they fail with (tests/exam/test_zoo.py asserts those on real runs)."""
    from .test_zoo import ZOO

    rows = re.findall(r"^\| `([a-z-]+)` \| (.*?) \| (.*?) \|$", DOC.split("`careful.py --habit NAME`")[1], re.M)
    table = {name: (fails, because) for name, fails, because in rows if name in ZOO}
    assert set(table) == set(ZOO)
    for name, trials in ZOO.items():
        fails, because = table[name]
        assert set(re.findall(r"`([^`]+)`", fails)) == set(trials), name
        said = set(re.findall(r"`([^`]+)`", because)) - set(BY_NAME)
        reasons = {reason for found, _ in trials.values() for reason in found}
        findings = {finding for _, found in trials.values() for finding in found}
        assert said == reasons | findings, name


def test_every_page_named_is_in_the_repository() -> None:
    root = Path(__file__).parents[2]
    for name in set(re.findall(r"[\w./-]+\.md\b", DOC)):
        assert (root / "docs" / name).is_file() or (root / name).is_file(), f"docs/exam.md names {name}: no such file"
