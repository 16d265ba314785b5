"""The in-process variant: ``await mock_sprinto_app()`` serves a fresh emulator on the test's loop."""

from __future__ import annotations

from typing import Any

import pytest

from mock_sprinto.clock import ManualClock
from mock_sprinto.pytest_plugin import MockSprintoApp
from mock_sprinto.testing import AsyncMockSprinto, MockSprintoError

from .records import user


async def start(mock: AsyncMockSprinto) -> dict[str, Any]:
    async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
        assert response.status == 201
        body: dict[str, Any] = await response.json()
        return body


async def push(mock: AsyncMockSprinto, session_id: str, records: list[dict[str, Any]]) -> int:
    async with mock.client.post(
        f"{mock.integration_path}/sessions/{session_id}/entities",
        headers=mock.headers,
        json={"entities": {"User": records}},
    ) as response:
        return response.status


async def close(mock: AsyncMockSprinto, session_id: str) -> None:
    async with mock.client.post(
        f"{mock.integration_path}/sessions/{session_id}/close", headers=mock.headers, json={"status": "apply"}
    ) as response:
        assert response.status == 202


async def state(mock: AsyncMockSprinto, session_id: str) -> str:
    async with mock.client.get(f"{mock.integration_path}/sessions/{session_id}", headers=mock.headers) as response:
        value: str = (await response.json())["state"]
        return value


async def test_the_in_process_handle_has_the_same_api_awaited(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app()
    assert mock.base_url.startswith("http://127.0.0.1:") and mock.base_url.endswith("/api/external/push")
    session = await start(mock)
    assert await push(mock, session["id"], [user(1), user(2)]) == 202
    assert await push(mock, session["id"], [user(3, workEmail="x")]) == 400
    await close(mock, session["id"])
    with pytest.raises(AssertionError, match=r"'processing', not 'processed'"):
        await mock.assert_session_processed()

    await mock.clock.advance(seconds=2)
    assert (await mock.assert_session_processed(records=2))["id"] == session["id"]
    with pytest.raises(AssertionError, match=r"1 of 2 pages were rejected:\n.*\n      User\[0\]\.workEmail"):
        await mock.assert_no_rejected_pages()
    assert [r["employeeId"] for r in await mock.records("User")] == ["E1", "E2"]
    assert [i["type"] for i in await mock.activity()][-1] == "session_processed"
    assert [e["status"] for e in await mock.journal()] == [201, 202, 400, 202]
    assert len(await mock.sessions()) == 1 and (await mock.session(session["id"]))["state"] == "processed"
    with pytest.raises(MockSprintoError, match="clock_backwards"):
        await mock.clock.set("2001-01-01T00:00:00Z")


async def test_settings_configure_the_whole_in_process_emulator(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app(settings={"max_page_items": 1, "frozen_clock": True})
    session = await start(mock)
    assert await push(mock, session["id"], [user(1), user(2)]) == 400
    before = await mock.clock.now()
    assert await mock.clock.now() == before  # frozen_clock: time moves only when told to


@pytest.mark.mock_sprinto(settings={"inactivity_timeout_seconds": 10})
async def test_the_marker_configures_the_in_process_emulator_too(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app()
    session = await start(mock)
    assert session["inactivity_timeout_seconds"] == 10
    other = await mock_sprinto_app(settings={"inactivity_timeout_seconds": 20})  # a call's settings win
    assert (await start(other))["inactivity_timeout_seconds"] == 20


async def test_a_manual_clock_replaces_wall_time(mock_sprinto_app: MockSprintoApp) -> None:
    clock = ManualClock(1_767_225_600.0)  # 2026-01-01T00:00:00Z
    mock = await mock_sprinto_app(clock=clock)
    session = await start(mock)
    assert session["created_at"] == "2026-01-01T00:00:00.000Z"
    clock.advance(3600)
    assert await state(mock, session["id"]) == "expired"


async def test_the_in_process_handle_takes_a_scenario(mock_sprinto_app: MockSprintoApp) -> None:
    # Needs the scenario endpoint of the control API (issue 3).
    mock = await mock_sprinto_app(scenario={"name": "tight", "settings": {"max_page_items": 1}, "rules": []})
    session = await start(mock)
    assert await push(mock, session["id"], [user(1), user(2)]) == 400
    await mock.clear_scenario()
    assert await push(mock, session["id"], [user(1), user(2)]) == 202


async def test_the_in_process_handle_judges_the_client_too(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app()
    session = await start(mock)
    await close(mock, session["id"])  # an apply with no page staged
    report = await mock.report()
    assert [f["id"] for f in report["findings"]] == ["outcome_not_read", "close_without_pages"]
    with pytest.raises(AssertionError, match=r"warning close_without_pages \(1x\)"):
        await mock.assert_client_well_behaved()
    allowed = await mock.assert_client_well_behaved(allow=("close_without_pages", "outcome_not_read"))
    assert allowed["summary"]["warnings"] == 2
