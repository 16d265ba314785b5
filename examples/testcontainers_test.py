"""mock-sprinto in a container for a pytest suite, with Testcontainers for Python
(``pip install testcontainers pytest``; docs/container.md).

One container for the whole session, removed after it; each test starts from an empty emulator
(``POST /_mock/reset``). The image is the one ``make image`` builds; ``MOCK_SPRINTO_IMAGE`` names
another. Point your own client at ``sprinto + "/api/external/push"``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from testcontainers.core.container import DockerContainer

IMAGE = os.environ.get("MOCK_SPRINTO_IMAGE", "mock-sprinto:dev")


@pytest.fixture(scope="session")
def sprinto() -> Iterator[str]:
    """The emulator's origin, such as http://localhost:32771."""
    with DockerContainer(IMAGE).with_exposed_ports(8080) as container:
        origin = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8080)}"
        deadline = time.monotonic() + 30
        while True:  # serving within a second of the start
            try:
                call("GET", f"{origin}/_mock/health")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield origin


@pytest.fixture(autouse=True)
def fresh(sprinto: str) -> None:
    call("POST", f"{sprinto}/_mock/reset")


def call(method: str, url: str, body: Any = None, key: str | None = None) -> Any:
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("api-key", key)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_a_page_pushed_and_applied_is_in_the_dataset(sprinto: str) -> None:
    base, key = f"{sprinto}/api/external/push/v1/integrations/demo", "demo-key"
    session = call("POST", f"{base}/sessions", key=key)["id"]
    user = {
        "employeeId": "E1",
        "firstName": "Alice",
        "lastName": "Johnson",
        "workEmail": "alice@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
    }
    call("POST", f"{base}/sessions/{session}/entities", {"page_hint": 1, "entities": {"User": [user]}}, key)
    call("POST", f"{base}/sessions/{session}/close", {"status": "apply"}, key)
    call("POST", f"{sprinto}/_mock/clock/advance", {"seconds": 2})  # processing takes 2 s of emulator time
    assert call("GET", f"{base}/sessions/{session}", key=key)["state"] == "processed"
    records = call("GET", f"{sprinto}/_mock/integrations/demo/records/User")["records"]
    assert [record["employeeId"] for record in records] == ["E1"]


def test_each_test_starts_from_an_empty_emulator(sprinto: str) -> None:
    assert call("GET", f"{sprinto}/_mock/health")["integrations"] == 0
