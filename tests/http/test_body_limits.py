"""Oversized and compressed bodies on a real socket: the client always reads the 413."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

from aiohttp.test_utils import TestClient

from ..helpers import Vendor, user


async def _raw_exchange(client: TestClient[Any, Any], head: bytes, body_chunks: list[bytes], wait_first: bool) -> bytes:
    """Send a request by hand; with ``wait_first`` read the server's answer before sending any body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        writer.write(head)
        await writer.drain()
        if wait_first:
            return await asyncio.wait_for(reader.read(65536), 5)
        for chunk in body_chunks:
            writer.write(chunk)
            await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


def _head(path: str, length: int | None, extra: str = "") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\napi-key: key-1\r\nContent-Type: application/json\r\n"
        f"{size}{extra}\r\n"
    ).encode()


async def test_declared_length_over_limit_with_expect_gets_413_before_sending_the_body(
    client: TestClient[Any, Any],
) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    answer = await _raw_exchange(
        client,
        _head(vendor.url(f"/sessions/{session['id']}/entities"), 6_000_000, "Expect: 100-continue\r\n"),
        [],
        wait_first=True,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"100 Continue" not in answer
    assert b'"code":"payload_too_large"' in answer


async def test_declared_length_over_limit_without_expect_still_lets_the_client_read_413(
    client: TestClient[Any, Any],
) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    body = b"x" * 6_000_000
    answer = await _raw_exchange(
        client,
        _head(vendor.url(f"/sessions/{session['id']}/entities"), len(body)),
        [body[i : i + 65536] for i in range(0, len(body), 65536)],
        wait_first=False,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"Connection: close" in answer


async def test_chunked_body_over_limit_is_413(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    piece = b"y" * 1_000_000
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(6)] + [b"0\r\n\r\n"]
    answer = await _raw_exchange(
        client, _head(vendor.url(f"/sessions/{session['id']}/entities"), None), chunks, wait_first=False
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    refused = [i for i in (await vendor.activity())["items"] if i["type"] == "page_refused"]
    assert [i["details"]["code"] for i in refused] == ["payload_too_large"]


async def test_expect_continue_within_limit_is_invited_and_accepted(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    body = json.dumps({"entities": {"User": [user(1)]}}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        writer.write(_head(vendor.url(f"/sessions/{session['id']}/entities"), len(body), "Expect: 100-continue\r\n"))
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        writer.write(body)
        await writer.drain()
        final = await asyncio.wait_for(reader.read(65536), 5)
        assert final.startswith(b"HTTP/1.1 202")
    finally:
        writer.close()


async def test_gzip_bomb_is_refused_and_other_clients_are_served(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    inflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    bomb = b"".join(inflater.compress(block) for _ in range(1024)) + inflater.flush()  # 1 GiB inflated, ~1 MiB
    assert len(bomb) < 1_100_000

    async def bomb_push() -> tuple[int, Any]:
        return await vendor.call(
            "POST",
            f"/sessions/{session['id']}/entities",
            data=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    async def neighbour() -> int:
        status, _ = await Vendor(client, "neighbour", "k").call("POST", "/sessions")
        return status

    (status, body), other = await asyncio.gather(bomb_push(), neighbour())
    assert (status, body["code"]) == (413, "payload_too_large")
    assert "once decoded" in body["detail"]
    assert other == 201


async def test_gzip_page_is_accepted_and_recorded_with_both_sizes(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    page = json.dumps({"entities": {"User": [user(i) for i in range(100)]}}).encode()
    result = await vendor.push(
        session["id"],
        None,
        data=gzip.compress(page),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert result["accepted_count_total"] == 100
    (detail,) = (await (await client.get("/_mock/integrations/acme/sessions")).json())["sessions"]
    assert detail["pages"][0]["decoded_bytes"] == len(page)
