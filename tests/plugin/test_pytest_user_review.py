"""The second dashboard-and-plugin review, as a test author meets it: a well-behaved verdict on a
client that was never judged (a wrong api-key, no request at all), a page staged twice that makes
``assert_session_processed(records=N)`` fail, and the end-of-run summary of a client that rightly
stopped when processing failed, and of tests that did not recover."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from mock_sprinto.pytest_plugin import MockSprintoApp
from mock_sprinto.testing import MockSprinto, sample_user

from .records import call, close, push, start
from .test_pytester import HELPERS, INI


def post(url: str, headers: dict[str, str], body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# ---- 1. nothing judged is not well behaved ----------------------------------------------------------
def test_a_client_with_a_wrong_api_key_is_not_called_well_behaved(mock_sprinto: MockSprinto) -> None:
    assert post(f"{mock_sprinto.integration_url}/sessions", {"api-key": "typo"}) == 401
    assert post(f"{mock_sprinto.integration_url}/sessions/x/entities", {}) == 401  # no key at all
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_client_well_behaved()
    text = str(failure.value)
    assert text.startswith(
        f"integration {mock_sprinto.integration_id}: no Sprinto API request reached it: nothing to judge"
    )
    assert "2 requests to its path were answered 401: the client's api-key is wrong or missing" in text
    assert "journaled to no integration" in text
    assert "POST /sessions -> 401 invalid_api_key" in text
    assert "POST /sessions/x/entities -> 401 missing_api_key" in text
    assert "allow_no_request=True" in text


def test_a_client_that_sent_nothing_is_not_called_well_behaved_unless_that_is_the_point(
    mock_sprinto: MockSprinto,
) -> None:
    # A client pointed at another server: its request never reaches this one.
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_client_well_behaved()
    text = str(failure.value)
    assert "no Sprinto API request reached it: nothing to judge" in text
    assert f"it must be mock_sprinto.base_url ({mock_sprinto.base_url})" in text
    assert f"another integration id than mock_sprinto.integration_id ({mock_sprinto.integration_id})" in text
    assert "not even a 401" in text
    # A test whose client is meant to send nothing (nothing to sync) says so.
    report = mock_sprinto.assert_client_well_behaved(allow_no_request=True)
    assert report["findings"] == []


def test_a_client_that_was_judged_clean_still_passes(mock_sprinto: MockSprinto) -> None:
    assert call(mock_sprinto, "GET", "/status")[0] == 200
    assert mock_sprinto.assert_client_well_behaved()["findings"] == []


def test_another_tests_401s_are_not_this_ones(mock_sprinto: MockSprinto, mock_sprinto_server: Any) -> None:
    other = mock_sprinto_server.new_integration("elsewhere")
    assert post(f"{other.integration_url}/sessions", {"api-key": "typo"}) == 401
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_client_well_behaved()
    assert "not even a 401" in str(failure.value)
    other.delete()


async def test_the_in_process_handle_says_the_same(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app()
    async with mock.client.post(f"{mock.integration_path}/sessions", headers={"api-key": "typo"}) as response:
        assert response.status == 401
    with pytest.raises(AssertionError, match="1 request to its path was answered 401"):
        await mock.assert_client_well_behaved()
    assert (await mock.assert_client_well_behaved(allow_no_request=True))["findings"] == []


WRONG_KEY_SUITE = """
import json, urllib.error, urllib.request

