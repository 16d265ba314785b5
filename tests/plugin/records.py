"""Small clients for the plugin's tests: urllib only, so the handle is tested without helpers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from mock_sprinto.testing import MockSprinto, sample_user


def user(i: int, **fields: Any) -> dict[str, Any]:
    return sample_user(i, **fields)


def call(mock: MockSprinto, method: str, tail: str, body: Any = None) -> tuple[int, Any]:
    """One vendor request with urllib; returns (status, parsed body) for 2xx and errors alike."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        mock.integration_url + tail,
        data=data,
        method=method,
        headers={**mock.headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start(mock: MockSprinto) -> str:
    status, body = call(mock, "POST", "/sessions")
    assert status == 201, body
    session_id: str = body["id"]
    return session_id


def push(mock: MockSprinto, session_id: str, records: list[dict[str, Any]], **extra: Any) -> tuple[int, Any]:
    return call(mock, "POST", f"/sessions/{session_id}/entities", {"entities": {"User": records}, **extra})


def close(mock: MockSprinto, session_id: str, status: str = "apply") -> Any:
    code, body = call(mock, "POST", f"/sessions/{session_id}/close", {"status": status})
    assert code == 202, body
    return body
