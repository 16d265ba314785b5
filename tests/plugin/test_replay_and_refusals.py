"""What a pytest user meets: a seeded scenario replayed run after run, a marker's or a handle's
refusal in the user's words, the errors to catch importable where the page says, and the end-of-run
summary of a fault whose right handling is to stop."""

from __future__ import annotations

import re

import pytest

import mock_sprinto.errors
from mock_sprinto.testing import ControlError, MockSprinto, MockSprintoServer

from ..doctext import block, generated, page
from .test_pytester import INI

# Half the status reads fail, drawn from the seed; a seeded start's session id is drawn too.
REPLAY_SUITE = """
import json, urllib.error, urllib.request
import pytest

COIN = {"name": "coin", "seed": 7, "rules": [
    {"match": {"operation": "integration_status"}, "when": {"probability": 0.5}, "respond": {"status": 503}}]}

def seen(line):
    with open("seen.txt", "a") as f:  # a file: xdist's workers print nowhere the run shows
        f.write(line + "\\n")

def status(mock):
    request = urllib.request.Request(mock.integration_url + "/status", headers=mock.headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code

def start(mock):
    request = urllib.request.Request(mock.integration_url + "/sessions", method="POST", headers=mock.headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["id"]

@pytest.mark.mock_sprinto(scenario=COIN)
@pytest.mark.parametrize("case", ["a", "b"])
def test_coin(mock_sprinto, case):
    draws = "".join("x" if status(mock_sprinto) == 503 else "." for _ in range(40))
    seen(f"SEEN {case} {mock_sprinto.integration_id} {draws} {start(mock_sprinto)}")

def test_twice_in_one_server(mock_sprinto_server):
    ids = [mock_sprinto_server.new_integration("same", lazy=True).integration_id for _ in range(3)]
    seen("TWICE " + " ".join(ids))
"""


def _seen(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "seen.txt"
    lines = sorted(path.read_text(encoding="utf-8").splitlines())
    path.unlink()
    return lines


def test_a_seeded_scenario_meets_a_test_with_the_same_faults_and_ids_on_every_run(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=REPLAY_SUITE)
    runs = []
    for extra in ([], [], ["-p", "xdist", "-n", "2"]):  # separate processes: nothing random carries over
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *extra)
        result.assert_outcomes(passed=3)
        runs.append(_seen(pytester))
    assert runs[0] == runs[1] == runs[2], runs  # was: a random id each run, so other faults each run
    (a, b), twice = [line.split() for line in runs[0] if line.startswith("SEEN ")], runs[0][-1].split()[1:]
    assert "x" in a[3] and "." in a[3]  # the seeded rule fired, and not on every request
    assert a[2] != b[2] and a[3] != b[3]  # distinct tests: distinct ids, distinct draws
    assert re.fullmatch(r"test_coin-a-[0-9a-f]{8}", a[2]), a[2]  # "test_coin[a]", slugged: readable
    # The same hint thrice in one server (a rerun of one test): three ids, never one reused.
    assert twice[1:] == [f"{twice[0]}-2", f"{twice[0]}-3"], twice


def test_an_id_asked_for_again_in_one_server_is_fresh_and_the_same_in_every_server() -> None:
    def ids(server: MockSprintoServer) -> list[str]:
        return [server.new_integration("nightly", lazy=True).integration_id for _ in range(2)]

    with MockSprintoServer() as first, MockSprintoServer() as second:
        assert ids(first) == ids(second)
        assert len(set(ids(first))) == 2


# ---- refusals in the user's words -------------------------------------------------------------
MARKER_SUITE = """
import pytest

@pytest.mark.mock_sprinto(scenario="throttle-page2")
def test_typo_scenario(mock_sprinto): pass

@pytest.mark.mock_sprinto(settings={"journal_size": 5})
def test_server_wide_setting(mock_sprinto): pass

@pytest.mark.mock_sprinto(settings={"journal_size": 5})
async def test_server_wide_setting_in_process(mock_sprinto_app):
    await mock_sprinto_app()

BAD = {"name": "x", "rules": [{"match": {"operation": "push"}, "respond": {"status": 503}}]}

@pytest.mark.mock_sprinto(scenario=BAD)
def test_invalid_inline_scenario(mock_sprinto): pass
"""


