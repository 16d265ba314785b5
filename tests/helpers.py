"""Shared test helpers: valid records, an HTTP client wrapper for the vendor API."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from mock_sprinto.testing import sample_user

API = "/api/external/push/v1/integrations"


def user(i: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid User record (Sprinto's documented example shape)."""
    return sample_user(i, **overrides)


def users(start: int, count: int) -> list[dict[str, Any]]:
    return [user(i) for i in range(start, start + count)]


def nesting_depth(value: Any) -> int:
    """How deep a parsed JSON value's containers nest (a scalar: 0), the plain recursive way: what
    the parser's depth proofs are checked against."""
    if isinstance(value, dict):
        return 1 + max(map(nesting_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting_depth, value), default=0)
    return 0


class Vendor:
    """The vendor API as a client would call it, for one integration and key."""

    def __init__(self, client: TestClient[Any, Any], integration_id: str = "acme", api_key: str = "key-1") -> None:
        self.client = client
        self.integration_id = integration_id
        self.api_key = api_key

    @property
    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key}

    def url(self, tail: str = "") -> str:
        return f"{API}/{self.integration_id}{tail}"

    async def call(self, method: str, tail: str, expect: int | None = None, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.client.request(method, self.url(tail), headers=headers, **kwargs) as response:
            body = await response.json(content_type=None)
            if expect is not None:
                assert response.status == expect, (response.status, body)
            return response.status, body

    async def start(self, expect: int | None = 201, **kwargs: Any) -> Any:
        return (await self.call("POST", "/sessions", expect, **kwargs))[1]

    async def push(self, session_id: str, body: Any, expect: int | None = 202, **kwargs: Any) -> Any:
        if "data" not in kwargs:
            kwargs["json"] = body
        return (await self.call("POST", f"/sessions/{session_id}/entities", expect, **kwargs))[1]

    async def close(self, session_id: str, status: str | None = "apply", expect: int | None = 202) -> Any:
        kwargs: dict[str, Any] = {} if status is None else {"json": {"status": status}}
        return (await self.call("POST", f"/sessions/{session_id}/close", expect, **kwargs))[1]

    async def session(self, session_id: str, expect: int | None = 200) -> Any:
        return (await self.call("GET", f"/sessions/{session_id}", expect))[1]

    async def status(self) -> Any:
        return (await self.call("GET", "/status", 200))[1]

    async def activity(self, **params: Any) -> Any:
        return (await self.call("GET", "/activity", 200, params=params))[1]


class Control:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client

    async def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        async with self.client.get("/_mock" + path, **kwargs) as response:
            assert response.status == expect, (response.status, await response.text())
            return await response.json()

    async def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        async with self.client.post("/_mock" + path, json=body) as response:
            assert response.status == expect, (response.status, await response.text())
            return await response.json() if response.status != 204 else None

    async def advance(self, seconds: float, integration_id: str | None = None) -> Any:
        prefix = f"/integrations/{integration_id}" if integration_id else ""
        return await self.post(prefix + "/clock/advance", {"seconds": seconds})

    async def records(self, integration_id: str, entity_type: str = "User") -> list[Any]:
        return (await self.get(f"/integrations/{integration_id}/records/{entity_type}"))["records"]

    async def sessions(self, integration_id: str) -> list[Any]:
        return (await self.get(f"/integrations/{integration_id}/sessions"))["sessions"]

    async def journal(self, **params: Any) -> list[Any]:
        return (await self.get("/journal", params=params))["entries"]
