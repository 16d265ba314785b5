"""The README and the docs behind it: their examples run, their generated tables match the code
(the tables are on docs/reference.md; how every block is tagged and tested: tests/test_docs.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_sprinto.cli import settings_table
from mock_sprinto.codes import CATALOGUE
from mock_sprinto.faults import parse_scenario, shipped_scenarios
from mock_sprinto.report import findings_table
from mock_sprinto.rules import BY_CODE, RULES, markdown_table
from mock_sprinto.settings import load_config

from .doctext import block, generated, page
from .e2e.test_cli import start
from .helpers import Vendor, user

REFERENCE = "docs/reference.md"


def test_settings_table_is_the_generated_one() -> None:
    assert generated(REFERENCE, "settings") == settings_table(), "run: mock-sprinto settings --markdown"


def test_findings_table_is_the_generated_one() -> None:
    assert generated(REFERENCE, "findings") == findings_table(), "copy mock_sprinto.report.findings_table() here"


def test_doc_versus_emulator_table_is_the_generated_one() -> None:
    assert generated(REFERENCE, "rules") == markdown_table(), "run: mock-sprinto rules --markdown"


def test_every_error_code_the_emulator_answers_has_a_rule_with_its_basis() -> None:
    """An error whose code is in no rule would carry basis 'mock' by default: say which rule it is.
    Every code answered is in the catalogue (``tests/unit/test_codes.py`` sees to that)."""
    assert [entry.code for entry in CATALOGUE if entry.code not in BY_CODE] == []
    assert [entry.code for rule in RULES for entry in rule.codes if entry not in CATALOGUE] == []
    filed = [entry.code for rule in RULES for entry in rule.codes]
    assert sorted(code for code in set(filed) if filed.count(code) > 1) == [], "a code under two rules"


@pytest.mark.skipif(shutil.which("curl") is None, reason="the quickstart uses curl")
def test_quickstart_runs_as_written() -> None:
    server = start()
    try:
        script = "set -euo pipefail\n" + block("quickstart").replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"accepted_count_total":1' in result.stdout and '"state":"processing"' in result.stdout
        lines = result.stdout.splitlines()
        assert len(lines) == 3 and all(line.startswith("{") and line.endswith("}") for line in lines), lines
    finally:
        server.proc.terminate()
        server.proc.wait(10)


def test_config_example_loads(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text(block("config"))
    loaded = load_config(config, env={})
    assert loaded.settings.processing_seconds == 0 and loaded.settings.rate_limit == 5
    assert [i.id for i in loaded.integrations] == ["hr-sync"] and loaded.scenario == "flaky-network"


async def test_scenario_example_checks_clean_and_does_what_it_says(client: Any) -> None:
    text = block("scenario")
    scenario = parse_scenario(yaml.safe_load(text), "docs/scenarios.md", text)
    assert scenario.name == "third-push-fails" and len(scenario.rules) == 4
    async with client.put("/_mock/integrations/acme/scenario", json=yaml.safe_load(text)) as response:
        assert response.status == 200
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    with pytest.raises(Exception):  # noqa: B017 - page 2: staged, then the connection is reset
        await vendor.push(session["id"], {"entities": {"User": [user(2)]}})
    _, third = await vendor.call(
        "POST", f"/sessions/{session['id']}/entities", 503, json={"entities": {"User": [user(3)]}}
    )
    assert third["retry_after_seconds"] == 2
    assert (await vendor.session(session["id"]))["accepted_batches"] == 2


def test_every_shipped_scenario_is_in_the_scenarios_table() -> None:
    for name in shipped_scenarios():
        assert f"| `{name}` |" in page("docs/scenarios.md"), name


def test_every_vendor_error_code_is_documented() -> None:
    catalogued = {entry.code for entry in CATALOGUE}
    vendor_codes = {
        "missing_api_key",
        "invalid_api_key",
        "unsupported_version",
        "session_not_found",
        "session_already_active",
        "session_not_active",
        "session_not_closable",
        "expired_data_purged",
        "payload_too_large",
        "unsupported_content_encoding",
        "unsupported_media_type",
        "malformed_body",
        "validation_failed",
        "too_many_items",
        "empty_page",
        "invalid_close_status",
        "invalid_parameter",
        "rate_limited",
        "staging_limit_reached",
        "not_found",
        "method_not_allowed",
    }
    for code in vendor_codes:
        assert code in catalogued, f"{code} is not in the catalogue (mock_sprinto/codes.py)"
        assert f"`{code}`" in page(REFERENCE), f"{code} is not in the error table of {REFERENCE}"


def test_the_docs_say_state_is_in_memory_and_what_a_restart_loses() -> None:
    """Issue 11, item 13: nothing is persisted; a user must not learn that from a restart."""
    said = " ".join(page("docs/getting-started.md").split())
    assert "All state lives in memory, in the one process." in said
    for lost in ("sessions", "staged pages", "applied records", "the journal", "clock offset"):
        assert lost in said.split("All state lives in memory", 1)[1][:900], lost


def test_every_robustness_code_is_in_the_error_table() -> None:
    """Issue 11: every refusal the hardening added has its row (status and code) in the table."""
    table = page(REFERENCE).split("| situation | status | `code` |", 1)[1].split("\n\n", 1)[0]
    for code in (
        "malformed_api_key",
        "memory_budget_exceeded",
        "unsupported_transfer_encoding",
        "host_not_allowed",
        "request_timeout",
        "too_many_connections",
        "shutting_down",
        "malformed_request",
        "request_header_fields_too_large",
        "client_disconnected",
        "cross_site_request",
    ):
        assert f"`{code}`" in table, code


@pytest.mark.skipif(shutil.which("node") is None, reason="the exam example runs a Node client")
def test_the_exam_example_runs_as_written(tmp_path: Path) -> None:
    root = Path(__file__).parents[1]
    command = block("exam").replace("mock-sprinto ", f"{sys.executable} -m mock_sprinto ", 1)
    command = command.replace("tests/exam/clients/", f"{root / 'tests' / 'exam' / 'clients'}/")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mock-sprinto exam PASSED: 15 of 15 trials passed" in result.stdout
    assert json.loads((tmp_path / "exam.json").read_text())["passed"] is True
    assert (tmp_path / "exam.xml").is_file() and (tmp_path / "mock-sprinto-exam" / "baseline" / "traffic.har").is_file()
