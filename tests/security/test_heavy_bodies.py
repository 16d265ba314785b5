"""A heavy control job's body (``PUT /_mock/state``, ``POST /_mock/judge``) is read before the job
takes its turn: a client trickling its body holds up no other job. Each test failed before its fix."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from mock_sprinto import steps

HAR = {"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": []}}


async def _trickling(client: Any, emulator: Any, announced: int = 1_000_000) -> tuple[Any, Any, Any]:
    """A connection announcing a HAR of ``announced`` bytes, then sending a byte every 0.1 s; returned
    once the server is reading it (its bytes reserved in the memory budget): the trickle, the task
    reading its answer, and the writer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    before = emulator.budget.reserved
    writer.write(
        b"POST /_mock/judge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n{" % announced
    )

    async def trickle() -> None:
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.1)

    trickler = asyncio.create_task(trickle())
    while emulator.budget.reserved < before + announced:  # its body is being read
        await asyncio.sleep(0.01)
    return trickler, asyncio.create_task(reader.read(100)), writer


@pytest.mark.parametrize("padding", [0, 100_000], ids=["small-body", "large-body"])
async def test_a_heavy_job_is_answered_while_another_ones_body_trickles(
    serve: Any, make_emulator: Any, padding: int
) -> None:
    """Before: the job's one-at-a-time turn (``steps.heavy_turn``) was taken before its body was
    read, and a queued job's body deadline only started with its turn: a HAR judged behind a client
    sending its body a byte at a time waited for that client's whole deadline (behind three such
    clients, 14 s with a 5 s deadline; minutes with the default 60 s). Now the body is read first
    (a large one in one of ``HEAVY_BODIES`` places): the second is answered while the first
    still trickles, unanswered."""
    emulator = make_emulator(body_timeout_seconds=5)
    client = await serve(emulator)
    trickler, first, writer = await _trickling(client, emulator)
    try:
        body = b" " * padding + orjson.dumps(HAR)  # over SMALL_HEAVY_BODY_BYTES, or not
        async with client.post("/_mock/judge", data=body, headers={"Content-Type": "application/json"}) as answer:
            assert answer.status == 200, await answer.text()
        assert not first.done()  # the first is still being read: no 408 yet
        assert steps.HEAVY_BODIES >= 2
    finally:
        trickler.cancel()
        first.cancel()
        writer.close()


async def test_large_heavy_bodies_are_read_a_few_at_a_time(serve: Any, make_emulator: Any) -> None:
    """What the bodies read before their turn hold stays bounded: past ``HEAVY_BODIES`` large bodies
    being read, the next waits for a place, unread (its bytes not reserved); a small one does not."""
    emulator = make_emulator(body_timeout_seconds=5)
    client = await serve(emulator)
    held = [await _trickling(client, emulator) for _ in range(steps.HEAVY_BODIES)]
    try:
        reserved = emulator.budget.reserved
        waiting = asyncio.create_task(
            client.post(
                "/_mock/judge", data=b" " * 100_000 + orjson.dumps(HAR), headers={"Content-Type": "application/json"}
            )
        )
        async with client.post("/_mock/judge", json=HAR) as answer:  # small: read at once
            assert answer.status == 200
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done() and emulator.budget.reserved == reserved
        waiting.cancel()
    finally:
        for trickler, first, writer in held:
            trickler.cancel()
            first.cancel()
            writer.close()
