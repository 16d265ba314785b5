"""An invalid scenario is summed up by its true number of problems, however many are listed."""

from __future__ import annotations

from typing import Any

import pytest

from mock_sprinto.faults import ScenarioError, load_scenario_file, parse_scenario
from mock_sprinto.faults.scenario import MAX_PROBLEMS


def _bad_rules(count: int) -> dict[str, Any]:
    """``count`` rules with two problems each: an unknown operation and a negative delay."""
    rule = {"match": {"operation": "nope"}, "delay": {"min_seconds": -1, "max_seconds": 1}}
    return {"name": "lots", "rules": [rule] * count}


def test_the_count_is_every_problem_found_not_the_lines_listed() -> None:
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(_bad_rules(80), "lots.yaml")
    assert refused.value.total == 160
    assert len(refused.value.problems) == MAX_PROBLEMS + 1  # then one line: how many were left out
    assert str(refused.value.problems[-1]) == "... and 60 more problem(s) not listed"


async def test_a_scenario_put_says_how_many_problems_it_has(client: Any) -> None:
    async with client.put("/_mock/scenario", json=_bad_rules(80)) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_scenario")
    assert problem["detail"] == "the scenario has 160 problem(s)"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "the scenario is empty: it must be a mapping with at least 'name' and 'rules'"),
        ("- a\n- b\n", "the scenario is a list: it must be a mapping"),
        (
            "name: a\nrules:\n  - match: {operation: push_page}\n    lifecycle: {expire_session: false}\n",
            "'expire_session' is a switch that is only ever true: leave it out rather than set it to false",
        ),
    ],
)
def test_a_file_of_the_wrong_shape_is_told_so_in_its_own_words(tmp_path: Any, text: str, said: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(path)
    [problem] = refused.value.problems
    assert said in problem.message
    assert "was expected" not in problem.message and "is not of type" not in problem.message


_THROTTLE = (
    '{"name": "t", "rules": [{"match": {"operation": "push_page"}, "respond": {"status": 429, "retry_after": %s}}%s]}'
)


@pytest.mark.parametrize("name", ["s.json", "s.yaml", "s.yml"])
def test_a_json_text_is_read_as_json_not_as_yaml_1_1(tmp_path: Any, name: str) -> None:
    # PyYAML reads YAML 1.1, where 1e1 is the string '1e1' ("not of type 'integer'"): a file that
    # starts with '{' is written in JSON, where it is a number.
    path = tmp_path / name
    path.write_text(_THROTTLE % ("1e1", ""))
    rule = load_scenario_file(path).rules[0]
    assert rule.respond is not None and rule.respond.retry_after == 10


@pytest.mark.parametrize(
    ("text", "said", "line"),
    [
        (_THROTTLE % ("3", ","), "not valid JSON: a trailing comma before ']' (column", 1),
        ('{"name": "t",\n "rules": []\n,}', "not valid JSON: a trailing comma before '}' (column 2)", 3),
        ('{"name": "t" "rules": []}', "not valid JSON: Expecting ',' delimiter (column 14)", 1),
        (_THROTTLE % ("NaN", ""), "not valid JSON: NaN is not JSON", None),
        ('{"name": "t",\n "name": "u", "rules": []}', "the key 'name' appears twice", 2),
    ],
)
def test_a_file_named_json_must_be_json(tmp_path: Any, text: str, said: str, line: int | None) -> None:
    # YAML's flow style takes a trailing comma, so a .json file the user's other tools refuse was
    # accepted here.
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(path)
    [problem] = refused.value.problems
    assert said in problem.message and problem.line == line
    yaml_file = tmp_path / "s.yaml"  # the same text named .yaml is YAML's to read (flow style)
    yaml_file.write_text(text)
    if "trailing comma before ']'" in said:
        assert load_scenario_file(yaml_file).rules[0].respond is not None


@pytest.mark.parametrize(
    ("name", "data", "said", "line"),
    [
        # Go's MarshalIndent with tabs: YAML cannot read it, so the repeat was "found character '\t'..."
        ("s.json", b'{\n\t"name": "t",\n\t"name": "u",\n\t"rules": []\n}', "the key 'name' appears twice", None),
        ("s.json", b'{\n  "name": "t",\n  "rules": [],\n  "name": "u"\n}', "the key 'name' appears twice", 4),
        (
            "s.json",
            b'{"name": "t", "seed": ' + b"9" * 5000 + b', "rules": []}',
            "a number of more than 4,300 digits",
            None,
        ),
        ("s.yaml", b"name: t\nseed: " + b"9" * 5000 + b"\nrules: []\n", "a number of more than 4,300 digits", None),
        (
            "s.yaml",
            b"name: t\ndescription: 2024-13-45\nrules: []\n",
            "a value that cannot be read: month must be",
            None,
        ),
        ("s.json", b'{"name": "t", "description": "\\ud800 x", "rules": []}', "a lone surrogate", None),
        ("s.yaml", b'name: t\ndescription: "\\ud800 x"\nrules: []\n', "a lone surrogate", 2),
    ],
)
def test_what_a_file_cannot_hold_is_one_clear_problem(
    tmp_path: Any, name: str, data: bytes, said: str, line: int | None
) -> None:
    # Each was a traceback (the long number, the date), a 500 on every request the scenario
    # answered (the lone surrogate), or a YAML error about something else (the repeat in tabs).
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(path)
    [problem] = refused.value.problems
    assert said in problem.message and problem.line == line, problem


@pytest.mark.parametrize("name", ["s.json", "s.yaml"])
def test_a_byte_order_mark_is_skipped(tmp_path: Any, name: str) -> None:
    # Windows editors write one; PyYAML skipped it, the JSON reader refused the file ("Unexpected
    # UTF-8 BOM (decode using utf-8-sig)"), and a .yaml file starting with one was read as YAML 1.1.
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + (_THROTTLE % ("1e1", "")).encode())
    rule = load_scenario_file(path).rules[0]
    assert rule.respond is not None and rule.respond.retry_after == 10


def test_a_seed_written_7_0_seeds_as_7() -> None:
    # The seed is formatted into the engine's random seed: "7.0:tenant" drew otherwise than "7:tenant".
    seeds = [parse_scenario({"name": "s", "seed": seed, "rules": []}).seed for seed in (7, 7.0)]
    assert seeds == [7, 7] and all(type(seed) is int for seed in seeds)


def test_the_schema_lists_every_shipped_scenario_that_does_something() -> None:
    """schemas/scenario.schema.json keeps a scenario with neither rules nor settings off the name of
    a shipped one that has some (it would install nothing under that name); its list is the files'."""
    import json

    from mock_sprinto.faults.scenario import read_scenario_document, shipped_scenarios
    from mock_sprinto.resources import schemas_dir

    schema = json.loads((schemas_dir() / "scenario.schema.json").read_text(encoding="utf-8"))
    listed = schema["$defs"]["shipped_with_faults"]["enum"]
    doing = [
        name
        for name, path in shipped_scenarios().items()
        if (document := read_scenario_document(path)[0]).get("rules") or document.get("settings")
    ]
    assert sorted(listed) == sorted(doing)
