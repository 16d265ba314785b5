"""The control plane, from a review: setting the clock to the time it shows, a misspelled query
parameter on a control read, the records of a type that does not exist, the journal after a reset."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.clock import ManualClock
from mock_sprinto.http import create_app
from mock_sprinto.http.openapi import build_document
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user

# ---- the clock set to the time it shows ------------------------------------------------------------


@pytest.mark.parametrize("clock_path", ["/clock", "/integrations/acme/clock"])
async def test_a_clock_set_to_the_time_it_shows_stays_where_it_is(
    clock_path: str, clock: ManualClock, control: Control
) -> None:
    await Vendor(control.client).start()  # acme exists: its clock can be read
    clock.advance(0.000_456_7)  # inside a millisecond: the clock shows 00:00:00.000Z
    shown = await control.get(clock_path)
    assert shown["now"] == "2026-01-01T00:00:00.000Z"

    answer = await control.post(clock_path + "/set", {"now": shown["now"]})  # was 409 clock_backwards
    assert answer == shown  # as a set to now: the clock stays where it stands
    assert await control.post(clock_path + "/set", {"now": "2026-01-01T00:00:00.000200Z"}) == shown


async def test_a_clock_set_a_millisecond_before_the_time_it_shows_is_still_backwards(
    clock: ManualClock, client: TestClient[Any, Any]
) -> None:
    clock.advance(1.000_456_7)
    async with client.post("/_mock/clock/set", json={"now": "2026-01-01T00:00:00.999Z"}) as response:
        body = await response.json()
    assert (response.status, body["code"]) == (409, "clock_backwards")
    assert body["detail"].endswith("2026-01-01T00:00:00.999Z is before 2026-01-01T00:00:01.000Z")


# ---- a query parameter a control read does not read ---------------------------------------------------


async def _refusal(client: TestClient[Any, Any], path: str, **params: str) -> tuple[int, Any]:
    async with client.get("/_mock" + path, params=params) as response:
        return response.status, await response.json(content_type=None) if response.status >= 400 else None


async def test_a_misspelled_journal_filter_is_refused_not_read_as_no_filter(client: TestClient[Any, Any]) -> None:
    for integration in ("a", "b"):
        await Vendor(client, integration, "k").status()
    status, body = await _refusal(client, "/journal", integration="a")  # was every integration's requests
    assert (status, body["code"], body["parameter"]) == (400, "invalid_parameter", "integration")
    assert body["detail"] == (
        "unknown query parameter 'integration'; did you mean 'integration_id'? "
        "(this call reads integration_id, operation, status, limit)"
    )
    status, body = await _refusal(client, "/journal.har", integrationId="a", operaton="push_page")
    assert (status, body["parameter"]) == (400, "integrationId")
    assert (await Control(client).journal(integration_id="a"))[0]["integration_id"] == "a"  # spelled right: read


async def test_a_misspelled_records_limit_is_refused(client: TestClient[Any, Any]) -> None:
    await Vendor(client).start()
    status, body = await _refusal(client, "/integrations/acme/records/User", limt="0")  # was every record
    assert (status, body["parameter"]) == (400, "limt")
    assert "; did you mean 'limit'? (this call reads offset, limit)" in body["detail"]


def _control_reads(emulator: Emulator) -> list[str]:
    """Every read under /_mock the server serves."""
    app = create_app(emulator)
    return sorted(
        route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource and route.resource.canonical.startswith("/_mock")
    )


def _concrete(path: str, session_id: str) -> str:
    return (
        path.replace("{integration_id}", "acme")
        .replace("{session_id}", session_id)
        .replace("{entity_type}", "User")
        .replace("{page}", "pytest")
        .removeprefix("/_mock")
    )


async def test_every_control_read_takes_the_parameters_its_operation_lists_and_refuses_any_other(
    client: TestClient[Any, Any], emulator: Emulator
) -> None:
    session_id = (await Vendor(client).start())["id"]
    document = build_document(emulator.registry, emulator.settings)
    for path in _control_reads(emulator):
        operation = document["paths"][path]["get"]
        listed = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
        status, body = await _refusal(client, _concrete(path, session_id), stray="1")
        assert (status, body["code"], body["parameter"]) == (400, "invalid_parameter", "stray"), path
        reads = body["detail"].rsplit("(this call reads ", 1)[1].removesuffix(")")
        assert set(reads.split(", ")) == (set(listed) or {"no query parameter"}), (path, reads)
        for name in listed:  # each one the document lists is read, not refused as unknown (its value may be)
            status, body = await _refusal(client, _concrete(path, session_id), **{name: "1"})
            assert status < 400 or not body["detail"].startswith("unknown query parameter"), (path, name, body)


async def test_the_dashboard_reads_its_journal_and_overview_with_the_parameters_it_sends(
    client: TestClient[Any, Any], control: Control
) -> None:
    """The calls dashboard.js makes, as it makes them (a refusal would blank its cards)."""
    await Vendor(client).start()
    overview = await control.get("/integrations/acme/overview?offset=0&limit=20&sessions=20&entity_type=User")
    assert overview["exists"] is True
    assert await control.get("/integrations/acme/overview?limit=1&sessions=0&pages=0")
    assert await control.get("/journal?limit=100&integration_id=acme&operation=start_session&status=201")
    async with client.get("/_mock/journal.har?integration_id=acme&operation=start_session&status=201") as response:
        assert response.status == 200


# ---- the records of a type that does not exist ----------------------------------------------------------


async def _applied(client: TestClient[Any, Any], entities: dict[str, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": entities})
    await vendor.close(session["id"])
    await Control(client).advance(2)


@pytest.mark.parametrize("typed", ["user", "USER", "Usr"])
async def test_the_records_of_a_type_neither_applied_nor_known_are_not_found(
    typed: str, client: TestClient[Any, Any]
) -> None:
    await _applied(client, {"User": [user(1)], "Device": [{"serial": "d1"}]})
    async with client.get(f"/_mock/integrations/acme/records/{typed}") as response:  # was 200, no records
        body = await response.json()
    assert (response.status, body["code"]) == (404, "entity_type_not_found")
    assert body["detail"] == (
        f"integration 'acme' has no records of type {typed!r}, and no schema names it; did you mean 'User'? "
        "(applied: Device, User; known: User)"
    )


async def test_the_records_of_a_known_type_never_applied_are_none_and_of_an_applied_one_are_read(
    client: TestClient[Any, Any], control: Control
) -> None:
    await Vendor(client).status()  # acme exists, nothing applied
    empty = await control.get("/integrations/acme/records/User")
    assert (empty["count"], empty["records"], empty["key_field"]) == (0, [], "employeeId")
    await _applied(client, {"Device": [{"serial": "d1"}]})  # no schema, applied: its records are read
    assert await control.records("acme", "Device") == [{"serial": "d1"}]


async def test_the_records_of_a_type_sent_but_not_applied_yet_are_none(client: TestClient[Any, Any]) -> None:
    """pytest.md: ``records(entity_type)`` is empty until a session is processed, for a type no
    schema names too (``Device``), once a session of the integration was sent it."""
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"Device": [{"serial": "d1"}]}})
    async with client.get("/_mock/integrations/acme/records/Device") as response:
        body = await response.json()
    assert (response.status, body["count"], body["records"]) == (200, 0, [])
    async with client.get("/_mock/integrations/acme/records/Devices") as response:
        assert response.status == 404


# ---- the journal after a reset ------------------------------------------------------------------------


async def test_a_reset_starts_the_journal_afresh(client: TestClient[Any, Any], control: Control) -> None:
    vendor = Vendor(client)
    for _ in range(3):
        await vendor.status()
    assert (await control.get("/journal"))["total_recorded"] == 3
    await control.post("/reset")
    assert await control.get("/journal") == {"entries": [], "total_recorded": 0}  # was total_recorded 3
    await vendor.status()
    journal = await control.get("/journal")
    assert (len(journal["entries"]), journal["total_recorded"]) == (1, 1)


# ---- what no client could send, and times in Python's words (a hostile-input review) -------------


@pytest.mark.parametrize(
    ("api_key", "said"),
    [
        ("a\u0000b", "control character"),
        ("a\r\nX-Evil: 1", "control character"),
        (" key", "white space"),
        ("key\t", "white space"),
        ("k" * 513, "at most 512 characters"),
    ],
)
async def test_an_api_key_no_client_could_send_is_refused(
    api_key: str, said: str, client: TestClient[Any, Any], control: Control
) -> None:
    """Before: 201, and an integration no request could ever call (HTTP refuses a control character
    in a header and strips the white space around its value); a 513-character key was said to be
    "not a non-empty string"."""
    async with client.post("/_mock/integrations", json={"id": "bad-key", "api_key": api_key}) as response:
        body = await response.json()
    assert (response.status, body["code"], body["parameter"]) == (400, "invalid_parameter", "api_key")
    assert said in body["detail"]
    assert "bad-key" not in {item["id"] for item in (await control.get("/integrations"))["integrations"]}


@pytest.mark.parametrize("since", ["2026-01-01T00:00:00+24:00", "99999-01-01T00:00:00Z", "2026-13-01T00:00:00Z"])
async def test_a_time_python_cannot_read_is_refused_in_the_emulators_words(
    since: str, client: TestClient[Any, Any]
) -> None:
    """Before: "offset must be a timedelta strictly between -timedelta(hours=24) and ..." and
    "Invalid isoformat string", Python's words for its internals."""
    await Vendor(client).status()  # acme exists
    url = "/api/external/push/v1/integrations/acme/activity"
    async with client.get(url, params={"since": since}, headers={"api-key": "key-1"}) as response:
        body = await response.json()
    assert (response.status, body["parameter"]) == (400, "since")
    assert body["detail"] == (
        "'since' must be an RFC 3339 time such as 2026-01-01T00:00:00Z "
        "(a year of 4 digits, a real date and time, a UTC offset between -23:59 and +23:59)"
    )
