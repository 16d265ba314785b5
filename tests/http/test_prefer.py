"""Poking by hand: a `Prefer` header forces that one request's answer, never the next one's."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientOSError, ServerDisconnectedError
from aiohttp.client_exceptions import ClientPayloadError

from ..helpers import Control, Vendor, user

PAGE = {"entities": {"User": [user(1)]}}


async def test_code_and_retry_after_answer_that_request_only(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    status, body = await vendor.call(
        "POST", f"/sessions/{session['id']}/entities", 429, json=PAGE, headers={"Prefer": "code=429, retry_after=3"}
    )
    assert (status, body["code"], body["retry_after_seconds"]) == (429, "rate_limited", 3)
    async with vendor.client.post(
        vendor.url(f"/sessions/{session['id']}/entities"), json=PAGE, headers={**vendor.headers, "Prefer": "code=503"}
    ) as response:
        assert response.status == 503 and response.headers["Preference-Applied"] == "code=503"
        assert (await response.json())["code"] == "service_unavailable"
    accepted = await vendor.push(session["id"], PAGE)  # the next request is answered as usual
    assert accepted["page"] == 1  # the forced answers never ran the operation: nothing was staged
    [forced, *_] = [e for e in await control.journal(integration_id="acme") if e["rule"]]
    assert forced["rule"] == "Prefer: code=429, retry_after=3" and forced["status"] == 429


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        ("reset", ClientOSError),
        ("close", ServerDisconnectedError),
        ("truncated_body", ClientPayloadError),
        ("malformed_body", ValueError),
    ],
)
async def test_a_fault_breaks_that_connection_only(vendor: Vendor, control: Control, fault: str, raised: Any) -> None:
    with pytest.raises(raised):
        async with vendor.client.post(
            vendor.url("/sessions"), headers={**vendor.headers, "Prefer": f"fault={fault}"}
        ) as response:
            await response.json()
    session = await vendor.start()  # a fault before the operation started nothing: this start is the first
    assert session["state"] == "active"
    journal = await control.journal(integration_id="acme")
    assert journal[0]["code"] == f"transport_{fault}" and journal[0]["rule"] == f"Prefer: fault={fault}"


async def test_other_preferences_are_left_alone_and_bad_values_are_refused(vendor: Vendor) -> None:
    await vendor.start(headers={"Prefer": "return=minimal"})  # RFC 7240's own: not the emulator's
    _, body = await vendor.call("GET", "/status", 400, headers={"Prefer": "code=99"})
    assert (body["code"], body["parameter"], body["setting"]) == ("invalid_prefer", "Prefer", "prefer_header")
    _, body = await vendor.call("GET", "/status", 400, headers={"Prefer": "fault=explode"})
    assert "reset|close|truncated_body|malformed_body" in body["detail"]


async def test_the_setting_turns_it_off(make_emulator: Any, serve: Any) -> None:
    vendor = Vendor(await serve(make_emulator(prefer_header=False)))
    status, _ = await vendor.call("POST", "/sessions", 201, headers={"Prefer": "code=503"})
    assert status == 201
