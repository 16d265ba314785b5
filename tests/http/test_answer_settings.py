"""Every refusal names the setting that governs it, and only that one: a user who raises the named
setting gets a different answer; one who reads no setting knows none would help. Its words fit it
too: a scenario too large is not told to send smaller pages."""

from __future__ import annotations

import gzip
import json
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.faults.vocabulary import OPERATIONS
from mock_sprinto.http import create_app
from mock_sprinto.http.openapi_document import shipped_document

from ..helpers import Control, Vendor, user

PAGE = orjson.dumps({"entities": {"User": [user(1)]}})
JSON = {"Content-Type": "application/json"}
GZIP_JSON = {**JSON, "Content-Encoding": "gzip"}


# ---- 413: the setting that governs each size limit -----------------------------------------------
async def test_a_gzip_bomb_names_max_decoded_bytes_not_the_wire_limit(vendor: Vendor) -> None:
    session = await vendor.start()
    bomb = gzip.compress(b" " * 30_000_000)
    problem = await vendor.push(session["id"], None, 413, data=bomb, headers=GZIP_JSON)
    assert (problem["setting"], problem["basis"], problem["limit_bytes"]) == ("max_decoded_bytes", "mock", 26_214_400)
    assert "once decoded (setting max_decoded_bytes)" in problem["detail"]
    # ... while a page over 5 MB on the wire meets Sprinto's own limit
    problem = await vendor.push(session["id"], None, 413, data=b" " * 5_000_001, headers=JSON)
    assert (problem["setting"], problem["basis"]) == ("max_request_bytes", "doc")
    assert "on the wire (setting max_request_bytes); send smaller pages" in problem["detail"]


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_a_scenario_over_its_limit_names_max_scenario_bytes_and_no_pages(
    client: TestClient[Any, Any], encoding: str | None
) -> None:
    scenario = json.dumps({"name": "big", "description": "x" * 1_100_000, "rules": []}).encode()
    headers = JSON if encoding is None else GZIP_JSON
    data = scenario if encoding is None else gzip.compress(scenario)
    async with client.put("/_mock/scenario", data=data, headers=headers) as response:
        assert response.status == 413
        problem = await response.json()
    assert (problem["setting"], problem["basis"], problem["limit_bytes"]) == ("max_scenario_bytes", "mock", 1_048_576)
    assert problem["detail"].startswith("the scenario is larger than 1048576 bytes")
    assert "pages" not in problem["detail"]


async def test_other_control_bodies_over_the_limit_name_max_scenario_bytes(client: TestClient[Any, Any]) -> None:
    body = json.dumps({"unknown_fields": "x" * 1_100_000})
    async with client.put("/_mock/integrations/acme/settings", data=body, headers=JSON) as response:
        assert response.status == 413
        problem = await response.json()
    assert (problem["setting"], problem["basis"]) == ("max_scenario_bytes", "mock")
    assert "/_mock request body" in problem["detail"] and "pages" not in problem["detail"]


# ---- 400 malformed_body: what is wrong, and a setting only for a repeated name ------------------
async def test_data_after_a_gzip_stream_is_named_as_such_without_hints_that_do_not_apply(vendor: Vendor) -> None:
    session = await vendor.start()
    problem = await vendor.push(session["id"], None, 400, data=gzip.compress(PAGE) + b"GARBAGE", headers=GZIP_JSON)
    assert problem["code"] == "malformed_body"
    assert "7 bytes of data after the end of its gzip stream" in problem["detail"]
    assert "RUNNER_KWARGS" not in problem["detail"]  # served by EmulatorRunner: aiohttp decodes nothing
    assert "setting" not in problem


