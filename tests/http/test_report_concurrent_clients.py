"""A client pushing pages concurrently (two reviewers' threads and httpx tasks): a page already on
its way on another connection when a 429 or a 409 was answered is journaled after that answer,
since the emulator reads a request only when its loop turns to it. The judge does not take it for
a request sent after the client read the answer; the same request on the connection the answer
went out on, or later, still is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.report.har import judge_har

from ..helpers import Control, Vendor, user
from .test_report import ids, report
from .test_scenarios import put_scenario


class OtherConnection(Vendor):
    """The same client's other worker: each request on a connection of its own."""

    def __init__(self, client: TestClient[Any, Any], session: aiohttp.ClientSession) -> None:
        super().__init__(client)
        self.session = session

    async def call(self, method: str, tail: str, expect: int | None = None, **kwargs: Any) -> tuple[int, Any]:
        url = self.client.make_url(self.url(tail))
        async with self.session.request(method, url, headers=self.headers, **kwargs) as response:
            body = await response.json(content_type=None)
            if expect is not None:
                assert response.status == expect, (response.status, body)
            return response.status, body


@pytest.fixture
async def worker(client: TestClient[Any, Any]) -> AsyncIterator[OtherConnection]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield OtherConnection(client, session)


def _page(n: int) -> dict[str, Any]:
    return {"entities": {"User": [user(n)]}, "page_hint": n}


@pytest.mark.parametrize(("where", "judged"), [("other", False), ("same", True), ("other, later", True)])
async def test_a_page_on_its_way_when_another_was_throttled_is_not_too_soon(
    client: TestClient[Any, Any], vendor: Vendor, control: Control, worker: OtherConnection, where: str, judged: bool
) -> None:
    await put_scenario(client, "throttle-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.push(session["id"], _page(2), expect=429)  # Retry-After: 1
    if where == "other, later":
        await control.advance(0.05, "acme")  # sent after the client could have read the 429
    await (vendor if where == "same" else worker).push(session["id"], _page(3))
    await control.advance(1, "acme")
    await vendor.push(session["id"], _page(2))  # the throttled page, once its Retry-After elapsed
    await vendor.close(session["id"])
    await vendor.session(session["id"])
    assert ("retry_too_soon" in ids(await report(control))) is judged
    # The HAR names each entry's connection (HAR 1.2's own field): judged offline, the same verdict.
    (offline,) = judge_har(await control.get("/journal.har?integration_id=acme")).public()["integrations"]
    assert ("retry_too_soon" in [f["id"] for f in offline["findings"]]) is judged


async def test_the_throttled_page_itself_sent_again_at_once_is_too_soon_on_any_connection(
    client: TestClient[Any, Any], vendor: Vendor, control: Control, worker: OtherConnection
) -> None:
    await put_scenario(client, "throttle-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.push(session["id"], _page(2), expect=429)
    await worker.push(session["id"], _page(2))  # its retry waited for the 429: it ignored the Retry-After
    assert "retry_too_soon" in ids(await report(control))


@pytest.mark.parametrize(("where", "judged"), [("other", False), ("same", True)])
async def test_a_page_on_its_way_when_the_session_expired_is_not_pushed_after_the_409(
    client: TestClient[Any, Any], vendor: Vendor, control: Control, worker: OtherConnection, where: str, judged: bool
) -> None:
    await put_scenario(client, "expire-at-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.push(session["id"], _page(2), expect=409)  # the session expired as page 2 arrived
    await (vendor if where == "same" else worker).push(session["id"], _page(3), expect=409)
    again = await vendor.start()  # the careful client starts over with every page
    for n in (1, 2, 3):
        await vendor.push(again["id"], _page(n))
    await vendor.close(again["id"])
    await vendor.session(again["id"])
    assert ("push_to_inactive_session" in ids(await report(control))) is judged


async def test_the_journal_names_each_requests_connection(
    client: TestClient[Any, Any], vendor: Vendor, control: Control, worker: OtherConnection
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await worker.push(session["id"], _page(2))
    await worker.push(session["id"], _page(3))
    entries = (await control.get("/journal?integration_id=acme"))["entries"]
    ports = [entry["connection"] for entry in entries]
    assert all(isinstance(port, int) and 0 < port < 65536 for port in ports), ports
    assert ports[0] == ports[1] and len(set(ports)) == 3  # kept alive; then a connection a request


async def test_each_request_knows_how_long_the_loop_ran_before_it_and_the_loop_is_put_back(
    make_emulator: Any, serve: Any
) -> None:
    """The judge's "on its way" excuse reads how long the serving loop had run without waiting for
    input when a request was let in; the selector's wrapper is taken off when the server stops."""
    import asyncio

    loop = asyncio.get_running_loop()
    selector = loop._selector  # type: ignore[attr-defined]
    plain = selector.select
    emulator = make_emulator()
    client = await serve(emulator)
    assert selector.select is not plain  # timed while serving
    await Vendor(client).start()
    (entry,) = emulator.journal.entries
    assert entry.loop_busy_before is not None and 0 <= entry.loop_busy_before < 5
    await client.close()
    assert selector.select == plain  # the loop as it was
