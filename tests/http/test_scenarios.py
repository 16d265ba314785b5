"""Scenario rules over real HTTP: every trigger, every action, as clients observe them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp.test_utils import TestClient

from ..helpers import Control, Vendor, user

PAGE = {"entities": {"User": [user(1)]}}


async def put_scenario(client: TestClient[Any, Any], scenario: Any, integration_id: str | None = "acme") -> Any:
    path = f"/_mock/integrations/{integration_id}/scenario" if integration_id else "/_mock/scenario"
    async with client.put(path, json=scenario) as response:
        body = await response.json()
        assert response.status == 200, body
        return body


def rules(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "test", "rules": list(items), **extra}


async def statuses(vendor: Vendor, n: int) -> list[int]:
    return [(await vendor.call("GET", "/status"))[0] for _ in range(n)]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"nth": 3}, [200, 200, 503, 200, 200, 200]),
        ({"every": 2}, [200, 503, 200, 503, 200, 503]),
        ({"after": 4}, [200, 200, 200, 200, 503, 503]),
        ({"first": 2}, [503, 503, 200, 200, 200, 200]),
        ({"probability": 1.0}, [503] * 6),
        ({"probability": 0.0}, [200] * 6),
    ],
)
async def test_when_triggers(client: TestClient[Any, Any], when: dict[str, Any], expected: list[int]) -> None:
    await put_scenario(
        client, rules({"match": {"operation": "integration_status"}, "when": when, "respond": {"status": 503}})
    )
    assert await statuses(Vendor(client), 6) == expected


async def test_times_caps_how_often_a_rule_fires(client: TestClient[Any, Any]) -> None:
    await put_scenario(
        client,
        rules(
            {"match": {"operation": "integration_status"}, "when": {"every": 1}, "times": 2, "respond": {"status": 503}}
        ),
    )
    assert await statuses(Vendor(client), 4) == [503, 503, 200, 200]


async def test_probability_is_reproducible_with_a_seed(client: TestClient[Any, Any]) -> None:
    scenario = rules(
        {"match": {"operation": "integration_status"}, "when": {"probability": 0.5}, "respond": {"status": 503}},
        seed=123,
    )
    await put_scenario(client, scenario)
    first = await statuses(Vendor(client), 20)
    await put_scenario(client, scenario)  # installing again resets the counters and the generator
    second = await statuses(Vendor(client), 20)
    assert first == second and 200 in first and 503 in first


async def test_reinstalling_a_seeded_scenario_never_reuses_a_live_session_id(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    await put_scenario(client, {"name": "seeded", "seed": 9})
    first = await vendor.start()
    await vendor.push(first["id"], PAGE)
    await vendor.close(first["id"], "discard")
    await put_scenario(client, {"name": "seeded", "seed": 9})
    second = await vendor.start()
    assert second["id"] != first["id"]
    assert (await vendor.session(first["id"]))["state"] == "cancelled"
    assert (await vendor.status())["sessions"]["cancelled"] == 1


async def test_seed_makes_session_ids_deterministic(client: TestClient[Any, Any]) -> None:
    ids = []
    for _ in range(2):
        await client.post("/_mock/reset")
        await put_scenario(client, {"name": "seeded", "seed": 9})
        vendor = Vendor(client)
        session = await vendor.start()
        await vendor.close(session["id"], "discard")
        ids.append(session["id"])
    assert ids[0] == ids[1]


async def test_respond_with_code_detail_headers_and_retry_after(client: TestClient[Any, Any]) -> None:
    await put_scenario(
        client,
        rules(
            {
                "match": {"operation": "start_session"},
                "respond": {
                    "status": 429,
                    "code": "slow_down",
                    "detail": "too eager",
                    "headers": {"X-Trace": "t1"},
                    "retry_after": 7,
                },
            }
        ),
    )
    async with client.post(Vendor(client).url("/sessions"), headers={"api-key": "key-1"}) as response:
        body = await response.json()
        assert response.status == 429
        assert response.headers["Retry-After"] == "7" and response.headers["X-Trace"] == "t1"
        assert body["retry_after_seconds"] == 7 and body["code"] == "slow_down" and body["detail"] == "too eager"


async def test_whole_numbers_written_with_a_point_are_whole_numbers(client: TestClient[Any, Any]) -> None:
    # JSON Schema's integer admits 7.0 (and JSON from many languages writes it so): the header went
    # out as "Retry-After: 7.0", which no client parses as delay-seconds.
    await put_scenario(
        client,
        rules(
            {
                "match": {"operation": "start_session", "session": 1.0},
                "times": 2.0,
                "respond": {"status": 429.0, "retry_after": 7.0},
            },
            {
                "match": {"operation": "push_page", "page": 1.0},
                "when": {"nth": 1.0},
                "lifecycle": {"fail_processing": 1.0},
            },
        ),
    )
    vendor = Vendor(client)
    for _ in range(2):
        async with client.post(vendor.url("/sessions"), headers={"api-key": "key-1"}) as response:
            body = await response.json()
            assert response.status == 429
            assert response.headers["Retry-After"] == "7" and body["retry_after_seconds"] == 7
            assert type(body["retry_after_seconds"]) is int
    session = await vendor.start()  # the third start: the rule fired twice
    async with client.get("/_mock/integrations/acme/scenario") as response:
        shown = await response.json()
    assert shown["rules"][0] == {"rule": "rule 1", "matched": 3, "fired": 2}, shown
    assert session["state"] == "active"


async def test_respond_with_a_given_body(client: TestClient[Any, Any]) -> None:
    await put_scenario(
        client,
        rules(
            {"match": {"operation": "integration_status"}, "respond": {"status": 503, "body": {"sessions": "nonsense"}}}
        ),
    )
    assert (await Vendor(client).call("GET", "/status")) == (503, {"sessions": "nonsense"})


async def test_injected_answer_before_the_operation_changes_nothing(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    await put_scenario(
        client, rules({"match": {"operation": "push_page"}, "when": {"nth": 1}, "respond": {"status": 503}})
    )
    await vendor.push(session["id"], PAGE, expect=503)
    assert (await vendor.session(session["id"]))["accepted_batches"] == 0
    await vendor.push(session["id"], PAGE)
    assert (await vendor.session(session["id"]))["accepted_batches"] == 1


async def test_phase_after_runs_the_operation_and_loses_the_answer(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    await put_scenario(
        client,
        rules({"match": {"operation": "push_page"}, "when": {"nth": 1}, "phase": "after", "respond": {"status": 503}}),
    )
    await vendor.push(session["id"], PAGE, expect=503)
    # The page was staged although the client saw a 503: a naive retry stages it twice.
    await vendor.push(session["id"], PAGE)
    assert (await vendor.session(session["id"]))["accepted_batches"] == 2


async def test_fixed_and_seeded_random_delays(client: TestClient[Any, Any]) -> None:
    await put_scenario(client, rules({"match": {"operation": "integration_status"}, "delay": {"seconds": 0.3}}))
    started = time.monotonic()
    await Vendor(client).status()
    assert time.monotonic() - started >= 0.3
    await put_scenario(
        client,
        rules(
            {"match": {"operation": "integration_status"}, "delay": {"min_seconds": 0.2, "max_seconds": 0.25}}, seed=1
        ),
    )
    started = time.monotonic()
    await Vendor(client).status()
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("transport", "aiohttp_error"),
    [
        ("reset", aiohttp.ClientOSError),
        ("close", aiohttp.ServerDisconnectedError),
        ("truncated_body", aiohttp.ClientPayloadError),
    ],
)
async def test_transport_faults_seen_by_aiohttp(
    client: TestClient[Any, Any], transport: str, aiohttp_error: type[Exception]
) -> None:
    # POST: aiohttp itself retries an idempotent request (GET) once after a reset or an empty reply.
    await put_scenario(
        client, rules({"match": {"operation": "start_session"}, "when": {"nth": 1}, "transport": transport})
    )
    url = str(client.make_url(Vendor(client).url("/sessions")))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp_error):
            async with session.post(url, headers={"api-key": "key-1"}) as response:
                await response.read()
        async with session.post(url, headers={"api-key": "key-1"}) as response:
            assert response.status == 201  # the next request is served normally
    entries = (await (await client.get("/_mock/journal", params={"integration_id": "acme"})).json())["entries"]
    assert entries[0]["code"] == f"transport_{transport}" and entries[0]["rule"] == "rule 1"
    assert entries[0]["status"] == (0 if transport in ("reset", "close") else 200)


async def test_malformed_body_seen_by_aiohttp(client: TestClient[Any, Any]) -> None:
    await put_scenario(
        client, rules({"match": {"operation": "integration_status"}, "phase": "after", "transport": "malformed_body"})
    )
    async with client.get(Vendor(client).url("/status"), headers={"api-key": "key-1"}) as response:
        assert response.status == 200
        with pytest.raises(ValueError):
            await response.json()


@pytest.mark.parametrize(
    ("transport", "requests_error"),
    [
        ("reset", requests.ConnectionError),
        ("close", requests.ConnectionError),
        ("truncated_body", requests.exceptions.ChunkedEncodingError),
        ("malformed_body", requests.exceptions.JSONDecodeError),
    ],
)
async def test_transport_faults_seen_by_requests(
    client: TestClient[Any, Any], transport: str, requests_error: type[Exception]
) -> None:
    await put_scenario(
        client, rules({"match": {"operation": "integration_status"}, "when": {"nth": 1}, "transport": transport})
    )
    url = str(client.make_url(Vendor(client).url("/status")))

    def call() -> Any:
        return requests.get(url, headers={"api-key": "key-1"}, timeout=5).json()

    with pytest.raises(requests_error):
        await asyncio.to_thread(call)
    assert (await asyncio.to_thread(call))["integration_id"] == "acme"


async def _expired_mid_sync(client: TestClient[Any, Any]) -> tuple[Vendor, str, Any]:
    """Two pages under ``expire-mid-sync``, whose rule expires the session at the third: the vendor,
    the session's id and the third push's answer."""
    await put_scenario(client, "expire-mid-sync")
    vendor = Vendor(client)
    session = (await vendor.start())["id"]
    await vendor.push(session, PAGE)
    await vendor.push(session, {"entities": {"User": [user(2)]}})
    _, refused = await vendor.call("POST", f"/sessions/{session}/entities", 409, json=PAGE)
    return vendor, session, refused


async def test_lifecycle_expire_session_mid_sync(client: TestClient[Any, Any]) -> None:
    vendor, session, body = await _expired_mid_sync(client)
    assert (body["code"], body["state"]) == ("session_not_active", "expired")
    closed = await vendor.close(session)  # the expired data can still be applied
    assert closed["accepted_records_total"] == 2


async def test_a_session_the_scenario_expired_is_logged_as_expired_by_it(client: TestClient[Any, Any]) -> None:
    vendor, _, _ = await _expired_mid_sync(client)  # expired by the rule
    expired = [item for item in (await vendor.activity())["items"] if item["type"] == "session_expired"]
    assert len(expired) == 1
    # was "session expired after 3600s without a request", a moment after a page
    assert expired[0]["message"].startswith("session expired by ")
    assert "scenario rule" in expired[0]["message"] and "without a request" not in expired[0]["message"]


async def test_lifecycle_fail_processing_once_then_processed(client: TestClient[Any, Any], control: Control) -> None:
    await put_scenario(client, "processing-fails-once")
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], PAGE)
    await vendor.close(session["id"])
    await control.advance(2)
    retrying = await vendor.session(session["id"])
    assert (retrying["state"], retrying["retry_count"]) == ("processing", 1)
    assert retrying["last_error"].startswith("processing failed at ")  # [doc] a string
    await control.advance(2)
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert len(await control.records("acme")) == 1


async def test_lifecycle_processing_fails_twice(client: TestClient[Any, Any], control: Control) -> None:
    await put_scenario(client, "processing-fails")
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], PAGE)
    await vendor.close(session["id"])
    await control.advance(10)
    failed = await vendor.session(session["id"])
    assert (failed["state"], failed["retry_count"]) == ("failed", 1)
    assert failed["last_error"].startswith("processing failed at ")
    assert await control.records("acme") == []
    assert (await vendor.status())["sessions"]["failed"] == 1
    types = [i["type"] for i in (await vendor.activity())["items"]]
    assert "processing_retry" in types and types[-1] == "session_failed"


async def test_lifecycle_hold_processing(client: TestClient[Any, Any], control: Control) -> None:
    await put_scenario(
        client, rules({"match": {"operation": "close_session"}, "lifecycle": {"hold_processing_seconds": 100}})
    )
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.close(session["id"])
    await control.advance(50)
    assert (await vendor.session(session["id"]))["state"] == "processing"
    await control.advance(50)
    assert (await vendor.session(session["id"]))["state"] == "processed"


async def test_lifecycle_purge_expired(client: TestClient[Any, Any], control: Control) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], PAGE)
    await control.advance(3600)
    await put_scenario(client, rules({"match": {"operation": "close_session"}, "lifecycle": {"purge_expired": True}}))
    _, body = await vendor.call("POST", f"/sessions/{session['id']}/close", 409, json={"status": "apply"})
    assert body["code"] == "expired_data_purged"


async def test_filters_session_page_entity_type_and_page_hint(client: TestClient[Any, Any]) -> None:
    await put_scenario(
        client,
        rules(
            {
                "name": "second-session-page-2",
                "match": {"operation": "push_page", "session": 2, "page": 2},
                "respond": {"status": 502},
            },
            {
                "name": "devices",
                "match": {"operation": "push_page", "entity_type": "Device"},
                "respond": {"status": 503},
            },
            {"name": "hint-x", "match": {"operation": "push_page", "page_hint": "x"}, "respond": {"status": 504}},
        ),
    )
    vendor = Vendor(client)
    first = await vendor.start()
    await vendor.push(first["id"], PAGE)
    await vendor.push(first["id"], {"entities": {"User": [user(2)]}})  # page 2 of session 1: no rule
    await vendor.push(first["id"], {"entities": {"Device": [{"serial": "d"}]}}, expect=503)
    await vendor.push(first["id"], {**PAGE, "page_hint": "x"}, expect=504)
    await vendor.close(first["id"], "discard")
    second = await vendor.start()
    await vendor.push(second["id"], PAGE)
    await vendor.push(second["id"], {"entities": {"User": [user(2)]}}, expect=502)
    entries = (await (await client.get("/_mock/journal", params={"integration_id": "acme"})).json())["entries"]
    assert [e["rule"] for e in entries if e["rule"]] == ["devices", "hint-x", "second-session-page-2"]


async def test_scenario_settings_apply_to_that_integration_only(client: TestClient[Any, Any]) -> None:
    await put_scenario(client, "strict-limits")
    strict, other = Vendor(client), Vendor(client, "other", "k")
    many = {"entities": {"User": [user(i) for i in range(11)]}}
    s1, s2 = await strict.start(), await other.start()
    assert (await strict.push(s1["id"], many, expect=400))["code"] == "too_many_items"
    await other.push(s2["id"], many)
    assert s1["inactivity_timeout_seconds"] == 300 and s2["inactivity_timeout_seconds"] == 3600


async def test_global_scenario_applies_until_an_integration_has_its_own(client: TestClient[Any, Any]) -> None:
    await put_scenario(
        client, rules({"match": {"operation": "integration_status"}, "respond": {"status": 503}}), integration_id=None
    )
    assert await statuses(Vendor(client, "a", "k"), 1) == [503]
    await put_scenario(client, "default", integration_id="a")
    assert await statuses(Vendor(client, "a", "k"), 1) == [200]
    assert await statuses(Vendor(client, "b", "k"), 1) == [503]
    async with client.delete("/_mock/integrations/a/scenario") as response:
        assert response.status == 204
    assert await statuses(Vendor(client, "a", "k"), 1) == [503]
    view = await (await client.get("/_mock/integrations/a/scenario")).json()
    # Counters are per integration and start afresh whenever its effective scenario changes.
    assert view["applies_to"] == "global" and view["rules"][0]["fired"] == 1


async def test_invalid_scenario_is_400_listing_every_problem(client: TestClient[Any, Any]) -> None:
    bad = {
        "name": "Bad",
        "rules": [{"match": {"operation": "nope"}, "respond": {"status": 99}}],
        "settings": {"port": 1, "max_page_items": 0},
    }
    async with client.put("/_mock/scenario", json=bad) as response:
        body = await response.json()
    assert response.status == 400 and body["code"] == "invalid_scenario"
    paths = sorted(e["path"] for e in body["errors"])
    assert paths == [
        "/name",
        "/rules/0/match/operation",
        "/rules/0/respond/status",
        "/settings/max_page_items",
        "/settings/port",
    ]


@pytest.mark.parametrize("name", ["../scenarios/chaos", "/etc/passwd", "chaos.yaml", "no-such-scenario", ""])
async def test_a_scenario_name_is_never_a_path(client: TestClient[Any, Any], name: str) -> None:
    async with client.put("/_mock/scenario", json=name) as response:
        body = await response.json()
    assert response.status == 400 and body["code"] == "invalid_scenario"
    assert "not a shipped scenario name" in body["errors"][0]["message"]


async def test_shipped_scenarios_are_listed(client: TestClient[Any, Any]) -> None:
    listed = (await (await client.get("/_mock/scenarios")).json())["scenarios"]
    assert {s["name"] for s in listed} >= {
        "default",
        "rate-limited",
        "flaky-network",
        "slow-processing",
        "processing-fails-once",
        "processing-fails",
        "expire-mid-sync",
        "strict-limits",
        "chaos",
    }
    assert all(s["description"] for s in listed)


async def test_a_429_with_retry_after_null_carries_no_retry_after(client: TestClient[Any, Any]) -> None:
    """By default an injected 429 says Retry-After: 1; ``retry_after: null`` leaves the client to its own backoff."""
    await put_scenario(
        client, rules({"match": {"operation": "start_session"}, "respond": {"status": 429, "retry_after": None}})
    )
    vendor = Vendor(client)
    async with client.post(vendor.url("/sessions"), headers=vendor.headers) as response:
        assert response.status == 429
        assert "Retry-After" not in response.headers
        body = await response.json()
    assert body["code"] == "rate_limited" and "retry_after_seconds" not in body
    await put_scenario(client, rules({"match": {"operation": "start_session"}, "respond": {"status": 429}}))
    async with client.post(vendor.url("/sessions"), headers=vendor.headers) as response:
        assert response.headers["Retry-After"] == "1" and (await response.json())["retry_after_seconds"] == 1


def test_a_request_a_scenario_holds_is_answered_when_the_server_stops() -> None:
    """A delay is the emulator's own wait: stopping ends it with 503 shutting_down, journaled, at
    once, instead of holding the shutdown for its whole grace and dropping the request."""
    import threading

    from mock_sprinto.testing import MockSprintoServer

    server = MockSprintoServer().start()
    mock = server.new_integration("held")
    mock.use_scenario({"name": "hold", "rules": [{"match": {"operation": "start_session"}, "delay": {"seconds": 300}}]})
    answers: list[requests.Response] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            requests.post(f"{mock.integration_url}/sessions", headers=mock.headers, timeout=30)
        )
    )
    caller.start()
    time.sleep(0.3)  # the request is in its delay
    emulator = server.emulator
    server.stop()
    caller.join(10)
    assert answers and answers[0].status_code == 503 and answers[0].json()["code"] == "shutting_down"
    assert answers[0].json()["setting"] == "shutdown_timeout_seconds"  # the grace, not a header deadline
    assert emulator is not None
    (entry,) = [e for e in emulator.journal.entries if e.operation == "start_session"]
    assert (entry.status, entry.code) == (503, "shutting_down")
