"""How-to: freezegun and the emulator's clock.

The in-process emulator reads ``time.time()`` on every request, so a user's ``freeze_time`` is
its time too: ``tick()`` expires sessions. ``real_asyncio=True`` keeps the event loop's own timers
running. The shared ``mock_sprinto`` server ignores frozen time; move its clock with the handle.
"""

from __future__ import annotations

import requests
from freezegun import freeze_time

from mock_sprinto.pytest_plugin import MockSprintoApp
from mock_sprinto.testing import MockSprinto

from .my_sync_job import employee


async def test_a_frozen_clock_ticks_an_in_process_session_into_expiry(mock_sprinto_app: MockSprintoApp) -> None:
    with freeze_time("2026-01-01T00:00:00Z", real_asyncio=True) as frozen:
        mock = await mock_sprinto_app()  # create it inside the freeze: its clock never runs backwards
        api = mock.integration_path
        async with mock.client.post(f"{api}/sessions", headers=mock.headers) as response:
            session = await response.json()
        assert session["expires_at"] == "2026-01-01T01:00:00.000Z"

        frozen.tick(3600)
        async with mock.client.get(f"{api}/sessions/{session['id']}", headers=mock.headers) as response:
            assert (await response.json())["state"] == "expired"


def test_the_fixture_clock_is_the_way_with_the_shared_server(mock_sprinto: MockSprinto) -> None:
    api = mock_sprinto.integration_url
    session = requests.post(f"{api}/sessions", headers=mock_sprinto.headers, timeout=10).json()
    requests.post(f"{api}/sessions/{session['id']}/entities", json={"entities": {"User": [employee(1)]}},
                  headers=mock_sprinto.headers, timeout=10).raise_for_status()
    mock_sprinto.clock.advance(hours=1)  # this integration only: other tests' sessions do not move
    closed = requests.post(f"{api}/sessions/{session['id']}/close", json={"status": "apply"},
                           headers=mock_sprinto.headers, timeout=10).json()
    assert closed["state"] == "processing"  # an expired session's data can still be applied
    mock_sprinto.clock.advance(seconds=2)
    mock_sprinto.assert_session_processed(session["id"], records=1)
