"""Each shipped scenario does what its description promises, over HTTP."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.faults import load_scenario_file, shipped_scenarios

from ..helpers import Control, Vendor, user
from .test_scenarios import put_scenario

PAGE = {"entities": {"User": [user(1)]}}


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_shipped_scenario_checks_clean_and_says_what_it_exercises(name: str) -> None:
    scenario = load_scenario_file(shipped_scenarios()[name])
    assert scenario.name == name
    assert "xercises" in scenario.description or "Use it" in scenario.description


async def test_default_changes_nothing(client: TestClient[Any, Any]) -> None:
    await put_scenario(client, "default")
    vendor = Vendor(client)
    session = await vendor.start()
    for _ in range(20):
        await vendor.push(session["id"], PAGE)


async def test_rate_limited_throttles_with_retry_after_and_refills_with_the_clock(
    client: TestClient[Any, Any], control: Control
) -> None:
    await put_scenario(client, "rate-limited")
    vendor = Vendor(client)
    results = [await vendor.call("GET", "/status") for _ in range(7)]
    assert [status for status, _ in results] == [200] * 5 + [429, 429]
    assert results[5][1]["retry_after_seconds"] == 1
    await control.advance(1, "acme")
    assert (await vendor.call("GET", "/status"))[0] == 200


async def test_flaky_network_mixes_resets_and_503s_reproducibly(client: TestClient[Any, Any]) -> None:
    async def run() -> list[tuple[int, str | None]]:
        await put_scenario(client, "flaky-network")
        await client.post("/_mock/reset")
        await put_scenario(client, "flaky-network")
        vendor = Vendor(client)
        session = await vendor.start()
        outcomes = []
        for i in range(60):
            try:
                status, body = await vendor.call(
                    "POST", f"/sessions/{session['id']}/entities", json={"entities": {"User": [user(i)]}}
                )
                outcomes.append((status, body.get("code")))
            except Exception as exc:  # the client sees the reset as an exception
                outcomes.append((0, type(exc).__name__))
        return outcomes

    first = await run()
    kinds = Counter(status for status, _ in first)
    assert kinds[202] > 40 and kinds[503] >= 1 and kinds[0] >= 1
    assert await run() == first  # same seed, same requests: same faults


async def test_slow_processing_takes_ten_minutes_of_emulator_time(
    client: TestClient[Any, Any], control: Control
) -> None:
    await put_scenario(client, "slow-processing")
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], PAGE)
    await vendor.close(session["id"])
    await control.advance(599, "acme")
    started = time.monotonic()
    assert (await vendor.session(session["id"]))["state"] == "processing"
    assert time.monotonic() - started >= 0.05  # status reads are slow too
    await control.advance(1, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"


async def test_chaos_is_seeded_and_never_loses_an_accepted_page(client: TestClient[Any, Any], control: Control) -> None:
    async def run() -> list[Any]:
        await client.post("/_mock/reset")
        await put_scenario(client, "chaos")
        vendor = Vendor(client)
        outcomes: list[Any] = []
        session_id = None
        for i in range(40):
            try:
                if session_id is None:
                    status, body = await vendor.call("POST", "/sessions")
                    session_id = body.get("id") if status == 201 else None
                    outcomes.append(status)
                    continue
                status, _ = await vendor.call(
                    "POST", f"/sessions/{session_id}/entities", json={"entities": {"User": [user(i)]}}
                )
                outcomes.append(status)
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        return outcomes

    first = await run()
    assert await run() == first
    assert len(set(map(str, first))) >= 3  # a real mix of outcomes
