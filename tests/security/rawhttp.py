"""Raw HTTP/1.1 over a socket, for requests no well-behaved client library will send: bytes that
are not UTF-8 in a header, repeated headers, broken framing, slow or silent connections."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    header_lines: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return orjson.loads(self.body)


def parse_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    pairs = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        pairs.append((name.strip(), value.strip()))
    headers = {name.lower(): value for name, value in pairs}
    length = headers.get("content-length")
    if length is not None:
        body = body[: int(length)]
    return RawResponse(status, headers, body, pairs)


async def exchange(host: str, port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``data`` and read until the server closes the connection (or ``timeout``)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        chunks: list[bytes] = []

        async def read_all() -> None:
            while chunk := await reader.read(65536):
                chunks.append(chunk)

        try:
            await asyncio.wait_for(read_all(), timeout)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        return b"".join(chunks)
    finally:
        writer.close()


async def request(host: str, port: int, data: bytes, *, timeout: float = 10.0) -> RawResponse:
    raw = await exchange(host, port, data, timeout=timeout)
    assert raw, "the server closed the connection without an answer"
    return parse_response(raw)


def build(
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    *,
    host: bytes = b"127.0.0.1",
    length: bool = True,
) -> bytes:
    """A request with ``Connection: close``; ``headers`` are sent exactly as given (raw bytes)."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host, b"Connection: close"]
    lines += [name + b": " + value for name, value in headers or []]
    if length and body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
