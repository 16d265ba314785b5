"""Near-miss help: a path the API does not have names the closest real endpoint."""

from __future__ import annotations

import pytest

from mock_sprinto.http.nearmiss import closest_endpoint

BASE = "/api/external/push/v1/integrations/acme"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/integrations/acme/sessions", f"POST {BASE}/sessions"),  # base URL without /api/external/push
        ("POST", "/api/external/v1/integrations/acme/sessions", f"POST {BASE}/sessions"),  # part of it
        ("POST", "/api/external/push/integrations/acme/sessions", f"POST {BASE}/sessions"),  # no version
        ("POST", f"{BASE}/sessions/", f"POST {BASE}/sessions"),  # a trailing slash
        ("GET", f"{BASE}/sessions/ses_1/status", f"GET {BASE}/sessions/ses_1"),  # status under a session
        ("POST", f"{BASE}/session/ses_1/entity", f"POST {BASE}/sessions/ses_1/entities"),  # singular words
        ("POST", f"{BASE}/sessions/ses_1/closed", f"POST {BASE}/sessions/ses_1/close"),
        ("GET", f"{BASE}/activities", f"GET {BASE}/activity"),
    ],
)
def test_the_usual_misses_name_the_real_endpoint(method: str, path: str, expected: str) -> None:
    assert closest_endpoint(method, path) == expected


@pytest.mark.parametrize("path", ["/", "/favicon.ico", f"{BASE}/sessions/ses_1/entities/7/records", "/integrations"])
def test_a_path_like_no_endpoint_gets_no_guess(path: str) -> None:
    assert closest_endpoint("GET", path) is None
