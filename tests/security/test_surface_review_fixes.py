"""The surface review's findings (its scripts: pages naming a million entity types, a record nested
past what orjson writes, an absolute-form target without a Host header, two refusals' messages):
each test was written to fail on the code before its fix."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from mock_sprinto.budget import PAGE_BYTES, approx_bytes
from mock_sprinto.clock import ManualClock
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.validation import SchemaRegistry

from ..helpers import API, Vendor, user
from . import rawhttp

JSON = {"Content-Type": "application/json"}


def _page_of_depth(depth: int) -> bytes:
    """A page nested ``depth`` deep: its one record (at depth 4) holds arrays nested ``depth - 4`` deep."""
    inner = depth - 4
    return b'{"entities":{"Thing":[{"a":' + b"[" * inner + b"]" * inner + b"}]}}"


def _address(client: Any) -> tuple[str, int]:
    return client.server.host, client.server.port


def _types(count: int, **records: list[Any]) -> bytes:
    """A page naming ``count`` entity types T0, T1, ... with no records, and ``records`` by type."""
    return orjson.dumps({"entities": {**{f"T{i}": [] for i in range(count)}, **records}})


async def _held(client: Any) -> int:
    async with client.get("/_mock/health") as response:
        held: int = (await response.json())["memory"]["held_bytes"]
        return held


# ---- 1. what a page keeps of its counts is counted in the memory budget ---------------------------
async def test_a_refused_page_naming_many_types_counts_what_its_record_keeps(serve: Any, make_emulator: Any) -> None:
    """Before: a page of 5,000 empty types (the limit lifted) kept a 5,000-key dict on its session
    while ``held_bytes`` grew by ~4 KB; 8 pages of a million types took 798 MiB under a 64 MiB budget."""
    emulator = make_emulator(max_page_entity_types=None)
    client = await serve(emulator)
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    before = await _held(client)
    refused = await vendor.push(
        session["id"], None, 400, data=_types(5_000), headers={"Content-Type": "application/json"}
    )
    assert refused["code"] == "empty_page"
    counts = approx_bytes({f"T{i}": 0 for i in range(5_000)})  # what the page's record keeps of them
    grown = await _held(client) - before
    assert grown >= PAGE_BYTES + counts * 0.95, (grown, counts)
    page = emulator.tenants["acme"].sessions[session["id"]].rejected_pages[-1]
    assert page.counts and page.kept >= counts * 0.95


async def test_a_page_record_the_budget_cannot_hold_is_left_to_the_journal(serve: Any, make_emulator: Any) -> None:
    """Before: under a 64 KiB budget the 5,000 counts were kept all the same, uncounted."""
    emulator = make_emulator(max_page_entity_types=None, memory_budget_bytes=65_536)
    client = await serve(emulator)
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    data = _types(5_000)
    assert len(data) < 65_536 // 32 * 31  # the page itself fits: what it would keep does not
    await vendor.push(session["id"], None, 400, data=data, headers={"Content-Type": "application/json"})
    assert list(emulator.tenants["acme"].sessions[session["id"]].rejected_pages) == []
    assert await _held(client) <= 65_536
    async with client.get("/_mock/journal") as response:
        assert (await response.json())["entries"][-1]["code"] == "empty_page"


# ---- 2. max_json_depth is bounded by what orjson writes; an apply that cannot be built fails -----
async def test_max_json_depth_above_what_the_server_can_write_is_refused(client: Any) -> None:
    """Before: 400 was taken, and a record nested 300 deep then broke its apply with a 500."""
    from mock_sprinto.settings import MAX_JSON_DEPTH

    await Vendor(client, "deep", "k").start()
    async with client.put("/_mock/integrations/deep/settings", json={"max_json_depth": 400}) as response:
        problem = await response.json()
        assert response.status == 400, problem
        assert f"at most {MAX_JSON_DEPTH}" in orjson.dumps(problem).decode()
    async with client.put("/_mock/integrations/deep/settings", json={"max_json_depth": MAX_JSON_DEPTH}) as response:
        assert response.status == 200


async def test_a_record_as_deep_as_the_bound_allows_is_applied_and_read_back(serve: Any, make_emulator: Any) -> None:
    from mock_sprinto.settings import MAX_JSON_DEPTH

    client = await serve(make_emulator(max_json_depth=MAX_JSON_DEPTH, processing_seconds=0))
    vendor = Vendor(client, "deep", "k")
    session = await vendor.start()
    await vendor.push(session["id"], None, 202, data=_page_of_depth(MAX_JSON_DEPTH), headers=JSON)
    too_deep = _page_of_depth(MAX_JSON_DEPTH + 1)
    refused = await vendor.push(session["id"], None, 400, data=too_deep, headers=JSON)
    assert f"deeper than {MAX_JSON_DEPTH} levels" in refused["detail"]
    await vendor.close(session["id"])
    assert (await vendor.session(session["id"]))["state"] == "processed"
    async with client.get("/_mock/integrations/deep/records/Thing") as response:
        assert response.status == 200 and len((await response.json())["records"]) == 1
    async with client.get("/_mock/integrations/deep/state") as response:  # a bundle wraps it deeper still
        assert response.status == 200
        await response.read()


def _unbounded(registry: SchemaRegistry, clock: ManualClock, **values: Any) -> Emulator:
    """An emulator whose max_json_depth went past the bound (as no setting can now): the apply's
    own defence is what is tested."""
    settings = dataclasses.replace(Settings(), **values)
    return Emulator(Config(settings, ()), registry, clock)


async def test_an_apply_that_cannot_be_built_fails_its_attempts_instead_of_answering_500(
    serve: Any, registry: SchemaRegistry, clock: ManualClock
) -> None:
    """Before: the apply's orjson.dumps raised 'Recursion limit reached': 500 on the request that made
    processing due, and the session stayed processing for ever."""
    client = await serve(_unbounded(registry, clock, max_json_depth=400, processing_seconds=1))
    vendor = Vendor(client, "deep", "k")
    session = await vendor.start()
    deep = b'{"entities":{"Thing":[{"a":' + b"[" * 300 + b"]" * 300 + b"}]}}"
    await vendor.push(session["id"], None, 202, data=deep, headers={"Content-Type": "application/json"})
    await vendor.close(session["id"])
    clock.advance(1)
    retried = await vendor.session(session["id"])
    assert retried["state"] == "processing" and retried["retry_count"] == 1
    clock.advance(1)
    failed = await vendor.session(session["id"])
    assert failed["state"] == "failed", failed
    assert "cannot be written as JSON" in failed["last_error"] and "nothing was applied" in failed["last_error"]
    assert (await vendor.start())["state"] == "active"  # the integration goes on


async def test_a_large_apply_built_ahead_that_cannot_be_built_fails_cleanly(
    serve: Any, registry: SchemaRegistry, clock: ManualClock
) -> None:
    """The apply built in slices by the close itself (processing_seconds 0, more records than a slice)."""
    client = await serve(_unbounded(registry, clock, max_json_depth=400, processing_seconds=0))
    vendor = Vendor(client, "deep", "k")
    session = await vendor.start()
    for page in range(25):
        await vendor.push(session["id"], {"entities": {"User": [user(page * 100 + i) for i in range(100)]}})
    deep = b'{"entities":{"Thing":[{"a":' + b"[" * 300 + b"]" * 300 + b"}]}}"
    await vendor.push(session["id"], None, 202, data=deep, headers={"Content-Type": "application/json"})
    await vendor.close(session["id"])
    failed = await vendor.session(session["id"])
    assert failed["state"] == "failed" and "cannot be written as JSON" in failed["last_error"], failed
    async with client.get("/_mock/integrations/deep/records/User") as response:
        assert (await response.json())["count"] == 0  # nothing was applied


# ---- 3. an absolute-form target naming a foreign host, without a Host header -------------------
async def test_an_absolute_form_target_without_a_host_header_is_421(client: Any) -> None:
    """Before: HTTP/1.0 with no Host served 'GET http://evil.example/_mock/health' (200) and created an
    integration on 'POST http://evil.example/_mock/integrations' (201)."""
    address = _address(client)
    body = b'{"id":"absfm"}'
    for data in (
        b"GET http://evil.example/_mock/health HTTP/1.0\r\n\r\n",
        b"POST http://evil.example/_mock/integrations HTTP/1.0\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
        f"GET http://evil.example{API}/acme/status HTTP/1.0\r\napi-key: k\r\n\r\n".encode(),
    ):
        answer = await rawhttp.request(*address, data)
        assert answer.status == 421 and answer.json()["code"] == "host_not_allowed", (data, answer)
        assert "evil.example" in answer.json()["detail"]
    async with client.get("/_mock/integrations") as response:
        assert (await response.json())["integrations"] == []
    port = client.server.port
    for target in (f"http://127.0.0.1:{port}/_mock/health", f"http://localhost:{port}/_mock/health"):
        answer = await rawhttp.request(*address, f"GET {target} HTTP/1.0\r\n\r\n".encode())
        assert answer.status == 200, (target, answer)
    answer = await rawhttp.request(*address, b"GET /_mock/health HTTP/1.0\r\n\r\n")  # no Host, origin-form
    assert answer.status == 200


async def test_an_absolute_form_target_naming_ipv6_loopback_is_served(client: Any) -> None:
    """Its host as yarl gives it, '::1', read as a Host header is no name (':' and a port): 421."""
    port = client.server.port
    data = rawhttp.build("GET", f"http://[::1]:{port}/_mock/health", host=f"[::1]:{port}".encode())
    assert (await rawhttp.request(*_address(client), data)).status == 200


# ---- 4. messages --------------------------------------------------------------------------------
async def test_a_page_deeper_than_orjson_reads_says_the_limit_and_the_setting(vendor: Vendor) -> None:
    """Before: 'nesting is deeper than allowed', with no number and no setting."""
    session = await vendor.start()
    deep = b'{"entities":{"Thing":[{"a":' + b"[" * 1100 + b"]" * 1100 + b"}]}}"
    problem = await vendor.push(session["id"], None, 400, data=deep, headers={"Content-Type": "application/json"})
    assert problem["code"] == "malformed_body" and problem["setting"] == "max_json_depth"
    assert "deeper than 64 levels" in problem["detail"] and "max_json_depth" in problem["detail"]


async def test_a_cross_site_refusal_names_no_setting(client: Any) -> None:
    """Before: the 403 said "setting": "allowed_hosts", which does not govern that check."""
    async with client.post("/_mock/reset", headers={"Origin": "http://evil.example"}) as response:
        problem = await response.json()
    assert response.status == 403 and problem["code"] == "cross_site_request"
    assert "setting" not in problem
