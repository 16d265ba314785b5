"""Hostile input on the wire gets a clear problem object and nothing else: bytes that are not
UTF-8 in a header, repeated credentials, loose framing and loose numbers (issue 11, items 1, 11)."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest

from ..helpers import API, Vendor, user
from . import rawhttp

NOT_UTF8 = b"\xff\xfe-key"


def _address(client: Any) -> tuple[str, int]:
    return client.server.host, client.server.port


async def _raw(client: Any, data: bytes) -> rawhttp.RawResponse:
    return await rawhttp.request(*_address(client), data)


# ---- item 1: api-key and Authorization bytes that are not UTF-8 ------------------------------
async def test_an_api_key_that_is_not_utf8_is_refused_and_never_binds_the_integration(client: Any) -> None:
    answer = await _raw(client, rawhttp.build("POST", f"{API}/fresh/sessions", [(b"api-key", NOT_UTF8)]))
    assert answer.status == 401, answer
    assert answer.json()["code"] == "malformed_api_key"
    assert "x-request-id" in answer.headers
    # The integration was not bound to it: the first real key still binds, and every later
    # request to that integration is answered normally (before the fix: 500 until a reset).
    await Vendor(client, "fresh", "real-key").start()
    await Vendor(client, "fresh", "real-key").status()
    answer = await _raw(client, rawhttp.build("GET", f"{API}/fresh/status", [(b"api-key", NOT_UTF8)]))
    assert answer.status == 401 and answer.json()["code"] == "malformed_api_key"
    async with client.get("/_mock/journal") as response:
        statuses = [entry["status"] for entry in (await response.json())["entries"]]
    assert 500 not in statuses and statuses.count(401) == 2


async def test_a_non_utf8_authorization_header_is_a_401_not_a_500(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(admin_token="tok"))
    for value in (b"Bearer \xff\xfe", b"\xc3\x28", b"Bearer tok\x80"):
        answer = await _raw(client, rawhttp.build("POST", "/_mock/reset", [(b"Authorization", value)]))
        assert answer.status == 401, (value, answer)
        assert answer.json()["code"] == "admin_token_required"
        assert answer.headers["www-authenticate"] == "Bearer"


# ---- item 11: loose parsing ----------------------------------------------------------------------
async def test_two_api_key_headers_are_refused_whichever_comes_first(client: Any) -> None:
    await Vendor(client, "acme", "right").start()
    for pair in ((b"right", b"wrong"), (b"wrong", b"right"), (b"right", b"right")):
        headers = [(b"api-key", pair[0]), (b"api-key", pair[1])]
        answer = await _raw(client, rawhttp.build("GET", f"{API}/acme/status", headers))
        assert answer.status == 401, (pair, answer)
        assert answer.json()["code"] == "malformed_api_key"
        assert "twice" in answer.json()["detail"]


async def test_a_transfer_coding_other_than_chunked_is_refused(client: Any) -> None:
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    page = orjson.dumps({"entities": {"User": [user(1)]}})
    chunked = hex(len(page))[2:].encode() + b"\r\n" + page + b"\r\n0\r\n\r\n"
    for coding in (b"gzip, chunked", b"deflate, chunked", b"identity, chunked"):
        headers = [(b"api-key", b"k"), (b"Content-Type", b"application/json"), (b"Transfer-Encoding", coding)]
        data = rawhttp.build("POST", f"{API}/acme/sessions/{session['id']}/entities", headers, length=False)
        answer = await _raw(client, data + chunked)
        assert answer.status == 400, (coding, answer)
        assert answer.json()["code"] == "unsupported_transfer_encoding"
    # aiohttp's parser refuses these itself, before any handler runs: the same documented answer
    for coding in (b"gzip", b"identity", b"compress", b"chunked, gzip"):
        headers = [(b"api-key", b"k"), (b"Content-Type", b"application/json"), (b"Transfer-Encoding", coding)]
        data = rawhttp.build("POST", f"{API}/acme/sessions/{session['id']}/entities", headers, length=False)
        answer = await _raw(client, data + chunked)
        assert answer.status == 400, (coding, answer)
        problem = answer.json()
        assert problem["code"] == "unsupported_transfer_encoding", (coding, problem)
        assert "only 'chunked' is" in problem["detail"]
    # plain chunked is fine
    headers = [(b"api-key", b"k"), (b"Content-Type", b"application/json"), (b"Transfer-Encoding", b"chunked")]
    data = rawhttp.build("POST", f"{API}/acme/sessions/{session['id']}/entities", headers, length=False)
    assert (await _raw(client, data + chunked)).status == 202


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_trailing_garbage_after_a_compressed_body_is_refused_alike(client: Any, encoding: str) -> None:
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    page = orjson.dumps({"entities": {"User": [user(1)]}})
    packed = gzip.compress(page) if encoding == "gzip" else zlib.compress(page)
    headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
    body = await vendor.push(session["id"], None, 400, data=packed + b"garbage!", headers=headers)
    assert body["code"] == "malformed_body"
    await vendor.push(session["id"], None, 202, data=packed + b"\x00\x00", headers=headers)  # NUL padding is fine
    await vendor.push(session["id"], None, 202, data=packed, headers=headers)


LOOSE_NUMBERS = ["١", "+5", " 5", "5 ", "1_0", "٣", "0x1", "1e2", "-0", "²"]


@pytest.mark.parametrize("raw", LOOSE_NUMBERS)
async def test_query_numbers_are_ascii_digits_only(client: Any, raw: str) -> None:
    vendor = Vendor(client, "acme", "k")
    await vendor.start()
    for name in ("page", "page_size"):
        status, body = await vendor.call("GET", "/activity", params={name: raw})
        assert status == 400, (name, raw, body)
        assert body["code"] == "invalid_parameter" and body["parameter"] == name
    for path, name in (
        ("/_mock/journal", "limit"),
        ("/_mock/integrations/acme/records/User", "offset"),
        ("/_mock/integrations/acme/records/User", "limit"),
    ):
        async with client.get(path, params={name: raw}) as response:
            assert response.status == 400, (path, name, raw)
    status, _ = await vendor.call("GET", "/activity", params={"page": "2", "page_size": "007"})
    assert status == 200