async def test_a_gzip_body_decoded_by_a_plainly_served_app_says_how_to_serve_it(
    aiohttp_client: Any, emulator: Any
) -> None:
    """aiohttp's own TestServer keeps auto_decompress on: the emulator is handed decoded JSON."""
    client = await aiohttp_client(create_app(emulator))
    vendor = Vendor(client)
    session = await vendor.start()
    problem = await vendor.push(session["id"], None, 400, data=gzip.compress(PAGE), headers=GZIP_JSON)
    assert problem["code"] == "malformed_body" and "setting" not in problem
    assert "EmulatorRunner" in problem["detail"] and "RUNNER_KWARGS" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "setting"),
    [
        (b"not json", None),
        (b'{"entities": {"User": [{"a": 1}]}, "entities": {}}', "duplicate_names"),
        (b"[" * 70 + b"]" * 70, "max_json_depth"),
        (b'{"entities": "\xff"}', None),
    ],
)
async def test_malformed_pages_name_only_the_setting_that_would_change_them(
    vendor: Vendor, body: bytes, setting: str | None
) -> None:
    session = await vendor.start()
    problem = await vendor.push(session["id"], None, 400, data=body, headers=JSON)
    assert problem["code"] == "malformed_body"
    assert problem.get("setting") == setting


async def test_control_bodies_name_no_setting_for_json_or_repeats_no_setting_governs(
    client: TestClient[Any, Any],
) -> None:
    for body in (b"not json", b'{"id": "a", "id": "b"}'):
        async with client.post("/_mock/integrations", data=body, headers=JSON) as response:
            problem = await response.json()
        assert (response.status, problem["code"]) == (400, "malformed_body")
        assert "setting" not in problem, body


# ---- other answers: no setting that would not change them -----------------------------------------
async def test_an_existing_integration_is_refused_without_a_setting(client: TestClient[Any, Any]) -> None:
    await Vendor(client).start()
    async with client.post("/_mock/integrations", json={"id": "acme"}) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (409, "integration_exists")
    assert "setting" not in problem


async def test_the_integration_limit_names_max_integrations(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(max_integrations=1))
    await Vendor(client).start()
    async with client.post("/_mock/integrations", json={"id": "other"}) as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["setting"]) == (
        403,
        "integration_limit_reached",
        "max_integrations",
    )


async def test_an_injected_429_says_it_was_injected_not_rate_limited(client: TestClient[Any, Any]) -> None:
    scenario = {"name": "throttle", "rules": [{"match": {"operation": "start_session"}, "respond": {"status": 429}}]}
    async with client.put("/_mock/scenario", json=scenario) as response:
        assert response.status == 200
    vendor = Vendor(client)
    _, injected = await vendor.call("POST", "/sessions", 429)
    assert (injected["code"], injected["basis"]) == ("rate_limited", "mock")
    assert "setting" not in injected  # rate limiting is off: rate_limit would change nothing


async def test_a_prefer_forced_429_names_prefer_header_the_setting_that_switches_it_off(vendor: Vendor) -> None:
    _, forced = await vendor.call("GET", "/status", 429, headers={**vendor.headers, "Prefer": "code=429"})
    assert (forced["code"], forced["basis"], forced["setting"]) == ("rate_limited", "mock", "prefer_header")


# ---- control-plane parameters: a typo is refused, not ignored -------------------------------------
async def test_creating_an_integration_with_an_unknown_member_is_refused(
    client: TestClient[Any, Any], control: Control
) -> None:
    async with client.post("/_mock/integrations", json={"idd": "x"}) as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["parameter"]) == (400, "invalid_parameter", "idd")
    assert "did you mean 'id'?" in problem["detail"]
    listed = await control.get("/integrations")
    assert listed["integrations"] == []  # nothing was made


@pytest.mark.parametrize("path", ["/_mock/journal", "/_mock/journal.har"])
async def test_an_unknown_journal_operation_is_refused_naming_the_known_ones(
    client: TestClient[Any, Any], path: str
) -> None:
    async with client.get(path, params={"operation": "push"}) as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["parameter"]) == (400, "invalid_parameter", "operation")
    assert "push_page" in problem["detail"] and "start_session" in problem["detail"]


def test_the_journal_operations_are_the_vendor_ones_and_unknown_as_the_contract_lists() -> None:
    from mock_sprinto.service import JOURNAL_OPERATIONS

    spec = shipped_document()
    [operation] = [p for p in spec["paths"]["/_mock/journal"]["get"]["parameters"] if p["name"] == "operation"]
    assert tuple(operation["schema"]["enum"]) == JOURNAL_OPERATIONS == (*OPERATIONS, "unknown")
