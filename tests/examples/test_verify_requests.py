"""How-to: check what a sync job sent (docs/verify.md), and carry a test's state home (docs/bundles.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from mock_sprinto.testing import MockSprinto

from .my_sync_job import employee, sync_users

START = {"operation": "start_session", "status": 201}
PAGES = {"operation": "push_page", "status": 202, "repeat": "+"}  # pages 1..N, nothing else between
APPLY = {"operation": "close_session", "status": 202, "body": {"status": "apply"}}
POLLS = {"operation": "get_session", "status": 200}


def test_the_job_sends_a_start_its_pages_and_one_apply(mock_sprinto: MockSprinto) -> None:
    users = [employee(i) for i in range(250)]
    sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key, users,
               sleep=mock_sprinto.clock.advance)

    mock_sprinto.assert_sequence(START, PAGES, APPLY, only=True, allow=[POLLS])
    mock_sprinto.assert_requests({"operation": "push_page", "exactly": 3}, {"status": "5xx", "never": True})


def test_a_failed_verification_shows_the_requests_that_arrived(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(requests.HTTPError):  # the page is rejected: the job stops before it closes
        sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key,
                   [employee(1, workEmail="not-an-email")])

    with pytest.raises(AssertionError) as failed:
        mock_sprinto.assert_sequence(START, PAGES, APPLY)
    assert "  > #2 push_page 400 validation_failed session 1 page 1   <- sequence" in str(failed.value)


def test_the_state_of_a_run_goes_home_in_one_file(mock_sprinto: MockSprinto, tmp_path: Path) -> None:
    sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key, [employee(1)],
               sleep=mock_sprinto.clock.advance)
    bundle = mock_sprinto.export_state(tmp_path / "nightly.state.json.gz")  # mock-sprinto serve --state it

    mock_sprinto.import_state(bundle)  # ... or load it into an integration of the same id
    assert [session["state"] for session in mock_sprinto.sessions()] == ["processed"]
