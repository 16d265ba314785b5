"""A Docker API endpoint that publishes a container's port 8080 through the host network.

This machine's test daemon has no bridge network (no ``-p``), so a Testcontainers example that
publishes port 8080 and asks for its mapped port could not run as written. Between the example and
the daemon, this proxy changes two answers and nothing else:

* ``POST /containers/create`` that publishes ``8080/tcp``: the container gets the host network and
  ``MOCK_SPRINTO_PORT`` set to a free port instead (the image listens where that variable says);
* ``GET /containers/{id}/json`` of such a container: ``NetworkSettings.Ports`` maps ``8080/tcp``
  to that free port, as a daemon with a bridge would.

Every other request passes through unchanged, one upstream connection each (``Connection: close``;
a hijacked stream such as ``docker exec``'s is piped both ways).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from pathlib import Path
from typing import Any

_CREATE = re.compile(r"^(?:/v[0-9.]+)?/containers/create$")
_INSPECT = re.compile(r"^(?:/v[0-9.]+)?/containers/([^/]+)/json$")
PORT = "8080/tcp"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Message:
    def __init__(self, head: bytes, body: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        self.start = lines[0]
        self.headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
        self.body = body

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key.lower() == name.lower()), "")

    def encode(self, keep_alive: bool) -> bytes:
        skip = {"content-length", "transfer-encoding", "connection"}
        lines = [self.start] + [f"{key}: {value}" for key, value in self.headers if key.lower() not in skip]
        lines += [f"Content-Length: {len(self.body)}", "Connection: " + ("keep-alive" if keep_alive else "close")]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


async def _read(reader: asyncio.StreamReader, request: bool) -> _Message | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    message = _Message(head[:-4], b"")
    if message.header("transfer-encoding").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the empty line
            pass
        message.body = b"".join(chunks)
    elif message.header("content-length"):
        message.body = await reader.readexactly(int(message.header("content-length")))
    elif not request:
        message.body = await reader.read()
    return message


class PortMap:
    """The proxy on ``listen``, in a thread of its own, in front of the daemon on ``upstream``."""

    def __init__(self, upstream: Path, listen: Path) -> None:
        self.upstream, self.listen = str(upstream), listen
        self.ports: dict[str, int] = {}  # container id -> the host port its 8080 is served on
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PortMap:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.listen.unlink(missing_ok=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_unix_server(self._serve, str(self.listen)))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read(reader, request=True)) is not None:
                method, target = request.start.split(" ")[:2]
                path = target.split("?")[0]
                if method == "POST" and _CREATE.match(path):
                    port = self._rewrite_create(request)
                    response = await self._exchange(request)
                    if port is not None and response.start.split(" ")[1] == "201":
                        self.ports[json.loads(response.body)["Id"]] = port
                    writer.write(response.encode(keep_alive=True))
                elif method == "GET" and _INSPECT.match(path):
                    response = await self._exchange(request)
                    if response.start.split(" ")[1] == "200":
                        response.body = self._rewrite_inspect(response.body)
                    writer.write(response.encode(keep_alive=True))
                else:
                    await self._pipe(request, reader, writer)
                    return
                await writer.drain()
        finally:
            writer.close()

    async def _exchange(self, request: _Message) -> _Message:
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        try:
            up_writer.write(request.encode(keep_alive=False))
            await up_writer.drain()
            response = await _read(up_reader, request=False)
            assert response is not None, "the daemon closed the connection without an answer"
            return response
        finally:
            up_writer.close()

    async def _pipe(self, request: _Message, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        upgrade = "upgrade" in request.header("connection").lower()
        if upgrade:  # a hijacked stream: the headers as they came
            lines = [request.start] + [f"{key}: {value}" for key, value in request.headers]
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
        else:
            up_writer.write(request.encode(keep_alive=False))

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
                if sink.can_write_eof():
                    sink.write_eof()
            except (ConnectionError, OSError):
                pass

        down = asyncio.ensure_future(copy(up_reader, writer))
        up = asyncio.ensure_future(copy(reader, up_writer))
        await down
        up.cancel()
        up_writer.close()

    def _rewrite_create(self, request: _Message) -> int | None:
        config: dict[str, Any] = json.loads(request.body or b"{}")
        host = config.setdefault("HostConfig", {}) or {}
        config["HostConfig"] = host
        if PORT not in (host.get("PortBindings") or {}):
            return None
        port = free_port()
        host["PortBindings"] = {}
        host["NetworkMode"] = "host"
        config["Env"] = [*(config.get("Env") or []), f"MOCK_SPRINTO_PORT={port}"]
        request.body = json.dumps(config).encode()
        return port

    def _rewrite_inspect(self, body: bytes) -> bytes:
        details = json.loads(body)
        port = self.ports.get(details.get("Id", ""))
        if port is None:
            return body
        network = details.setdefault("NetworkSettings", {}) or {}
        network["Ports"] = {PORT: [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}
        details["NetworkSettings"] = network
        return json.dumps(details).encode()
