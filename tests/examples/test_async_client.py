"""How-to: an asyncio client against an emulator served in-process on the test's own event loop."""

from __future__ import annotations

from typing import Any

import aiohttp

from mock_sprinto.pytest_plugin import MockSprintoApp
from mock_sprinto.testing import sample_user


async def push_users(base_url: str, integration_id: str, api_key: str, users: list[dict[str, Any]]) -> str:
    """Stands for your async client: one session, pages of 100, close with apply."""
    api = f"{base_url}/v1/integrations/{integration_id}"
    async with aiohttp.ClientSession(headers={"api-key": api_key}, raise_for_status=True) as http:
        async with http.post(f"{api}/sessions") as response:
            session_id: str = (await response.json())["id"]
        for start in range(0, len(users), 100):
            async with http.post(f"{api}/sessions/{session_id}/entities",
                                 json={"entities": {"User": users[start:start + 100]}}):
                pass
        async with http.post(f"{api}/sessions/{session_id}/close", json={"status": "apply"}):
            pass
    return session_id


async def test_my_async_client_pushes_and_applies(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app()  # a fresh emulator, served by pytest-aiohttp
    session_id = await push_users(mock.base_url, mock.integration_id, mock.api_key,
                                  [sample_user(i) for i in range(150)])
    await mock.clock.advance(seconds=2)
    await mock.assert_session_processed(session_id, records=150)
    assert len(await mock.records("User")) == 150
