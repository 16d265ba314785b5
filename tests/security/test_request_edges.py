"""Issue 22, low items on the wire: a request's head is bounded in all (431), HTTP/0.9 and an
absolute-form target naming another host are refused, the admin token's scheme is case-insensitive,
and a push or close still on its way when its integration is deleted is not answered 202."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from mock_sprinto.http.server import MAX_HEADER_BYTES

from ..helpers import API, Vendor, user
from . import rawhttp


def _address(client: Any) -> tuple[str, int]:
    return client.server.host, client.server.port


async def test_headers_over_32_kib_in_all_are_431_whether_complete_or_still_arriving(client: Any) -> None:
    """Before: 128 headers of 8 KB each (~1 MB) were accepted on every request."""
    many = [(f"X-Pad-{i}".encode(), b"p" * 8000) for i in range(6)]  # each line within aiohttp's 8190
    answer = await rawhttp.request(*_address(client), rawhttp.build("GET", "/_mock/health", many))
    assert answer.status == 431 and answer.json()["code"] == "request_header_fields_too_large"
    assert str(MAX_HEADER_BYTES) in answer.json()["detail"]
    reader, writer = await asyncio.open_connection(*_address(client))
    try:
        writer.write(b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for i in range(6):  # a head trickling in, never finished: refused once past the bound
            writer.write(f"X-Pad-{i}: ".encode() + b"p" * 8000 + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)
        raw = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    assert rawhttp.parse_response(raw).status == 431
    fine = [(f"X-Pad-{i}".encode(), b"p" * 8000) for i in range(3)]
    answer = await rawhttp.request(*_address(client), rawhttp.build("GET", "/_mock/health", fine))
    assert answer.status == 200


async def test_an_http_09_request_is_refused(client: Any) -> None:
    """Before: 'GET /_mock/health' with no version and no Host was answered, past the Host check."""
    raw = await rawhttp.exchange(*_address(client), b"GET /_mock/health\r\n\r\n", timeout=5)
    assert b'"code":"malformed_request"' in raw and b" 400 " in raw.split(b"\r\n", 1)[0]


async def test_an_absolute_form_target_naming_another_host_is_421(client: Any) -> None:
    """Before: 'GET http://evil.example/_mock/health' with a loopback Host was served."""
    for target in ("http://evil.example/_mock/health", f"http://evil.example{API}/acme/status"):
        data = rawhttp.build("GET", target, [(b"api-key", b"k")])
        answer = await rawhttp.request(*_address(client), data)
        assert answer.status == 421 and answer.json()["code"] == "host_not_allowed", (target, answer)
    data = rawhttp.build("GET", f"http://127.0.0.1:{client.server.port}/_mock/health")
    assert (await rawhttp.request(*_address(client), data)).status == 200


async def test_the_admin_tokens_scheme_is_case_insensitive(serve: Any, make_emulator: Any) -> None:
    """Before: 'Authorization: bearer T' was refused (RFC 9110 11.1: the scheme is case-insensitive)."""
    client = await serve(make_emulator(admin_token="tok"))
    for value in ("Bearer tok", "bearer tok", "BEARER tok", "Bearer  tok"):
        async with client.get("/_mock/health", headers={"Authorization": value}) as response:
            assert response.status == 200, value
    for value in ("Bearer tok2", "Basic tok", "tok", "bearer"):
        async with client.get("/_mock/health", headers={"Authorization": value}) as response:
            assert response.status == 401, value


async def test_a_push_still_uploading_when_its_integration_is_deleted_is_not_answered_202(client: Any) -> None:
    """Before: the page was answered 202 and kept nowhere."""
    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    body = orjson.dumps({"entities": {"User": [user(i) for i in range(20)]}})
    head = (
        f"POST {API}/acme/sessions/{session['id']}/entities HTTP/1.1\r\nHost: 127.0.0.1\r\napi-key: k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(*_address(client))
    try:
        writer.write(head + body[:100])
        await writer.drain()
        await asyncio.sleep(0.1)
        async with client.delete("/_mock/integrations/acme") as response:
            assert response.status == 204
        writer.write(body[100:])
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    answer = rawhttp.parse_response(raw)
    assert answer.status == 404 and answer.json()["code"] == "session_not_found", answer
    assert "the emulator reset while this request was on its way" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("head", "said"),
    [
        (b"Bad Header\r\n", "invalid header token in b'Bad Header'"),
        (b"Content-Length: abc\r\n", "invalid character in Content-Length in b'Content-Length: abc'"),
        (b"X-Long: a\x01" + b"b" * 300 + b"\r\n", "invalid header value char in b'X-Long: a\\x01bbb"),
        # the client's own bytes never choose the answer: these were 431 and unsupported_transfer_encoding
        (b"Too Many Headers: x\r\n", "invalid header token in b'Too Many Headers: x'"),
        (b"X-Note: too many headers\x01\r\n", "invalid header value char in b'X-Note: too many headers"),
        (b"Bad `Transfer-Encoding`: x\r\n", "invalid header token in b'Bad `Transfer-Encoding`: x'"),
    ],
)
async def test_a_request_the_parser_refuses_is_told_what_it_refused(client: Any, head: bytes, said: str) -> None:
    """The detail stopped at the parser's first line: 'Invalid header token:', and nothing after."""
    raw = await rawhttp.exchange(
        *_address(client), b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n", timeout=5
    )
    answer = rawhttp.parse_response(raw)
    assert (answer.status, answer.json()["code"]) == (400, "malformed_request")
    detail = answer.json()["detail"]
    assert detail.startswith(f"the request is not valid HTTP/1.1: {said}"), detail
    assert len(detail) < 160 and "^" not in detail


async def test_an_http2_opening_is_told_the_emulator_speaks_http_1_1(client: Any) -> None:
    """Before: "pause on PRI/Upgrade in b'...'", the parser's name for its own pause (curl
    --http2-prior-knowledge; a polyglot review)."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    answer = rawhttp.parse_response(await rawhttp.exchange(*_address(client), preface, timeout=5))
    assert (answer.status, answer.json()["code"]) == (400, "malformed_request")
    assert answer.json()["detail"].startswith("the emulator speaks HTTP/1.1 only"), answer.json()
