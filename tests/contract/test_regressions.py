"""Bugs the contract tools found (schemathesis, the response checker, the fuzzers), one test each.

Each test failed before its fix; the docstring names the tool that found it.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mock_sprinto.clock import MAX_STEP_SECONDS

from ..helpers import Control, Vendor, user


async def test_setting_the_clock_to_year_one_is_a_clean_4xx_not_a_500(client: Any) -> None:
    """schemathesis: 0001-01-01T00:00:00+01:00 is year 0 in UTC; formatting it crashed (500)."""
    async with client.post("/_mock/clock/set", json={"now": "0001-01-01T00:00:00+01:00"}) as response:
        body = await response.json()
        assert response.status in (400, 409), body
        assert body["code"] in ("invalid_parameter", "clock_backwards")


async def test_activity_since_year_zero_is_a_clean_answer(vendor: Vendor) -> None:
    """The same far-past time as an activity filter."""
    status, body = await vendor.call("GET", "/activity", params={"since": "0001-01-01T00:00:00+14:00"})
    assert status in (200, 400), body


async def test_setting_the_clock_far_ahead_says_why_in_terms_of_now(client: Any) -> None:
    """schemathesis (positive data rejected): a valid 'now' 40 years ahead got 400 with a message
    about 'seconds', a member the request does not have."""
    async with client.post("/_mock/clock/set", json={"now": "2066-11-16T03:56:12.949Z"}) as response:
        body = await response.json()
        assert response.status == 409, body
        assert body["code"] == "clock_step_too_large"
        assert "seconds" not in body["detail"].split("'")
        assert body["now"] == "2026-01-01T00:00:00.000Z"


async def test_the_clock_stops_at_the_year_9999_instead_of_breaking_every_request(
    vendor: Vendor, control: Control, client: Any
) -> None:
    """schemathesis (long runs): ten-year steps eventually pass 9999-12-31, after which every
    timestamp failed to format and every request answered 500."""
    status = 200
    steps = 0
    while status == 200 and steps < 1000:
        async with client.post("/_mock/clock/advance", json={"seconds": MAX_STEP_SECONDS}) as response:
            status = response.status
            last = await response.json()
        steps += 1
    assert status == 409 and last["code"] == "clock_out_of_range", last
    async with client.post("/_mock/integrations/acme/clock/advance", json={"seconds": MAX_STEP_SECONDS}) as response:
        assert response.status == 409
    session = await vendor.start()
    assert session["created_at"].startswith("9")
    assert (await control.get("/clock"))["now"] < "9999-12-31T23:59:60"


async def test_deleting_an_integration_with_an_impossible_id_is_400(client: Any) -> None:
    """schemathesis (negative data accepted): DELETE of an id no integration can have said 204."""
    async with client.delete("/_mock/integrations/%C2%84") as response:
        body = await response.json()
        assert response.status == 400, body
        assert body["code"] == "invalid_parameter"
    async with client.delete("/_mock/integrations/never-seen") as response:
        assert response.status == 204  # deleting a valid id that holds nothing stays idempotent


async def test_an_integral_float_page_hint_is_an_integer(vendor: Vendor) -> None:
    """schemathesis (positive data rejected): JSON Schema counts -134.0 as an integer, and so do
    JavaScript clients, which cannot tell 7 from 7.0; the page was rejected as invalid."""
    session = await vendor.start()
    body = await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": -134.0})
    assert body["echoes"] == {"page_hint": -134}
    too_big = await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 1e30}, expect=400)
    assert too_big["validation_errors"][0]["field"] == "page_hint"  # beyond 64 bits it is not echoed


async def test_a_page_hint_one_below_the_64_bit_range_is_refused_not_rounded_in(vendor: Vendor) -> None:
    """schemathesis (coverage phase, seed 20260101): -9223372036854775809 parses as a double that
    rounds to -2**63, which was then echoed as the integer -2**63: a value the contract refuses,
    accepted as another one."""
    session = await vendor.start()
    raw = b'{"entities": {"User": [' + orjson.dumps(user(1)) + b']}, "page_hint": -9223372036854775809}'
    body = await vendor.push(session["id"], None, expect=400, data=raw, headers={"Content-Type": "application/json"})
    assert body["validation_errors"][0]["field"] == "page_hint"


async def test_a_number_setting_one_past_its_bound_is_refused_not_rounded_in(client: Any) -> None:
    """schemathesis (negative data accepted): rate_limit 2**53 + 1 became the float 2**53 before
    the bound was checked, so a value the contract refuses was stored, silently changed."""
    async with client.put("/_mock/integrations/acme/settings", json={"rate_limit": 2**53 + 1}) as response:
        body = await response.json()
        assert response.status == 400, body
    async with client.put("/_mock/integrations/acme/settings", json={"rate_limit": 2**53}) as response:
        assert response.status == 200


# ---- issue 11, item 8: schemathesis at full strength (every phase, stateful, scenario PUTs) -------
async def test_a_delay_with_both_seconds_and_min_seconds_is_an_invalid_scenario_not_a_500(client: Any) -> None:
    """schemathesis (coverage phase): the schema's oneOf let {seconds, min_seconds} through as the
    'seconds' form, and the meaning check read delay['max_seconds']: KeyError, 500."""
    for delay in ({"seconds": 0, "min_seconds": 0}, {"seconds": 1, "max_seconds": 2}, {"min_seconds": 1}):
        scenario = {"name": "both", "rules": [{"match": {"operation": "any"}, "delay": delay}]}
        for path in ("/_mock/scenario", "/_mock/integrations/acme/scenario"):
            async with client.put(path, json=scenario) as response:
                body = await response.json()
                assert response.status == 400, (delay, body)
                assert body["code"] == "invalid_scenario"
                assert any(error["path"].startswith("/rules/0/delay") for error in body["errors"]), body


async def test_a_session_started_within_an_hour_of_the_clocks_end_still_answers(
    vendor: Vendor, clock: Any, control: Control
) -> None:
    """schemathesis (stateful: clock moves, then a start): the clock stops at 9999-12-31, but a
    session's expiry is an hour later, beyond what a timestamp can say: 500 on start and on every
    later read of that session."""
    from mock_sprinto.clock import MAX_TIME

    clock.advance(MAX_TIME - clock.now() - 600)
    session = await vendor.start()
    assert session["expires_at"] == "9999-12-31T23:59:59.000Z"  # 'never', as far as RFC 3339 can tell
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    assert (await vendor.session(session["id"]))["state"] == "active"
    await vendor.close(session["id"])
    assert (await control.get("/integrations/acme/sessions"))["sessions"][0]["state"] == "processing"


async def test_the_largest_time_settings_a_scenario_may_carry_never_break_a_timestamp(
    vendor: Vendor, client: Any
) -> None:
    """schemathesis (stateful: a scenario PUT, then start / close): settings up to 2**53 seconds
    put expiry, processing and retention past the year 9999: 500 on start and on close."""
    huge = 2**53
    scenario = {
        "name": "forever",
        "settings": {"inactivity_timeout_seconds": huge, "processing_seconds": huge, "expired_retention_seconds": huge},
        "rules": [],
    }
    async with client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 200, await response.text()
    first = await vendor.start()
    await vendor.close(first["id"])
    second = await vendor.start()
    assert (await vendor.session(second["id"]))["expires_at"].startswith("9999-")
    assert (await vendor.status())["sessions"]["processing"] == 1


def test_the_served_contract_names_the_shipped_scenarios_instead_of_any_string(registry: Any) -> None:
    """schemathesis (positive data rejected): the contract took any name matching the pattern
    ("0"), but only shipped names are accepted; the served document now lists them."""
    from mock_sprinto.faults.scenario import shipped_scenarios
    from mock_sprinto.http.openapi import build_document
    from mock_sprinto.settings import Settings

    doc = build_document(registry, Settings())
    branches = doc["components"]["requestBodies"]["Scenario"]["content"]["application/json"]["schema"]["oneOf"]
    names = next(branch for branch in branches if branch.get("type") == "string")
    assert names["enum"] == sorted(shipped_scenarios())


async def test_a_scenario_put_on_an_impossible_integration_id_is_a_documented_400(client: Any) -> None:
    """schemathesis (response violates schema): the 400 for a bad id in the path was not among
    the scenario PUT's documented 400s (the serve fixture checks every answer against them)."""
    async with client.put("/_mock/integrations/%C2%84/scenario", json="default") as response:
        body = await response.json()
        assert response.status == 400 and body["code"] == "invalid_parameter", body