def test_wrong_key(mock_sprinto):
    request = urllib.request.Request(mock_sprinto.integration_url + "/sessions", method="POST",
                                     headers={"api-key": "typo"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 401
    mock_sprinto.assert_client_well_behaved()
"""


def test_a_failing_tests_report_shows_the_401s_its_journal_leaves_out(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=WRONG_KEY_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: integration test_wrong_key-*: no Sprinto API request reached it: nothing to judge",
            "*mock-sprinto: test_wrong_key-*",
            "no request reached it, and 1 request to its path was answered 401 (a wrong or missing api-key;*",
            "  *Z POST /sessions -> 401 invalid_api_key",
        ]
    )


# ---- 2. a page staged twice --------------------------------------------------------------------------
def test_a_count_that_owes_its_difference_to_a_page_staged_twice_says_so(mock_sprinto: MockSprinto) -> None:
    mock_sprinto.use_settings({"processing_seconds": 0})
    session_id = start(mock_sprinto)
    pages = [[sample_user(i) for i in range(n, n + 100)] for n in (0, 100, 200)] + [
        [sample_user(i) for i in range(300, 350)]
    ]
    for hint, page in enumerate(pages, 1):
        assert push(mock_sprinto, session_id, page, page_hint=hint)[0] == 202
        if hint == 2:  # its answer lost, say: a careful client sends it again
            assert push(mock_sprinto, session_id, page, page_hint=hint)[0] == 202
    close(mock_sprinto, session_id)
    assert len(mock_sprinto.records("User")) == 350
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_session_processed(session_id, records=350)
    text = str(failure.value)
    assert "has 450 accepted records (350 without the pages staged twice), expected 350" in text
    assert "staged 1 page twice (page 3 repeats page 2: the same bytes, 100 records)" in text
    assert "mock_sprinto.records('User')" in text
    with pytest.raises(AssertionError, match="staged 1 page twice"):
        mock_sprinto.assert_session_processed(session_id, by_entity={"User": 350})
    # The count keeps its meaning: the pages staged, the one sent twice included.
    assert mock_sprinto.assert_session_processed(session_id, records=450)["accepted_batches"] == 5


def test_a_count_that_differs_with_no_page_staged_twice_says_nothing_of_it(mock_sprinto: MockSprinto) -> None:
    mock_sprinto.use_settings({"processing_seconds": 0})
    session_id = start(mock_sprinto)
    assert push(mock_sprinto, session_id, [sample_user(1), sample_user(2)])[0] == 202
    close(mock_sprinto, session_id)
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_session_processed(session_id, records=3)
    assert "has 2 accepted records, expected 3" in str(failure.value)
    assert "twice" not in str(failure.value)


# ---- 3. the summary ---------------------------------------------------------------------------------
SUMMARY_HELPERS = (
    HELPERS  # call(), as the other pytester suites make their requests
    + """
from mock_sprinto.testing import sample_user

def careful_sync(mock):
    session_id = call(mock, "POST", "/sessions")[1]["id"]
    call(mock, "POST", f"/sessions/{session_id}/entities", {"entities": {"User": [sample_user(1)]}})
    call(mock, "POST", f"/sessions/{session_id}/close", {"status": "apply"})
    for _ in range(20):
        mock.clock.advance(seconds=2)
        state = call(mock, "GET", f"/sessions/{session_id}")[1]["state"]
        if state != "processing":
            break
    if state != "processed":
        raise RuntimeError(f"the sync {state}")
"""
)

SUMMARY_SUITE = """
import pytest
from inner_helpers import call, careful_sync
from mock_sprinto.testing import sample_user

@pytest.mark.mock_sprinto(scenario="processing-fails")
def test_a_careful_client_stops_loudly(mock_sprinto):
    with pytest.raises(RuntimeError, match="failed"):
        careful_sync(mock_sprinto)

@pytest.mark.parametrize("n", range(5))
def test_a_rejected_page_left_alone(mock_sprinto, n):
    session_id = call(mock_sprinto, "POST", "/sessions")[1]["id"]
    page = {"entities": {"User": [sample_user(1, workEmail="x")]}}
    assert call(mock_sprinto, "POST", f"/sessions/{session_id}/entities", page)[0] == 400

def test_a_rejected_page_fixed(mock_sprinto):
    session_id = call(mock_sprinto, "POST", "/sessions")[1]["id"]
    page = {"entities": {"User": [sample_user(1, workEmail="x")]}}
    assert call(mock_sprinto, "POST", f"/sessions/{session_id}/entities", page)[0] == 400
    fixed = {"entities": {"User": [sample_user(1)]}}
    assert call(mock_sprinto, "POST", f"/sessions/{session_id}/entities", fixed)[0] == 202
"""


def test_the_summary_says_where_recovery_means_nothing_and_names_the_tests_that_did_not_recover(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(inner_helpers=SUMMARY_HELPERS, test_inner=SUMMARY_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    out = result.stdout.str()
    # was: "processing_retried   met in 1 test(s), recovered in 0", for a client that rightly stopped
    assert (
        "processing_retried   met in 1 test(s); in 1 the retried processing failed too: processing_failed covers it"
        in out
    )
    assert "processing_retried   met in 1 test(s), recovered in 0" not in out
    result.stdout.fnmatch_lines(
        [
            "  page_rejected        met in 6 test(s), recovered in 1",
            "                       not recovered: test_inner.py::test_a_rejected_page_left_alone[[]0[]], "
            "test_inner.py::test_a_rejected_page_left_alone[[]1[]], "
            "test_inner.py::test_a_rejected_page_left_alone[[]2[]] and 2 more",
            "  processing_failed    met in 1 test(s), synced again and processed in 0 "
            "(stopping with an error is right too)",
            "                       not synced again: test_inner.py::test_a_careful_client_stops_loudly",
        ]
    )
