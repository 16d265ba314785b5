"""Stands for your code: a nightly job that pushes users to Sprinto's Entities Sync API in pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests


def sync_users(base_url: str, integration_id: str, api_key: str, users: list[dict[str, Any]],
               page_size: int = 100, sleep: Callable[[float], Any] = time.sleep) -> str:
    """Start a session, push ``users`` in pages, close with apply, wait until processed; returns
    the session id, or raises when processing failed."""
    api = f"{base_url}/v1/integrations/{integration_id}"
    with requests.Session() as http:
        http.headers["api-key"] = api_key
        started = http.post(f"{api}/sessions")
        started.raise_for_status()
        session_id: str = started.json()["id"]
        for start in range(0, len(users), page_size):
            page = {"entities": {"User": users[start:start + page_size]}, "page_hint": start // page_size + 1}
            http.post(f"{api}/sessions/{session_id}/entities", json=page).raise_for_status()
        http.post(f"{api}/sessions/{session_id}/close", json={"status": "apply"}).raise_for_status()
        while (state := http.get(f"{api}/sessions/{session_id}").json()["state"]) == "processing":
            sleep(1)  # processing takes seconds: read the outcome once a second
    if state != "processed":
        raise RuntimeError(f"sync failed: session {session_id} ended {state}")
    return session_id


def employee(i: int, **fields: Any) -> dict[str, Any]:
    """A valid Sprinto ``User`` record."""
    return {
        "employeeId": f"E{i}", "firstName": "Ada", "lastName": f"Lovelace{i}", "fullName": f"Ada Lovelace{i}",
        "employmentStartDate": "2024-01-15T09:00:00Z", "employmentEndDate": None,
        "workEmail": f"ada{i}@example.com", "managerId": None, "role": "ENG", "roleDescription": "Engineer",
        "employmentType": "EMPLOYEE", **fields,
    }
