"""What a Node newcomer's review found in the exam and the scenarios (/tmp/review-node.md #4, #5,
#6, #8): page-too-large names the limit it lowered, a command failing at once shows the top of its
stderr too, the exam's HAR holds the bodies the judge needs, and a scenario object that only names a
shipped scenario is refused rather than installed as a no-op."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.cli import main as cli_main
from mock_sprinto.exam import output
from mock_sprinto.exam.runner import JOURNAL_BODIES_BYTES
from mock_sprinto.exam.trials import BY_NAME, CATALOGUE
from mock_sprinto.faults import ScenarioError, parse_scenario
from mock_sprinto.report.har import NEEDS_PUSH_BODIES, judge_har
from mock_sprinto.testing.exam import assert_exam_passed, run_exam

from ..helpers import Control
from .conftest import CAREFUL_PY, DATASET


# ---- #4: page-too-large names the setting it lowered ---------------------------------------------------
@pytest.mark.parametrize(
    ("client", "setting"),
    [(CAREFUL_PY, "max_request_bytes"), ([*CAREFUL_PY, "--gzip"], "max_decoded_bytes")],
    ids=["plain", "gzip"],
)
def test_page_too_large_names_the_setting_the_run_lowered(client: list[str], setting: str, artifacts: Path) -> None:
    result = run_exam(client, trials=["page-too-large"], artifacts=artifacts)
    trial = result.trial("page-too-large")
    assert trial.passed and trial.fault_met, trial.reasons
    other = {"max_request_bytes", "max_decoded_bytes"} - {setting}
    assert trial.scenario == f"setting:{setting}"
    assert trial.description.startswith(f"{setting} is lowered to ") and other.isdisjoint(trial.description.split())
    as_json = json.loads(output.to_json(result))
    (member,) = [t for t in as_json["trials"] if t["name"] == "page-too-large"]
    assert member["scenario"] == f"setting:{setting}" and setting in member["description"]
    suite = ET.fromstring(output.to_junit_xml(result))
    (case,) = [c for c in suite.iter("testcase") if c.get("name") == "page-too-large"]
    assert f"scenario: setting:{setting}" in (case.findtext("system-out") or "")


def test_the_trial_list_says_which_limit_is_lowered_in_which_case() -> None:
    trial = BY_NAME["page-too-large"]
    assert trial.scenario_label == "setting:max_request_bytes|max_decoded_bytes"
    listed = output.catalogue_text(CATALOGUE, width=400)
    line = next(line for line in listed.splitlines() if "fault: the request size limit" in line)
    assert "max_request_bytes on the wire" in line
    assert "max_decoded_bytes on the decoded body when the baseline compressed its pages" in line


# ---- #5: a command failing at once shows the top of its stderr ------------------------------------------
NODE_LIKE = (
    "import sys\n"
    "w = sys.stderr.write\n"
    "w('node:internal/modules/cjs/loader:1210\\n  throw err;\\n  ^\\n\\n')\n"
    "w(\"Error: Cannot find module '/tmp/missing.mjs'\\n\")\n"
    "for i in range(40):\n"
    "    w(f'    at frame {i} (node:internal/modules/run_main:{i}:5)\\n')\n"
    "w('}\\n\\nNode.js v20.20.2\\n')\n"
    "sys.exit(1)\n"
)


def test_a_command_failing_at_once_shows_the_first_lines_of_its_stderr_too(artifacts: Path) -> None:
    result = run_exam([sys.executable, "-c", NODE_LIKE], artifacts=artifacts)
    lines = output.table(result, width=100).splitlines()
    start = lines.index("    the command sent no request to the emulator; the first and last lines of its stderr:")
    shown = lines[start + 1 : start + 1 + output.STDERR_HEAD_LINES + 1 + output.STDERR_TAIL_LINES]
    assert "    | Error: Cannot find module '/tmp/missing.mjs'" in shown  # the cause, at the top
    assert shown[-1] == "    | Node.js v20.20.2"  # and the end
    assert shown[output.STDERR_HEAD_LINES] == "    | [... 33 line(s) left out ...]"
    with pytest.raises(AssertionError) as raised:  # the pytest helper's message shows the same
        assert_exam_passed([sys.executable, "-c", NODE_LIKE], artifacts=artifacts)
    assert "Error: Cannot find module '/tmp/missing.mjs'" in str(raised.value)


def test_the_stderr_excerpt_is_bounded_however_long_the_output(tmp_path: Path) -> None:
    path = tmp_path / "stderr.txt"
    path.write_text("Error: the cause\n" + "x" * 100_000 + "\n" + "".join(f"frame {i}\n" for i in range(5000)))
    head, left_out, tail = output.stderr_excerpt(path)
    assert head[0] == "Error: the cause" and len(head) <= output.STDERR_HEAD_LINES
    assert all(len(line) <= output.STDERR_LINE_CHARS + 6 for line in head + tail)
    assert left_out is not None and "stderr.txt has all" in left_out
    assert tail[-1] == "frame 4999" and len(tail) == output.STDERR_TAIL_LINES


# ---- #6: the exam's HAR holds the bodies the judge needs ---------------------------------------------
def test_the_exams_har_holds_request_bodies_and_is_judged_page_by_page(
    artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_exam(CAREFUL_PY, trials=["answer-lost"], expect=DATASET, artifacts=artifacts)
    trial = result.trial("answer-lost")
    assert trial.passed and trial.har is not None, trial.reasons
    har: dict[str, Any] = json.loads(trial.har.read_text(encoding="utf-8"))
    pushes = [e for e in har["log"]["entries"] if e["request"]["url"].endswith("/entities")]
    assert pushes and all("entities" in json.loads(e["request"]["postData"]["text"]) for e in pushes)
    (judged,) = judge_har(har).public()["integrations"]
    assert not set(NEEDS_PUSH_BODIES) & {item["id"] for item in judged["not_judged"]}, judged["not_judged"]
    assert cli_main(["judge", str(trial.har)]) in (0, 1)
    assert "no whole request body" not in capsys.readouterr().out
    assert JOURNAL_BODIES_BYTES >= 100 * 1024  # a page of 100 records of ~1 KB is whole


# ---- #8: a scenario object that only names a shipped scenario -------------------------------------------
@pytest.mark.parametrize("document", [{"name": "reject-page-2"}, {"name": "strict-limits", "rules": []}])
def test_a_scenario_with_nothing_in_it_named_like_a_shipped_one_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(document)
    (problem,) = raised.value.problems
    assert problem.path == "/name" and "no rules and no settings" in problem.message
    assert f'send its name as a JSON string ("{document["name"]}")' in problem.message


@pytest.mark.parametrize(
    "document",
    [
        {"name": "default"},  # the shipped default is itself empty: the same no-op
        {"name": "my-own"},  # a name of its own: an empty scenario is the user's choice
        {"name": "strict-limits", "settings": {"max_page_items": 5}},
        {"name": "reject-page-2", "rules": [{"match": {"operation": "push_page"}, "respond": {"status": 400}}]},
    ],
)
def test_other_scenarios_without_rules_or_with_a_shipped_name_are_still_taken(document: dict[str, Any]) -> None:
    assert parse_scenario(document).name == document["name"]


async def test_the_control_api_refuses_it_with_400_and_takes_the_name_as_a_string(control: Control) -> None:
    path = "/_mock/integrations/acme/scenario"
    async with control.client.put(path, json={"name": "reject-page-2"}) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_scenario"), problem
    assert 'as a JSON string ("reject-page-2")' in json.dumps(problem, ensure_ascii=False).replace('\\"', '"')
    async with control.client.put(path, json="reject-page-2") as response:
        installed = await response.json()
    assert response.status == 200 and installed["rules"], installed
