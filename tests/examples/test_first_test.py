"""How-to: the README's first test, complete: a page of users pushed with requests and applied."""

from __future__ import annotations

import requests

from mock_sprinto.testing import MockSprinto, sample_user


def test_a_page_of_users_is_applied(mock_sprinto: MockSprinto) -> None:
    api, headers = mock_sprinto.integration_url, mock_sprinto.headers
    session = requests.post(f"{api}/sessions", headers=headers, timeout=10).json()
    page = {"entities": {"User": [sample_user(i) for i in range(3)]}}
    requests.post(f"{api}/sessions/{session['id']}/entities", json=page, headers=headers, timeout=10)
    requests.post(f"{api}/sessions/{session['id']}/close", json={"status": "apply"}, headers=headers, timeout=10)
    mock_sprinto.clock.advance(seconds=2)  # processing takes 2 s of emulator time: no sleeping
    mock_sprinto.assert_session_processed(session["id"], records=3)
