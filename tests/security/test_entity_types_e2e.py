"""max_page_entity_types end to end: a page naming more types than the setting is refused, early and bounded."""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from ..helpers import Vendor, user

JSON = {"Content-Type": "application/json"}


def _types(count: int, **records: list[Any]) -> bytes:
    return orjson.dumps({"entities": {**{f"T{i}": [] for i in range(count)}, **records}})


async def test_a_page_naming_too_many_types_is_refused_and_keeps_a_bounded_record(
    serve: Any, make_emulator: Any
) -> None:
    """Before: 101 types and a record were accepted (101 counts in the answer); a million empty types
    were refused empty_page after a parse, keeping a million counts on the session."""
    emulator = make_emulator()
    client = await serve(emulator)
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    refused = await vendor.push(session["id"], None, 400, data=_types(100, User=[user(1)]), headers=JSON)
    assert refused["code"] == "too_many_entity_types" and refused["setting"] == "max_page_entity_types"
    assert "names 101" in refused["detail"] and refused["accepted_count_by_entity"] == {}
    big = gzip.compress(_types(1_000_000))
    refused = await vendor.push(session["id"], None, 400, data=big, headers={**JSON, "Content-Encoding": "gzip"})
    assert (
        refused["code"] == "too_many_entity_types" and "101 type names read" in refused["validation_errors"][0]["issue"]
    )
    pages = emulator.tenants["acme"].sessions[session["id"]].rejected_pages
    assert [page.counts for page in pages] == [{}, {}]
    async with client.get("/_mock/integrations/acme/overview") as response:
        assert len(await response.read()) < 100_000
    accepted = await vendor.push(session["id"], None, 202, data=_types(99, User=[user(1)]), headers=JSON)
    assert len(accepted["accepted_count_by_entity"]) == 100 and accepted["accepted_count_by_entity"]["T0"] == 0
    assert (await vendor.session(session["id"]))["accepted_batches"] == 1


async def test_null_lifts_the_limit(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(max_page_entity_types=None))
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    accepted = await vendor.push(session["id"], None, 202, data=_types(500, User=[user(1)]), headers=JSON)
    assert len(accepted["accepted_count_by_entity"]) == 501