@pytest.mark.parametrize(
    ("rule", "accepted"),
    [
        ({"match": {"operation": "get_session", "page": 3}, "delay": {"seconds": 0}}, False),
        ({"match": {"operation": "activity", "entity_type": "User"}, "delay": {"seconds": 0}}, False),
        ({"match": {"operation": "activity"}, "lifecycle": {"expire_session": True}}, False),
        ({"match": {"operation": "integration_status", "session": 1}, "delay": {"seconds": 0}}, False),
        ({"match": {"operation": "any", "page": 3, "session": 2}, "lifecycle": {"expire_session": True}}, True),
        ({"match": {"operation": "push_page", "page_hint": 7}, "delay": {"seconds": 0}}, True),
        ({"match": {"operation": "close_session", "session": 1}, "lifecycle": {"expire_session": True}}, True),
    ],
)
def test_the_served_contract_refuses_the_rules_the_emulator_refuses(registry: Any, rule: Any, accepted: bool) -> None:
    """schemathesis (positive data rejected): 'page' on a get_session rule, expire_session on an
    activity rule and the like were valid by the contract and refused by the emulator."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from mock_sprinto.faults.scenario import ScenarioError, parse_scenario
    from mock_sprinto.http.openapi import build_document
    from mock_sprinto.settings import Settings

    doc = build_document(registry, Settings())
    schemas: Registry[Any] = Registry().with_resource(
        "urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator({"$ref": "urn:doc#/components/schemas/Scenario"}, registry=schemas)
    scenario = {"name": "meaning", "rules": [rule]}
    assert validator.is_valid(scenario) is accepted
    try:
        parse_scenario(scenario)
    except ScenarioError:
        assert not accepted
    else:
        assert accepted


async def test_a_vanishingly_small_rate_limit_is_a_clean_429(client: Any, vendor: Vendor) -> None:
    """schemathesis (stateful, with setting overrides fuzzed): rate_limit 1.3e-135 made a wait of
    10**135 seconds, a Retry-After too large for JSON: 500 on every request of that integration."""
    async with client.put(
        "/_mock/integrations/acme/settings", json={"rate_limit": 1e-300, "rate_limit_burst": 1}
    ) as response:
        assert response.status == 200
    await vendor.status()
    status, body = await vendor.call("GET", "/status")
    assert status == 429, body
    assert body["retry_after_seconds"] == MAX_STEP_SECONDS  # at most one step of the clock: ten years


async def test_an_id_with_a_trailing_newline_is_no_integration_id(client: Any) -> None:
    """schemathesis (negative data accepted): `^...$` lets a regex match "W\\n" (Python's `$` matches
    before a final newline), so /_mock/integrations/W%0A made an integration the contract refuses."""
    async with client.get("/_mock/integrations/W%0A") as response:
        assert response.status == 400, await response.text()
    async with client.post("/api/external/push/v1/integrations/W%0A/sessions", headers={"api-key": "k"}) as response:
        assert response.status in (400, 401), await response.text()


async def test_a_har_export_named_after_a_hostile_id_is_still_answered(client: Any) -> None:
    """schemathesis (fuzzing): a control byte from ?integration_id= went into Content-Disposition,
    and aiohttp refused the header as it wrote it: the connection dropped with no answer."""
    async with client.get("/_mock/journal.har?integration_id=%C3%A6f%0EG") as response:
        assert response.status == 200
        assert "\x0e" not in response.headers["Content-Disposition"]


@pytest.mark.parametrize("body", [b" ", b"\n", b" \r\n\t"])
async def test_a_body_of_white_space_is_not_json(client: Any, body: bytes) -> None:
    """schemathesis (make fuzz, negative data accepted): POST /_mock/integrations with the body ' '
    created an integration, as if no body had been sent; white space alone is not a JSON text.
    The same holds for the optional bodies of start and close. An empty body is still no body."""
    json_type = {"Content-Type": "application/json"}
    async with client.post("/_mock/integrations", data=body, headers=json_type) as response:
        problem = await response.json()
        assert response.status == 400 and problem["code"] == "malformed_body", problem
    async with client.get("/_mock/integrations") as response:
        assert (await response.json())["integrations"] == []
    vendor = Vendor(client, "acme", "k")
    status, problem = await vendor.call("POST", "/sessions", data=body, headers=json_type)
    assert status == 400 and problem["code"] == "malformed_body", problem
    session = await vendor.start()
    status, problem = await vendor.call("POST", f"/sessions/{session['id']}/close", data=body, headers=json_type)
    assert status == 400 and problem["code"] == "malformed_body", problem
    async with client.post("/_mock/integrations", data=b"", headers=json_type) as response:
        assert response.status == 201


@pytest.mark.parametrize("path", ["/_mock/journal", "/_mock/journal.har"])
@pytest.mark.parametrize("query", ["status=", "status=&status=abc", "status=&integration_id="])
async def test_an_empty_status_filter_is_no_whole_number(client: Any, path: str, query: str) -> None:
    """schemathesis (make test, stateful; negative data accepted, about one run in eight): the
    journal filters read an empty `status=` as no filter, so `status=&status=abc` answered 200 with
    the whole journal. `status` is an integer (0-599) in the contract and `limit=` is already 400
    when empty; an empty `status` is refused the same way."""
    async with client.get(f"{path}?{query}") as response:
        problem = await response.json()
        assert response.status == 400, problem
        assert problem["code"] == "invalid_parameter" and problem["parameter"] == "status", problem
    async with client.get(f"{path}?status=0&integration_id=&operation=") as response:
        assert response.status == 200  # empty string filters (integration_id, operation) stay "no filter"


async def test_a_query_parameter_sent_twice_is_refused_not_read_as_its_first_value(
    client: Any,
) -> None:
    # Before: ?limit=5&limit=abc answered 200 with 5 entries, the second value never looked at.
    vendor = Vendor(client, "twice", "key")
    await vendor.start()
    for path in (
        "/_mock/journal?limit=5&limit=abc",
        "/_mock/journal.har?status=200&status=x",
        "/_mock/integrations/twice/overview?entity_type=User&entity_type=Device",
    ):
        async with client.get(path) as response:
            body = await response.json()
            assert response.status == 400, (path, body)
            assert body["code"] == "invalid_parameter" and "sent 2 times" in body["detail"]
    _, refused = await vendor.call("GET", "/activity?page=1&page=abc", expect=400)
    assert refused["code"] == "invalid_parameter" and "'page' was sent 2 times" in refused["detail"]
    # the key is checked first: a stranger learns nothing about the query
    async with client.get(
        "/api/external/push/v1/integrations/twice/activity?page=1&page=2", headers={"api-key": "wrong"}
    ) as response:
        assert response.status == 401
    _, fine = await vendor.call("GET", "/activity?page=1&page_size=5", expect=200)
    assert fine["items"]
