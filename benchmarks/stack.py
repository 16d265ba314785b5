"""A push through the whole HTTP stack with no socket: the request's bytes are fed to the server's
protocol handler (aiohttp's parser, the app's routing and middleware, the handler, the writer) and
the answer is collected from an in-memory transport (``python -m benchmarks.stack KIND``).

The socket benchmark (section 1) shares two cores between the load client, the server and the
kernel, so its figure moves by ±10 % from run to run; this one leaves only the server's own work,
run after run within a few per cent. ``emulator`` is the app ``mock-sprinto serve`` runs (default
settings, ``EmulatorRunner``, the collector and the heap as ``serve`` sets them), ``bare`` the
baseline app of ``benchmarks/servers.py`` and ``validating`` the same app with the emulator's schema
verdict (section 1's ingest ceiling). Prints one JSON document: CPU µs per push, best of the
rounds, and every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from .common import page_bytes

INTEGRATION = "/api/external/push/v1/integrations/bench"
API_KEY = "bench-key"


class MemoryTransport(asyncio.Transport):
    """Collects what the server writes; ``answer()`` waits for one whole response."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data
        end = self.out.find(b"\r\n\r\n")
        if self.waiter is None or self.waiter.done() or end < 0:
            return
        head = bytes(self.out[:end]).lower()
        at = head.find(b"content-length: ")
        length = int(head[at + 16 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
        if len(self.out) >= end + 4 + length:
            self.waiter.set_result(bytes(self.out[: end + 4 + length]))
            del self.out[: end + 4 + length]

    def writelines(self, data: Any) -> None:
        self.write(b"".join(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def is_reading(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


def request(path: str, body: bytes = b"") -> bytes:
    head = (
        f"POST {INTEGRATION}{path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\napi-key: {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def runner_for(kind: str, settings: dict[str, str] | None = None) -> web.AppRunner:
    if kind in ("bare", "validating"):
        from .servers import bare_app

        return web.AppRunner(bare_app(validating=kind == "validating"), access_log=None)
    from mock_sprinto.http import create_app
    from mock_sprinto.http.server import EmulatorRunner
    from mock_sprinto.service import Emulator

    from .servers import emulator_setup

    emulator = Emulator(*emulator_setup(settings or {}))
    return EmulatorRunner(create_app(emulator), access_log=None)  # as `mock-sprinto serve` builds it


async def measure(kind: str, pushes: int, rounds: int, settings: dict[str, str] | None = None) -> dict[str, Any]:
    runner = runner_for(kind, settings)
    await runner.setup()
    if kind == "emulator":
        from mock_sprinto.cli import serving_process

        with serving_process():  # the collector and the heap as `mock-sprinto serve` has them
            return await _measure(kind, runner, pushes, rounds)
    return await _measure(kind, runner, pushes, rounds)


async def _measure(kind: str, runner: web.AppRunner, pushes: int, rounds: int) -> dict[str, Any]:
    assert runner.server is not None
    protocol = runner.server()
    transport = MemoryTransport()
    protocol.connection_made(transport)
    loop = asyncio.get_running_loop()

    async def send(data: bytes) -> bytes:
        transport.waiter = loop.create_future()
        protocol.data_received(data)
        return await transport.waiter

    async def start() -> str:
        answer = await send(request("/sessions"))
        return str(orjson.loads(answer.split(b"\r\n\r\n", 1)[1]).get("id", "bare"))

    page = page_bytes(0)
    try:
        per_round: list[float] = []
        for number in range(rounds + 1):  # round 0 warms up
            session = await start()
            push = request(f"/sessions/{session}/entities", page)
            answer = await send(push)
            if b" 202 " not in answer[:16]:
                raise RuntimeError(f"{kind} refused the page: {answer[:300]!r}")
            begin = time.process_time()
            for _ in range(pushes):
                await send(push)
            if number:
                per_round.append((time.process_time() - begin) / pushes * 1e6)
            await send(request(f"/sessions/{session}/close", b'{"status": "discard"}'))
    finally:
        await runner.cleanup()
    return {"kind": kind, "us_per_push": min(per_round), "rounds": per_round, "page_bytes": len(page)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stack")
    parser.add_argument("kind", choices=["emulator", "bare", "validating"])
    parser.add_argument("--pushes", type=int, default=250, help="pushes per round (one session each)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE", help="emulator setting")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.setting)
    print(json.dumps(asyncio.run(measure(args.kind, args.pushes, args.rounds, settings))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
