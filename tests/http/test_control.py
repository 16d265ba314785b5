"""The control plane: clock, integrations, reset, records, journal, settings, admin token."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.errors import ApiError
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user


async def test_one_tenants_clock_never_moves_another(client: TestClient[Any, Any], control: Control) -> None:
    a, b = Vendor(client, "a", "ka"), Vendor(client, "b", "kb")
    sa, sb = await a.start(), await b.start()
    moved = await control.advance(3600, "a")
    assert moved["integration_id"] == "a" and moved["offset_seconds"] == 3600
    assert (await a.session(sa["id"]))["state"] == "expired"
    assert (await b.session(sb["id"]))["state"] == "active"
    assert (await control.get("/clock"))["offset_seconds"] == 0
    assert (await control.get("/integrations/b/clock"))["now"] == "2026-01-01T00:00:00.000Z"


async def test_global_clock_moves_every_tenant_and_never_goes_backwards(
    client: TestClient[Any, Any], control: Control
) -> None:
    a = Vendor(client, "a", "ka")
    session = await a.start()
    moved = await control.post("/clock/set", {"now": "2026-01-01T02:00:00Z"})
    assert moved["now"] == "2026-01-01T02:00:00.000Z"
    assert (await a.session(session["id"]))["state"] == "expired"
    async with client.post("/_mock/clock/set", json={"now": "2025-01-01T00:00:00Z"}) as response:
        assert response.status == 409
        assert (await response.json())["code"] == "clock_backwards"
    for bad in ({"seconds": -1}, {"seconds": "10"}, {}, {"seconds": 1e12}):
        async with client.post("/_mock/clock/advance", json=bad) as response:
            assert response.status == 400, bad
            assert (await response.json())["code"] == "invalid_parameter"


async def test_control_call_naming_an_unseen_integration_creates_it_unbound(
    client: TestClient[Any, Any], control: Control
) -> None:
    await control.advance(100, "later")
    listed = {i["id"]: i for i in (await control.get("/integrations"))["integrations"]}
    assert listed["later"]["api_key_bound"] is False
    session = await Vendor(client, "later", "first-key").start()
    assert session["created_at"] == "2026-01-01T00:01:40.000Z"  # its own clock was set before it was used
    status, body = await Vendor(client, "later", "second-key").call("GET", f"/sessions/{session['id']}")
    assert (status, body["code"]) == (401, "invalid_api_key")


async def test_create_list_delete_integrations(client: TestClient[Any, Any], control: Control) -> None:
    created = await control.post("/integrations", {"id": "hr-sync", "api_key": "s3cret"}, expect=201)
    assert created["id"] == "hr-sync" and created["api_key"] == "s3cret"
    generated = await control.post("/integrations", {}, expect=201)
    assert generated["id"].startswith("int_") and generated["api_key"].startswith("key_")
    async with client.post("/_mock/integrations", json={"id": "hr-sync"}) as response:
        assert response.status == 409 and (await response.json())["code"] == "integration_exists"
    vendor = Vendor(client, "hr-sync", "s3cret")
    await vendor.start()
    async with client.delete("/_mock/integrations/hr-sync") as response:
        assert response.status == 204
    assert "hr-sync" not in {i["id"] for i in (await control.get("/integrations"))["integrations"]}


async def test_reset_wipes_sessions_records_and_journal(client: TestClient[Any, Any], control: Control) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await control.post("/reset")
    assert await control.journal() == []
    assert (await control.get("/integrations"))["integrations"] == []
    new = await vendor.start()
    assert new["id"] != session["id"]


async def test_records_paging_and_dataset_summary(client: TestClient[Any, Any], control: Control) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(i) for i in range(10)]}})
    await vendor.close(session["id"])
    await control.advance(2)
    window = await control.get("/integrations/acme/records/User", params={"offset": 3, "limit": 2})
    assert window["count"] == 10 and [r["employeeId"] for r in window["records"]] == ["E3", "E4"]
    assert window["applied_by_session"] == session["id"]
    assert (await control.get("/integrations/acme/records"))["datasets"] == {"User": 10}
    async with client.get("/_mock/integrations/acme/records/User", params={"limit": "-1"}) as response:
        assert response.status == 400


async def test_journal_is_a_bounded_ring_buffer(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(journal_size=5))
    vendor, control = Vendor(client), Control(client)
    for _ in range(8):
        await vendor.status()
    entries = await control.journal()
    assert len(entries) == 5 and all(e["operation"] == "integration_status" for e in entries)
    assert (await control.get("/journal"))["total_recorded"] == 8


async def test_settings_lists_every_setting_with_origin(client: TestClient[Any, Any], control: Control) -> None:
    view = await control.get("/settings")
    assert view["settings"]["inactivity_timeout_seconds"] == 3600
    origins = {item["name"]: item["origin"] for item in view["reference"]}
    assert origins["max_request_bytes"] == "doc" and origins["max_page_items"] == "mock"
    assert view["entity_types"]["User"]["key_field"] == "employeeId"


async def test_admin_token_protects_the_control_plane_only(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(admin_token="t0p"))
    async with client.get("/_mock/health") as response:
        assert response.status == 401 and (await response.json())["code"] == "admin_token_required"
    async with client.get("/_mock/health", headers={"Authorization": "Bearer t0p"}) as response:
        assert response.status == 200
        settings = await client.get("/_mock/settings", headers={"Authorization": "Bearer t0p"})
        assert (await settings.json())["settings"]["admin_token"] == "***"
    await Vendor(client).start()  # the vendor API does not need it


async def test_dashboard_is_served(client: TestClient[Any, Any]) -> None:
    async with client.get("/_mock/") as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]
        assert "mock-sprinto" in await response.text()


async def test_rate_limit_answers_429_with_exact_retry_after_and_changes_nothing(
    serve: Any, make_emulator: Any
) -> None:
    client = await serve(make_emulator(rate_limit=0.5, rate_limit_burst=2))
    vendor, control = Vendor(client), Control(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    async with client.post(
        vendor.url(f"/sessions/{session['id']}/entities"),
        headers=vendor.headers,
        json={"entities": {"User": [user(2)]}},
    ) as response:
        assert response.status == 429
        body = await response.json()
        assert response.headers["Retry-After"] == "2" and body["retry_after_seconds"] == 2
        assert response.headers["RateLimit-Limit"] == "2" and response.headers["RateLimit-Remaining"] == "0"
        assert body["code"] == "rate_limited"
    await control.advance(1)
    async with client.get(vendor.url("/status"), headers=vendor.headers) as response:
        assert response.status == 429  # half a token is not a request
    await control.advance(2)
    async with client.get(vendor.url("/status"), headers=vendor.headers) as response:
        assert response.status == 200 and response.headers["RateLimit-Remaining"] == "0"
        assert response.headers["RateLimit-Reset"] == "3"  # 1.5 tokens short of full, 0.5 a second
    status, body = await vendor.call("GET", f"/sessions/{session['id']}")
    assert (status, body["retry_after_seconds"]) == (429, 1)  # half refilled: one more second
    await control.advance(1)
    state = await vendor.session(session["id"])
    assert state["accepted_records_total"] == 1  # the throttled push staged nothing
    await control.advance(2)
    events = [
        i["type"] for i in (await (await client.get(vendor.url("/activity"), headers=vendor.headers)).json())["items"]
    ]
    assert events.count("rate_limited") >= 2


async def test_answered_errors_leave_no_request_for_the_collector_to_free(serve: Any, make_emulator: Any) -> None:
    """A throttled (429) or refused request is freed as soon as it is answered: its error's frames,
    which hold the request, its headers and its body, do not wait in a cycle for a full
    collection (a day of throttled clients made thousands of them; issue 21's soak: 24-69 ms
    collections freeing them)."""
    import gc

    from aiohttp import web

    client = await serve(make_emulator(rate_limit=0.001, rate_limit_burst=1))
    vendor = Vendor(client)
    session = await vendor.start()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            status, _body = await vendor.call("GET", f"/sessions/{session['id']}")  # throttled
            assert status == 429
            async with client.get(vendor.url("/status"), headers={"api-key": "not-its-key"}) as response:
                assert response.status == 401
        gc.collect()
        left = [each for each in gc.garbage if isinstance(each, (ApiError, web.BaseRequest))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


async def test_integration_settings_win_over_its_scenario_and_outlast_it(client: TestClient[Any, Any]) -> None:
    async with client.put("/_mock/integrations/acme/scenario", json="strict-limits") as response:
        assert response.status == 200
    async with client.put("/_mock/integrations/acme/settings", json={"max_page_items": 20}) as response:
        view = await response.json()
        assert view["overrides"] == {"max_page_items": 20} and view["effective"]["max_page_items"] == 20
        assert view["effective"]["inactivity_timeout_seconds"] == 300  # still the scenario's
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(i) for i in range(15)]}})
    async with client.put("/_mock/integrations/acme/scenario", json="default") as response:
        assert response.status == 200
    view = await (await client.get("/_mock/integrations/acme/settings")).json()
    assert view["effective"]["max_page_items"] == 20 and view["effective"]["inactivity_timeout_seconds"] == 3600
    async with client.delete("/_mock/integrations/acme/settings") as response:
        assert response.status == 204
    assert (await (await client.get("/_mock/integrations/acme/settings")).json())["effective"]["max_page_items"] == 100


async def test_integration_settings_refuse_unknown_and_server_wide_ones(client: TestClient[Any, Any]) -> None:
    async with client.put(
        "/_mock/integrations/acme/settings", json={"port": 1, "max_page_itmes": 2, "rate_limit": "fast"}
    ) as response:
        body = await response.json()
    assert response.status == 400 and body["code"] == "invalid_parameter"
    assert sorted(e["setting"] for e in body["errors"]) == ["max_page_itmes", "port", "rate_limit"]
    async with client.get("/_mock/integrations/acme/settings") as response:  # a refused write made nothing
        assert response.status == 404 and (await response.json())["code"] == "integration_not_found"
    async with client.put("/_mock/integrations/acme/settings", json={"port": 1}) as response:
        assert response.status == 400
    async with client.put("/_mock/integrations/acme/settings", json={}) as response:
        assert response.status == 200
    assert (await (await client.get("/_mock/integrations/acme/settings")).json())["overrides"] == {}


async def test_settings_beyond_exact_json_integers_are_refused_not_a_500(client: TestClient[Any, Any]) -> None:
    huge = 2**64 - 1  # parses as JSON, but no emulator limit needs it and it cannot be shown back
    async with client.put("/_mock/integrations/acme/settings", json={"max_request_bytes": huge}) as response:
        assert response.status == 400
    scenario = {"name": "huge", "settings": {"max_staged_bytes": huge}}
    async with client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 400
    async with client.get("/_mock/integrations/acme/settings") as response:
        assert response.status == 404  # the refused writes made nothing to show


async def test_journal_holds_vendor_api_requests_only(client: TestClient[Any, Any], control: Control) -> None:
    for path in ("/favicon.ico", "/_mock/health", "/api/external/push/v1/nope"):
        async with client.get(path):
            pass
    entries = await control.journal()
    assert [(e["path"], e["status"], e["code"]) for e in entries] == [("/api/external/push/v1/nope", 404, "not_found")]


async def test_settings_say_which_layer_set_each_value(make_emulator: Any, serve: Any, registry: Any) -> None:
    from mock_sprinto.settings import load_config

    config = load_config(env={"MOCK_SPRINTO_PROCESSING_SECONDS": "0"}, cli={"rate_limit": "5"})
    emulator = Emulator(config, registry)
    control = Control(await serve(emulator))
    sources = (await control.get("/settings"))["sources"]
    assert (sources["processing_seconds"], sources["rate_limit"], sources["max_page_items"]) == (
        "environment",
        "flag",
        "default",
    )
    await control.client.put(
        "/_mock/integrations/acme/scenario", json={"name": "s", "settings": {"max_page_items": 10}}
    )
    await control.client.put("/_mock/integrations/acme/settings", json={"inactivity_timeout_seconds": 60})
    layered = (await control.get("/integrations/acme/settings"))["sources"]
    assert layered["inactivity_timeout_seconds"] == "integration"
    assert layered["max_page_items"] == "scenario"
    assert layered["processing_seconds"] == "environment"


async def test_reset_lets_go_of_the_urls_the_requests_were_parsed_into(
    client: TestClient[Any, Any], control: Control
) -> None:
    """yarl keeps the last 128 URLs aiohttp's parser built; made during a run between short-lived
    objects, they kept ~30 otherwise empty 1 MiB heap arenas alive after a reset (issue 21)."""
    import yarl._url as yarl_url

    vendor = Vendor(client)
    session = await vendor.start()
    for number in range(5):
        await vendor.push(session["id"], {"entities": {"User": [user(number)]}})
    assert yarl_url.build_pre_encoded_url.cache_info().currsize > 0
    await control.post("/reset")
    # the reset's own request line is parsed before the reset: at most it stays
    assert yarl_url.build_pre_encoded_url.cache_info().currsize <= 1
    assert yarl_url.pre_encoded_url.cache_info().currsize <= 1


async def test_a_routes_first_request_builds_nothing_that_outlives_it(
    client: TestClient[Any, Any], control: Control
) -> None:
    """aiohttp builds a handler's middleware chain on its first request and keeps it. Built by the
    first reset after a long run, between the run's short-lived objects, its pieces kept ~8 otherwise
    empty 1 MiB pymalloc arenas alive after the reset (issue 21): every route's chain is built at
    start instead."""
    from aiohttp import web_app

    chains = getattr(web_app, "_cached_build_middleware", None)
    if chains is None:
        pytest.skip("this aiohttp keeps no middleware chains")
    built = chains.cache_info().misses
    await control.post("/reset")
    await control.get("/integrations")
    assert chains.cache_info().misses == built


async def test_a_refused_write_to_an_unseen_integration_makes_nothing(control: Control) -> None:
    """A clock step refused (too far, backwards, out of range) made the integration it named anyway:
    an empty tenant, counted against the integration limit, that a read then found."""
    refusals = [
        ("/integrations/ghost/clock/set", {"now": "2199-01-01T00:00:00Z"}, 409),
        ("/integrations/ghost/clock/set", {"now": "2001-01-01T00:00:00Z"}, 409),
        ("/integrations/ghost/clock/advance", {"seconds": -5}, 400),
    ]
    for path, body, status in refusals:
        await control.post(path, body, expect=status)
        await control.get("/integrations/ghost", expect=404)
    await control.post("/integrations/ghost/clock/advance", {"seconds": 5})  # a write that is done makes it
    assert (await control.get("/integrations/ghost"))["id"] == "ghost"


async def test_a_read_at_the_integration_limit_is_404_not_403(serve: Any, make_emulator: Any) -> None:
    """Only a write can meet the integration limit: the OpenAPI listed 403 ``integration_limit`` for
    every control read (and for removing a scenario or settings), which a read never answers.
    Every such route is tried here, and the contract watcher holds each answer to the document."""
    import yaml

    from mock_sprinto.resources import schemas_dir

    client = await serve(make_emulator(max_integrations=1))
    control = Control(client)
    await control.post("/integrations", {"id": "one"}, expect=201)
    paths = yaml.safe_load((schemas_dir() / "openapi.yaml").read_text())["paths"]
    tried = 0
    for path, item in paths.items():
        if not path.startswith("/_mock/integrations/{integration_id}"):
            continue
        for method in ("get", "delete"):
            if method not in item or path == "/_mock/integrations/{integration_id}/overview":
                continue
            assert "403" not in item[method]["responses"], f"{method.upper()} {path}"
            url = (
                path.replace("{integration_id}", "ghost")
                .replace("{session_id}", "ses_1")
                .replace("{entity_type}", "User")
            )
            async with client.request(method.upper(), url) as response:
                assert response.status == (204 if method == "delete" else 404), f"{method.upper()} {path}"
            tried += 1
    assert tried == 14
    await control.get("/integrations/ghost", expect=404)  # and none of them made it


async def test_a_docs_page_is_found_by_its_file_name_too(client: TestClient[Any, Any]) -> None:
    # /_mock/docs/container.md was 404: a checkout shows the file's name, and a newcomer types it.
    async with client.get("/_mock/docs/container") as by_name, client.get("/_mock/docs/container.md") as by_file:
        assert (by_name.status, by_file.status) == (200, 200)
        assert await by_name.text() == await by_file.text()
    async with client.get("/_mock/docs/nope.md") as missing:
        assert missing.status == 404 and "no docs page named 'nope.md'" in (await missing.json())["detail"]
