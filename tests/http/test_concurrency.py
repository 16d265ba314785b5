"""Races a real client can cause: many starts at once, many pushes into one session."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from typing import Any

from aiohttp.test_utils import TestClient

from ..helpers import Control, Vendor, user


async def test_fifty_concurrent_starts_give_exactly_one_session(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    results = await asyncio.gather(*(vendor.call("POST", "/sessions") for _ in range(50)))
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 49}
    (winner,) = [body["id"] for status, body in results if status == 201]
    assert {body["active_session_id"] for status, body in results if status == 409} == {winner}


async def test_two_hundred_concurrent_pushes_are_all_staged_in_acceptance_order(client: TestClient[Any, Any]) -> None:
    vendor, control = Vendor(client), Control(client)
    session = await vendor.start()

    async def push(i: int) -> Any:
        page = {"entities": {"User": [user(i * 2), user(i * 2 + 1)]}, "page_hint": i}
        return await vendor.push(session["id"], page)

    results = await asyncio.gather(*(push(i) for i in range(200)))
    assert all(r["accepted_count_total"] == 2 for r in results)
    state = await vendor.session(session["id"])
    assert state["accepted_batches"] == 200 and state["accepted_records_total"] == 400

    (detail,) = await control.sessions("acme")
    hints_in_acceptance_order = [page["page_hint"] for page in detail["pages"]]
    assert sorted(hints_in_acceptance_order) == list(range(200))
    assert [page["ordinal"] for page in detail["pages"]] == list(range(1, 201))

    await vendor.close(session["id"])
    await control.advance(2)
    applied = [r["employeeId"] for r in await control.records("acme")]
    expected = [f"E{n}" for hint in hints_in_acceptance_order for n in (hint * 2, hint * 2 + 1)]
    assert applied == expected


def test_aiohttps_tasks_start_eagerly_only_while_the_runner_serves_and_only_theirs() -> None:
    # ``EmulatorRunner`` starts aiohttp's connection and request tasks as aiohttp does itself
    # from Python 3.12 (the turns a request saves: tests/plugin/test_handle.py); any other task
    # waits for the loop as usual, a factory of the loop's own is kept, and cleanup takes it back.
    from mock_sprinto.http.server import start_request_tasks_eagerly

    loop = asyncio.new_event_loop()
    try:
        restore = start_request_tasks_eagerly(loop)
        eager = sys.version_info < (3, 12)
        assert (loop.get_task_factory() is not None) is eager
        ran: list[str] = []

        async def ordinary() -> None:
            ran.append("ordinary")

        task = loop.create_task(ordinary())
        assert ran == []  # not started before the loop runs it
        loop.run_until_complete(task)
        assert ran == ["ordinary"]
        restore()
        assert loop.get_task_factory() is None

        def own(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Task[Any]:
            return asyncio.Task(coro, loop=loop, **options)

        loop.set_task_factory(own)
        start_request_tasks_eagerly(loop)()
        assert loop.get_task_factory() is own
    finally:
        loop.close()
