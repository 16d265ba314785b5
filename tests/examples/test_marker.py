"""How-to: configure the emulator for one test with the ``mock_sprinto`` marker."""

from __future__ import annotations

import pytest
import requests

from mock_sprinto.testing import MockSprinto

from .my_sync_job import employee, sync_users


@pytest.mark.mock_sprinto(scenario="rate-limited")  # shipped: 2 requests/s, bursts of 5
def test_a_throttled_client_is_told_when_to_retry(mock_sprinto: MockSprinto) -> None:
    status_url = f"{mock_sprinto.integration_url}/status"
    answers = [requests.get(status_url, headers=mock_sprinto.headers, timeout=10) for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 429]

    mock_sprinto.clock.advance(seconds=int(answers[-1].headers["Retry-After"]))  # refills the bucket
    assert requests.get(status_url, headers=mock_sprinto.headers, timeout=10).status_code == 200


@pytest.mark.mock_sprinto(settings={"max_page_items": 50, "processing_seconds": 0})
def test_my_sync_job_honours_a_smaller_page_limit(mock_sprinto: MockSprinto) -> None:
    users = [employee(i) for i in range(120)]
    sync_users(mock_sprinto.base_url, mock_sprinto.integration_id, mock_sprinto.api_key, users, page_size=50)
    assert mock_sprinto.assert_session_processed(records=120)["accepted_batches"] == 3
