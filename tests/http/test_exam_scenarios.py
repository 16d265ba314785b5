"""The exam's shipped scenarios, over HTTP: each rule fires on the request it names, as often as it
says, and a client doing the careful thing afterwards gets through (docs/exam.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.exam.runner import DEFAULT_TRIAL_TIMEOUT
from mock_sprinto.faults import load_scenario_file, shipped_scenarios
from mock_sprinto.testing import load_scenario_file as load_document

from ..helpers import Control, Vendor, user
from .test_scenarios import put_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
EXAM_SCENARIOS = (
    "throttle-page-2",
    "unavailable-page-2-twice",
    "reset-page-2",
    "lost-answer-page-2",
    "expire-at-page-2",
    "processing-always-fails",
    "reject-page-2",
    "slow-answer-page-2",
    "close-fails-once",
    "close-answer-lost",
)


def page(i: int) -> dict[str, Any]:
    return {"entities": {"User": [user(i)]}, "page_hint": i}


async def fired(client: TestClient[Any, Any]) -> dict[str, int]:
    async with client.get("/_mock/integrations/acme/scenario") as response:
        return {rule["rule"]: rule["fired"] for rule in (await response.json())["rules"]}


@pytest.mark.parametrize("name", EXAM_SCENARIOS)
def test_each_exam_scenario_is_shipped_and_certain(name: str) -> None:
    """A fault the exam relies on happens for sure: counted rules, never a probability."""
    scenario = load_scenario_file(shipped_scenarios()[name])
    assert scenario.rules
    for rule in scenario.rules:
        assert rule.when is None or rule.when[0] != "probability", rule


async def test_throttle_page_2_answers_429_with_retry_after_once(client: TestClient[Any, Any], vendor: Vendor) -> None:
    await put_scenario(client, "throttle-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    async with client.post(
        vendor.url(f"/sessions/{session['id']}/entities"), json=page(2), headers=vendor.headers
    ) as r:
        assert r.status == 429
        assert r.headers["Retry-After"] == "1"
        assert (await r.json())["retry_after_seconds"] == 1
    assert (await vendor.push(session["id"], page(2)))["page"] == 2
    await vendor.push(session["id"], page(3))
    assert await fired(client) == {"throttle-page-2": 1}


def _pending_document() -> dict[str, Any]:
    shipped = SCENARIOS / "throttle-page-2-no-retry-after.yaml"
    return load_document(shipped if shipped.exists() else SCENARIOS / "throttle-page-2-no-retry-after.yaml.pending")


async def test_throttle_page_2_no_retry_after_answers_429_without_the_header(
    client: TestClient[Any, Any], vendor: Vendor
) -> None:
    await put_scenario(client, _pending_document())
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    for _ in range(2):  # twice: a retry at once after each is no backoff (urllib3's first one is at once)
        async with client.post(
            vendor.url(f"/sessions/{session['id']}/entities"), json=page(2), headers=vendor.headers
        ) as r:
            assert r.status == 429
            assert "Retry-After" not in r.headers
            assert (await r.json()).get("retry_after_seconds") is None
    assert (await vendor.push(session["id"], page(2)))["page"] == 2
    assert await fired(client) == {"throttle-page-2-silently": 2}


async def test_unavailable_page_2_twice_answers_503_twice_without_retry_after(
    client: TestClient[Any, Any], vendor: Vendor
) -> None:
    await put_scenario(client, "unavailable-page-2-twice")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    for _ in range(2):
        async with client.post(
            vendor.url(f"/sessions/{session['id']}/entities"), json=page(2), headers=vendor.headers
        ) as r:
            assert r.status == 503
            assert "Retry-After" not in r.headers
    assert (await vendor.push(session["id"], page(2)))["page"] == 2
    assert await fired(client) == {"page-2-unavailable": 2}


async def test_reset_page_2_breaks_the_connection_before_staging(client: TestClient[Any, Any], vendor: Vendor) -> None:
    await put_scenario(client, "reset-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    with pytest.raises(aiohttp.ClientError):
        await vendor.push(session["id"], page(2))
    assert (await vendor.session(session["id"]))["accepted_batches"] == 1  # nothing staged
    assert (await vendor.push(session["id"], page(2)))["page"] == 2
    assert await fired(client) == {"reset-page-2": 1}


async def test_lost_answer_page_2_stages_the_page_then_breaks_the_connection(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    await put_scenario(client, "lost-answer-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    with pytest.raises(aiohttp.ClientError):
        await vendor.push(session["id"], page(2))
    assert (await vendor.session(session["id"]))["accepted_batches"] == 2  # staged although unanswered
    assert (await vendor.push(session["id"], page(2)))["page"] == 3  # the re-sent copy is staged again
    await vendor.close(session["id"])
    await control.advance(3, "acme")
    assert len(await control.records("acme")) == 2  # de-duplicated by employeeId


async def test_expire_at_page_2_expires_the_session_as_page_2_arrives(
    client: TestClient[Any, Any], vendor: Vendor
) -> None:
    await put_scenario(client, "expire-at-page-2")
    first = await vendor.start()
    await vendor.push(first["id"], page(1))
    answer = await vendor.push(first["id"], page(2), expect=409)
    assert (answer["code"], answer["state"]) == ("session_not_active", "expired")
    second = await vendor.start()  # the expired session blocks nothing
    for i in (1, 2, 3):
        await vendor.push(second["id"], page(i))
    assert await fired(client) == {"expire-at-page-2": 1}


async def test_processing_always_fails_fails_every_apply(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    await put_scenario(client, "processing-always-fails")
    for _ in range(2):  # a client that runs the whole sync again fails again
        session = await vendor.start()
        await vendor.push(session["id"], page(1))
        await vendor.close(session["id"])
        await control.advance(10, "acme")
        ended = await vendor.session(session["id"])
        assert (ended["state"], ended["retry_count"]) == ("failed", 1)
        assert ended["last_error"]
    assert await control.records("acme") == []


async def test_reject_page_2_rejects_every_push_of_page_2(client: TestClient[Any, Any], vendor: Vendor) -> None:
    await put_scenario(client, "reject-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    for _ in range(3):  # the page keeps its number until it is staged: it never is
        answer = await vendor.push(session["id"], page(2), expect=400)
        assert answer["code"] == "validation_failed"
        assert answer["validation_errors"]
    assert (await vendor.session(session["id"]))["accepted_batches"] == 1
    await vendor.close(session["id"], "discard")
    assert await fired(client) == {"reject-page-2": 3}


def test_slow_answer_page_2_holds_longer_than_the_exams_wall_clock_limit() -> None:
    (rule,) = load_scenario_file(shipped_scenarios()["slow-answer-page-2"]).rules
    assert (rule.page, rule.times, rule.phase) == (2, 1, "before")
    assert rule.delay is not None and rule.delay.seconds == 300 > DEFAULT_TRIAL_TIMEOUT


async def test_slow_answer_page_2_holds_the_first_push_of_page_2(client: TestClient[Any, Any], vendor: Vendor) -> None:
    # The shipped rule with a 1 s hold instead of 300 s, so the held request ends within the test
    # (the server would otherwise wait for it at shutdown).
    document = load_document(SCENARIOS / "slow-answer-page-2.yaml")
    document["rules"][0]["delay"] = {"seconds": 1.0}
    await put_scenario(client, document)
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    url = vendor.url(f"/sessions/{session['id']}/entities")
    with pytest.raises(asyncio.TimeoutError):
        async with client.post(
            url, json=page(2), headers=vendor.headers, timeout=aiohttp.ClientTimeout(total=0.3)
        ) as response:
            await response.read()
    # Sent again, the page is answered at once (the rule fired its one time) and staged as page 2:
    # the held copy is not staged before its hold ends.
    assert (await vendor.push(session["id"], page(2)))["page"] == 2
    assert await fired(client) == {"hold-page-2": 1}
    await asyncio.sleep(1.2)  # the held copy goes on once its hold ends: staged too (de-duplicated by key)
    assert (await vendor.session(session["id"]))["accepted_batches"] == 3


async def test_close_fails_once_refuses_the_first_close_only(client: TestClient[Any, Any], vendor: Vendor) -> None:
    await put_scenario(client, "close-fails-once")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    await vendor.close(session["id"], expect=503)
    assert (await vendor.session(session["id"]))["state"] == "active"  # not carried out
    assert (await vendor.close(session["id"]))["state"] == "processing"


async def test_close_answer_lost_carries_the_close_out_then_breaks_the_connection(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    await put_scenario(client, "close-answer-lost")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    with pytest.raises(aiohttp.ClientError):
        await vendor.close(session["id"])
    again = await vendor.close(session["id"], expect=409)
    assert (again["code"], again["state"]) == ("session_not_closable", "processing")
    await control.advance(3, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"
