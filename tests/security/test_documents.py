"""Hostile scenario and config documents (issue 11, items 6 and 7): sizes and rule counts are
checked before anything expensive, errors never repeat the input, and YAML aliases that would
expand are refused before they do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from mock_sprinto.faults.scenario import ScenarioError, load_scenario_file, read_scenario_document
from mock_sprinto.settings import SettingsError, load_config

CLI = [sys.executable, "-m", "mock_sprinto"]
# The billion laughs: nine levels of nine aliases, 9**9 strings once expanded.
ALIAS_BOMB = "name: bomb\n" + "\n".join(
    [
        'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)),
        "rules: *a8",
    ]
)


def _rule(i: int) -> dict[str, Any]:
    return {"match": {"operation": "push_page"}, "respond": {"status": 503}, "name": f"r{i}"}


# ---- item 6: big inline scenarios ---------------------------------------------------------------
async def test_a_scenario_body_over_the_size_limit_is_refused_unread(client: Any) -> None:
    big = {"name": "big", "rules": [_rule(i) for i in range(80_000)]}  # ~4.9 MB, as reported
    body = orjson.dumps(big)
    assert len(body) > 4_000_000
    async with client.put("/_mock/scenario", data=body, headers={"Content-Type": "application/json"}) as response:
        answer = await response.read()
        assert response.status == 413, answer[:300]
    problem = orjson.loads(answer)
    assert problem["code"] == "payload_too_large" and problem["limit_bytes"] == 1_048_576
    assert len(answer) < 1000


async def test_too_many_rules_are_refused_before_any_rule_is_checked(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jsonschema over 33,000 rules took seconds: the count is checked first, and no validator runs."""
    from mock_sprinto.faults import scenario

    def no_validator() -> Any:
        raise AssertionError("a validator was asked to walk the rules")

    monkeypatch.setattr(scenario, "_schema_validator", no_validator)
    monkeypatch.setattr(scenario, "_fast_validator", no_validator)
    many = {"name": "many", "rules": [{"match": {"operation": "any"}}] * 33_000}
    body = orjson.dumps(many)
    assert len(body) < 1_048_576
    async with client.put(
        "/_mock/integrations/acme/scenario", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        answer = await response.read()
        assert response.status == 400, answer
    problem = orjson.loads(answer)
    assert problem["code"] == "invalid_scenario"
    assert [error["path"] for error in problem["errors"]] == ["/rules"]
    assert "at most 200" in problem["errors"][0]["message"]
    assert len(answer) < 1000


@pytest.mark.parametrize(
    "scenario",
    [
        {"name": "x" * 300_000},
        {"name": "ok", "description": "d" * 300_000},
        {"name": "ok", "rules": [{"match": {"operation": "any"}, "respond": {"status": "5" * 300_000}}]},
        {"name": "ok", "rules": [{"match": {"operation": "z" * 300_000}, "delay": {"seconds": 1}}]},
        {"name": "ok", "rules": [{"match": {"operation": "any"}, "lifecycle": {"y" * 300_000: 1}}]},
        {"name": "ok", "seed": [1] * 50_000},
        {"name": "ok", "rules": [{"match": {"operation": "any", "page": 0}, "delay": {"seconds": 1}}] * 200},
    ],
)
async def test_an_invalid_scenario_is_described_without_repeating_it(client: Any, scenario: Any) -> None:
    async with client.put("/_mock/scenario", json=scenario) as response:
        answer = await response.read()
        assert response.status == 400, answer[:300]
    assert orjson.loads(answer)["code"] == "invalid_scenario"
    assert len(answer) < 30_000, len(answer)  # every problem listed, none repeating the input


# ---- item 7: YAML aliases and file sizes ----------------------------------------------------------
def test_yaml_aliases_are_refused_in_scenario_files_and_config_files(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(bomb)
    assert "alias" in str(refused.value)
    with pytest.raises(ScenarioError):
        read_scenario_document(bomb)
    config = tmp_path / "config.yaml"
    config.write_text("settings: &s {processing_seconds: 0}\nother: *s\n")
    with pytest.raises(SettingsError) as refused_config:
        load_config(config, env={})
    assert "alias" in str(refused_config.value)


def test_an_anchor_without_an_alias_is_harmless_and_accepted(tmp_path: Path) -> None:
    plain = tmp_path / "anchored.yaml"
    plain.write_text("name: anchored\nrules: &r []\n")
    assert load_scenario_file(plain).name == "anchored"


def test_scenario_and_config_files_over_the_size_limit_are_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: huge\ndescription: " + "x" * 12_000_000 + "\n")
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(huge)
    assert "1048576 bytes" in str(refused.value) and len(str(refused.value)) < 500
    config = tmp_path / "config.yaml"
    config.write_text("settings: {}\n#" + "x" * 2_000_000 + "\n")
    with pytest.raises(SettingsError) as refused_config:
        load_config(config, env={})
    assert "1048576 bytes" in str(refused_config.value)
    assert (
        load_config(config, env={"MOCK_SPRINTO_MAX_SCENARIO_BYTES": "3000000"}).settings.max_scenario_bytes == 3_000_000
    )


def test_deeply_nested_yaml_is_a_clean_problem(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\nrules: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ScenarioError):
        load_scenario_file(deep)


@pytest.mark.parametrize("how", ["check", "serve", "config"])
def test_the_cli_refuses_a_bomb_at_once(tmp_path: Path, how: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    if how == "check":
        args = ["scenarios", "check", str(bomb)]
    elif how == "serve":
        args = ["serve", "--port", "0", "--scenario", str(bomb)]
    else:
        config = tmp_path / "config.yaml"
        config.write_text(f"scenario: {bomb}\n")
        args = ["serve", "--port", "0", "--config", str(config)]
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode in (1, 2), done
    assert "alias" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
