"""How-to: ask the judge whether a client follows Sprinto's best practices."""

from __future__ import annotations

import pytest
import requests

from mock_sprinto.testing import MockSprinto

from .my_sync_job import employee, sync_users


def test_my_sync_job_is_a_well_behaved_client(mock_sprinto: MockSprinto) -> None:
    sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key,
               [employee(i) for i in range(250)], sleep=mock_sprinto.clock.advance)

    report = mock_sprinto.assert_client_well_behaved()  # no error, no warning; else each with evidence
    met = {item["behaviour"] for item in report["coverage"] if item["met"]}
    assert met == {"applied"}


def test_a_rejected_page_sent_again_unchanged_is_caught(mock_sprinto: MockSprinto) -> None:
    api, headers = mock_sprinto.integration_url, mock_sprinto.headers
    session = requests.post(f"{api}/sessions", headers=headers, timeout=10).json()
    bad_page = {"entities": {"User": [employee(1, workEmail="not-an-email")]}, "page_hint": 1}
    for _attempt in range(2):  # a naive retry loop: the same bytes get the same 400
        requests.post(f"{api}/sessions/{session['id']}/entities", json=bad_page, headers=headers, timeout=10)

    with pytest.raises(AssertionError, match="resent_rejected_page_unchanged"):
        mock_sprinto.assert_client_well_behaved()
    findings = {finding["id"]: finding for finding in mock_sprinto.report()["findings"]}
    assert findings["resent_rejected_page_unchanged"]["evidence"][0]["rejected_page"] == 1
    assert "session_left_active" in findings  # and it never closed the session
