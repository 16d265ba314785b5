"""Scenario review fixes, as the author of a scenario file reads them: what is refused and in
which words, at which line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.faults import ScenarioError, load_scenario_file, parse_scenario, resolve_scenario


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_scenario_file(path)
    return [str(problem) for problem in refused.value.problems]


def refused(rule: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario({"name": "s", "rules": [{"match": {"operation": "start_session"}, **rule}]})
    return [str(problem) for problem in raised.value.problems]


# ---- item 2: Retry-After is retry_after's ------------------------------------------------------
@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER"])
def test_a_retry_after_header_is_refused_for_retry_after(name: str) -> None:
    (problem,) = refused({"respond": {"status": 503, "headers": {name: "7"}, "retry_after": 2}})
    assert problem.startswith(f"/rules/0/respond/headers/{name}: use retry_after: N")


# ---- item 3: a rule answers with an error --------------------------------------------------------
@pytest.mark.parametrize("status", [200, 201, 302])
def test_a_success_or_redirect_status_is_refused(status: int) -> None:
    (problem,) = refused({"respond": {"status": status}})
    assert problem.startswith(f"/rules/0/respond/status: {status} is no error status")
    assert "400 to 599" in problem and "the emulator's own answers are the successes" in problem


def test_an_unusual_error_status_is_still_an_answer() -> None:
    parse_scenario({"name": "s", "rules": [{"match": {"operation": "any"}, "respond": {"status": 418}}]})


# ---- items 4 and 5: keys that would do nothing ---------------------------------------------------
def test_respond_beside_transport_is_refused() -> None:
    (problem,) = refused({"respond": {"status": 429}, "transport": "malformed_body"})
    assert (
        problem
        == "/rules/0: a rule answers (respond) or breaks the connection (transport), not both: make them two rules"
    )


def test_phase_after_on_a_rule_that_only_delays_is_refused() -> None:
    (problem,) = refused({"phase": "after", "delay": {"seconds": 1}})
    assert problem.startswith("/rules/0: ") and "a delay always comes before the operation" in problem


def test_phase_after_on_a_lifecycle_rule_is_accepted() -> None:
    parse_scenario(
        {
            "name": "s",
            "rules": [{"match": {"operation": "push_page"}, "phase": "after", "lifecycle": {"expire_session": True}}],
        }
    )


# ---- item 8: messages at the key's own line, in words ------------------------------------------
TYPO_DEEP = """name: typo-deep
rules:
  - name: r2
    match: {operation: push_page}
    respond:
      status: 503
      retry_afer: 3
seeed: 4
"""


def test_an_unknown_key_is_said_at_its_own_line_with_the_closest_known_one(tmp_path: Path) -> None:
    assert problems_of(tmp_path, TYPO_DEEP) == [
        "line 7: /rules/0/respond/retry_afer: unknown key 'retry_afer'; did you mean 'retry_after'? "
        "(respond takes status, code, detail, body, headers, retry_after)",
        "line 8: /seeed: unknown key 'seeed'; did you mean 'seed'? "
        "(a scenario has name, description, seed, settings, rules)",
    ]


def test_on_read_as_a_boolean_is_said_so_and_match_suggested(tmp_path: Path) -> None:
    text = "name: on-key\nrules:\n  - on: {operation: push_page}\n    respond: {status: 503}\n"
    assert problems_of(tmp_path, text) == [
        "line 3: /rules/0/on: the key 'on' was read as the boolean true (YAML 1.1 reads on, yes or true as true); "
        "did you mean 'match'?"
    ]


@pytest.mark.parametrize("delay", ["{}", "{min_seconds: 1}", "{seconds: 1, max_seconds: 2}"])
def test_a_delay_of_neither_form_says_what_it_takes(tmp_path: Path, delay: str) -> None:
    text = f"name: d\nrules:\n  - match: {{operation: push_page}}\n    delay: {delay}\n"
    assert problems_of(tmp_path, text) == [
        "line 4: /rules/0/delay: a delay takes seconds: s, or both min_seconds and max_seconds (one form, not both)"
    ]


def test_a_misspelled_shipped_name_gets_the_closest_one() -> None:
    with pytest.raises(ScenarioError) as raised:
        resolve_scenario("flaky-netwrk")
    (problem,) = raised.value.problems
    assert problem.message == (
        "no shipped scenario named 'flaky-netwrk'; did you mean 'flaky-network'? (see: mock-sprinto scenarios list)"
    )
