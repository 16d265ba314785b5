"""Issue 22: the memory budget counts everything, and what a bad page leaves behind is bounded.

Each test here failed on the code before its fix (noted with its item)."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import orjson

from mock_sprinto.budget import PAGE_BYTES, SESSION_BYTES, TENANT_BYTES
from mock_sprinto.calls import Call
from mock_sprinto.errors import ApiError
from mock_sprinto.payload import BytesBody
from mock_sprinto.store import MAX_REJECTED_PAGES_KEPT

from ..helpers import Vendor, user


def _gzip(value: Any) -> bytes:
    return gzip.compress(orjson.dumps(value), mtime=0)


GZIP_JSON = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


# ---- item 1: a validation message never copies a huge bad value ------------------------------------
async def test_a_huge_bad_value_is_cut_in_the_answer_and_in_the_sessions_view(client: Any) -> None:
    huge = "a" * 250_000
    page = {"entities": {"User": [user(i, firstName=huge, workEmail=huge) for i in range(20)]}}
    wire = _gzip(page)
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    for _ in range(3):
        status, body = await vendor.call("POST", f"/sessions/{session['id']}/entities", data=wire, headers=GZIP_JSON)
        assert status == 400 and body["code"] == "validation_failed"
        assert len(orjson.dumps(body)) < 64_000, len(orjson.dumps(body))
        issue = next(e["issue"] for e in body["validation_errors"] if e.get("field") == "firstName")
        assert "is longer than 256 characters" in issue and len(issue) <= 300, issue
        assert "250002 characters" in issue  # what was cut is said
    async with client.get("/_mock/integrations/acme/sessions") as response:
        view = await response.read()
    assert len(view) < 100_000, len(view)
    async with client.get("/_mock/integrations/acme/activity") as response:
        assert len(await response.read()) < 100_000


async def test_huge_field_names_and_entity_types_are_cut_too(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(unknown_fields="reject"))
    name = "k" * 100_000
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    page = {"entities": {"User": [{**user(1), name: 1}], "T" * 100_000: [{}]}}
    status, body = await vendor.call("POST", f"/sessions/{session['id']}/entities", data=_gzip(page), headers=GZIP_JSON)
    assert status == 400
    assert len(orjson.dumps(body)) < 8_000, len(orjson.dumps(body))
    for error in body["validation_errors"]:
        assert all(len(str(value)) <= 600 for value in error.values()), error


# ---- low item: the records of pages, sessions and the activity log are counted --------------------
def test_the_records_of_discarded_pages_and_the_activity_log_are_counted_exactly(
    make_emulator: Any,
) -> None:
    """Before: 160,000 one-record pages discarded kept +133 MB with ``held_bytes`` 0."""
    emulator = make_emulator(activity_log_size=50)
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    good = orjson.dumps({"entities": {"User": [user(1)]}})
    bad = orjson.dumps({"entities": {"User": [user(1, workEmail="nope")]}})
    for _ in range(MAX_REJECTED_PAGES_KEPT + 20):  # past both bounds: the oldest are dropped, and uncounted
        _push(emulator, "acme", session.id, good)
        _push(emulator, "acme", session.id, bad)
    emulator.sessions.close_session(tenant, session.id, {"status": "discard"})
    assert len(session.rejected_pages) == MAX_REJECTED_PAGES_KEPT and len(tenant.activity) == 50
    records = sum(page.kept for page in [*session.accepted_pages, *session.rejected_pages])
    assert records >= (MAX_REJECTED_PAGES_KEPT + 20 + MAX_REJECTED_PAGES_KEPT) * PAGE_BYTES
    expected = TENANT_BYTES + SESSION_BYTES + records + sum(item.nbytes for item in tenant.activity)
    assert tenant.kept_bytes == expected == emulator.budget.held
    # Forgetting the session (past max_sessions_kept) gives its records back.
    emulator.refresh_settings(tenant)
    tenant.settings = tenant.settings.with_overrides({"max_sessions_kept": 1})
    second = emulator.sessions.start_session(tenant, None)
    emulator.sessions.close_session(tenant, second.id, {"status": "discard"})
    assert session.id not in tenant.sessions
    assert emulator.budget.held == TENANT_BYTES + second.kept + sum(item.nbytes for item in tenant.activity)


def _push(emulator: Any, integration: str, session_id: str, raw: bytes) -> None:
    call = Call("push_page", integration, "k", "req", time.perf_counter(), session_id=session_id)
    try:
        asyncio.run(emulator.push(call, BytesBody(raw)))
    except ApiError as error:
        assert error.code == "validation_failed"
