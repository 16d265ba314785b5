"""How-to: test a blocking (requests) sync job against the ``mock_sprinto`` fixture."""

from __future__ import annotations

import pytest
import requests

from mock_sprinto.testing import MockSprinto

from .my_sync_job import employee, sync_users


def test_my_sync_job_pushes_250_users_in_3_pages_and_applies_them(mock_sprinto: MockSprinto) -> None:
    users = [employee(i) for i in range(250)]
    session_id = sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key, users,
                            sleep=mock_sprinto.clock.advance)  # its waits move the emulator's clock

    mock_sprinto.assert_no_rejected_pages()
    session = mock_sprinto.assert_session_processed(session_id, records=250)
    assert session["accepted_batches"] == 3
    assert len(mock_sprinto.records("User")) == 250


def test_a_page_with_a_bad_email_is_rejected_and_nothing_is_applied(mock_sprinto: MockSprinto) -> None:
    users = [employee(1), employee(2, workEmail="not-an-email")]
    with pytest.raises(requests.HTTPError, match="400"):
        sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key, users)

    (session,) = mock_sprinto.sessions()
    (page,) = session["pages"]
    assert page["code"] == "validation_failed"
    assert [(e["entity_type"], e["index"], e["field"]) for e in page["errors"]] == [("User", 1, "workEmail")]
    assert mock_sprinto.records("User") == []


def test_a_session_left_open_expires_after_an_hour_of_emulator_time(mock_sprinto: MockSprinto) -> None:
    api = mock_sprinto.integration_url
    session = requests.post(f"{api}/sessions", headers=mock_sprinto.headers).json()

    mock_sprinto.clock.advance(hours=1)  # no sleeping: only this test's integration moves
    status = requests.get(f"{api}/sessions/{session['id']}", headers=mock_sprinto.headers).json()
    assert status["state"] == "expired"
    assert [item["type"] for item in mock_sprinto.activity()] == ["session_created", "session_expired"]