def test_a_marker_s_refusal_names_the_pytest_way_and_never_the_control_request(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=MARKER_SUITE)
    result = pytester.runpytest("-rN", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=4)  # was: the in-process test passed, its marker's journal_size taken
    result.stdout.fnmatch_lines_random(
        [
            "@pytest.mark.mock_sprinto: no shipped scenario named 'throttle-page2'; "
            "did you mean 'throttle-page-2'? (see: mock-sprinto scenarios list)",
            "@pytest.mark.mock_sprinto: 'journal_size' is a server-wide setting, not one integration's: "
            "set it for the whole test session by overriding the mock_sprinto_config fixture in a conftest.py*",
            "@pytest.mark.mock_sprinto: 'journal_size' is a server-wide setting, not one integration's: "
            "pass it to the call, await mock_sprinto_app(settings={...})*",
            "@pytest.mark.mock_sprinto: the emulator refused the scenario: invalid_scenario: "
            "the scenario has 1 problem(s)",
        ]
    )
    text = result.stdout.str()
    assert "/_mock/" not in text and "answered 400" not in text and "when starting the server" not in text


def test_a_misspelled_scenario_name_gets_did_you_mean_from_use_scenario(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(ControlError) as refused:
        mock_sprinto.use_scenario("flaky-netwrk")
    assert (refused.value.status, refused.value.code) == (400, "invalid_scenario")  # still the emulator's answer
    assert str(refused.value) == (
        "invalid_scenario: no shipped scenario named 'flaky-netwrk'; did you mean 'flaky-network'? "
        "(see: mock-sprinto scenarios list)"
    )
    with pytest.raises(ControlError, match=r"^PUT /_mock/.*answered 400: invalid_scenario: the scenario has 1"):
        mock_sprinto.use_scenario(
            {"name": "x", "rules": [{"match": {"operation": "push"}, "respond": {"status": 503}}]}
        )


def test_use_settings_with_a_server_wide_setting_says_where_it_goes(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(ValueError, match=r"'journal_size' is a server-wide setting.*mock_sprinto_config fixture"):
        mock_sprinto.use_settings({"journal_size": 5, "processing_seconds": 0})
    assert mock_sprinto.use_settings({"processing_seconds": 0})["overrides"] == {"processing_seconds": 0}


# ---- what to catch ----------------------------------------------------------------------------
def test_the_errors_the_page_names_import_from_where_it_says() -> None:
    namespace: dict[str, object] = {}
    exec(block("catch-imports"), namespace)  # the docs' own line (was: ImportError)
    text = page("docs/pytest.md")
    section = text[text.index("## What to catch") : text.index("## The marker")]
    imported = {name for name, value in namespace.items() if isinstance(value, type)}
    for name in set(re.findall(r"`(\w+Error|DocumentTooLarge)`", section)) - {
        "ValueError",
        "TypeError",
        "AssertionError",
    }:
        if name in ("MockSprintoError", "ControlError", "ProbeError"):
            continue  # the first two are the example's imports; ProbeError, the page says, never reaches a test
        assert name in imported, f"pytest.md names {name} to catch, but its import line leaves it out"
        error = namespace[name]
        assert isinstance(error, type) and issubclass(error, mock_sprinto.errors.MockSprintoError)


# ---- the behaviours summary ---------------------------------------------------------------------
FAILED_PROCESSING_SUITE = """
import pytest
from inner_helpers import careful_sync

@pytest.mark.mock_sprinto(scenario="processing-always-fails")
def test_a_careful_client_stops_loudly(mock_sprinto):
    with pytest.raises(RuntimeError, match="failed"):
        careful_sync(mock_sprinto)
"""

CAREFUL = """
import json, urllib.request
from mock_sprinto.testing import sample_user

def call(mock, method, tail, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(mock.integration_url + tail, data=data, method=method,
                                     headers={**mock.headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())

def careful_sync(mock):
    session_id = call(mock, "POST", "/sessions")["id"]
    call(mock, "POST", f"/sessions/{session_id}/entities", {"entities": {"User": [sample_user(1)]}})
    call(mock, "POST", f"/sessions/{session_id}/close", {"status": "apply"})
    for _ in range(20):
        mock.clock.advance(seconds=2)
        state = call(mock, "GET", f"/sessions/{session_id}")["state"]
        if state != "processing":
            break
    if state != "processed":
        raise RuntimeError(f"the sync {state}")
"""


def test_a_client_that_stops_on_failed_processing_does_not_read_as_unrecovered(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(inner_helpers=CAREFUL, test_inner=FAILED_PROCESSING_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "  processing_failed    met in 1 test(s), synced again and processed in 0 "
            "(stopping with an error is right too)"
        ]
    )
    # was: "processing_failed    met in 1 test(s), recovered in 0", read as a client that failed
    assert not re.search(r"processing_failed .*recovered in 0", result.stdout.str())


def test_pytest_md_defines_recovered_for_every_behaviour() -> None:
    from mock_sprinto.report.coverage import BEHAVIOURS, recovery_table  # here: was missing, one test fails

    table = generated("docs/pytest.md", "recovery")
    assert table == recovery_table(), "copy mock_sprinto.report.coverage.recovery_table() into docs/pytest.md"
    assert all(f"| `{name}` |" in table for name in BEHAVIOURS)
