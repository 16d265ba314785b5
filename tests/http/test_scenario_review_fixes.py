"""Scenario review fixes, as a client meets them: how pages are numbered for ``match.page``, rules
that overlap, ``phase: after`` on lifecycle actions, a reset, contradictory ``Prefer`` values."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.clock import ManualClock
from mock_sprinto.faults import parse_scenario
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.validation import SchemaRegistry

from ..helpers import Control, Vendor, user

INVALID = {"entities": {"User": [{"employeeId": "e1"}]}}  # a User missing its required fields: 400


def page(i: int) -> dict[str, Any]:
    return {"entities": {"User": [user(i)]}, "page_hint": i}


async def put_scenario(client: TestClient[Any, Any], scenario: Any, path: str = "/integrations/acme/scenario") -> None:
    async with client.put("/_mock" + path, json=scenario) as response:
        assert response.status == 200, await response.json()


def on_page(number: int, **rule: Any) -> dict[str, Any]:
    return {"name": f"page-{number}", "match": {"operation": "push_page", "page": number}, **rule}


# ---- item 1: a page's number is the pages its session staged, plus one -------------------------
async def test_a_page_refused_by_validation_and_sent_again_fixed_keeps_its_number(
    client: TestClient[Any, Any], vendor: Vendor
) -> None:
    await put_scenario(client, {"name": "p2", "rules": [on_page(2, respond={"status": 503})]})
    session = await vendor.start()
    await vendor.push(session["id"], INVALID, expect=400)  # page 1, refused: nothing staged
    await vendor.push(session["id"], page(1))  # page 1 again, fixed: not page 2
    await vendor.push(session["id"], page(2), expect=503)  # page 2


async def test_a_page_sent_again_after_its_answer_was_lost_keeps_its_number(
    client: TestClient[Any, Any], vendor: Vendor
) -> None:
    lose_page_2 = on_page(2, times=1, phase="after", transport="reset")
    await put_scenario(client, {"name": "lost", "rules": [lose_page_2, on_page(3, respond={"status": 503})]})
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    with pytest.raises(aiohttp.ClientError):
        await vendor.push(session["id"], page(2))  # staged, its answer lost
    await vendor.push(session["id"], page(2))  # page 2 sent again: not page 3, so not refused
    assert (await vendor.session(session["id"]))["accepted_batches"] == 3  # staged twice, as documented
    # The client's next page is its page 3, not 4: the page staged twice is numbered once.
    await vendor.push(session["id"], page(3), expect=503)


# ---- item 4: phase after on lifecycle actions ---------------------------------------------------
async def test_phase_after_expires_the_session_once_the_page_is_staged(
    client: TestClient[Any, Any], vendor: Vendor
) -> None:
    expire_after = {"match": {"operation": "push_page"}, "phase": "after", "lifecycle": {"expire_session": True}}
    await put_scenario(client, {"name": "expire-after", "rules": [expire_after]})
    session = await vendor.start()
    answer = await vendor.push(session["id"], page(1))  # the push ran: 202, its page staged
    assert answer["accepted_count_total"] == 1
    after = await vendor.session(session["id"])
    assert (after["state"], after["accepted_batches"]) == ("expired", 1)


# ---- item 6: a rule whose answer another rule gave does not fire ------------------------------
async def test_two_answering_rules_on_one_page_answer_in_turn(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    first = on_page(2, times=1, respond={"status": 503})
    then = {**on_page(2, times=1, respond={"status": 429, "retry_after": 5}), "name": "then-429"}
    await put_scenario(client, {"name": "overlap", "rules": [first, then]})
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    statuses = [(await vendor.call("POST", f"/sessions/{session['id']}/entities", json=page(2)))[0] for _ in range(3)]
    assert statuses == [503, 429, 202]
    shown = await control.get("/integrations/acme/scenario")
    assert shown["rules"] == [
        {"rule": "page-2", "matched": 3, "fired": 1},
        {"rule": "then-429", "matched": 3, "fired": 1},
    ]
    named = [entry["rule"] for entry in await control.journal(operation="push_page")]
    assert named == [None, "page-2", "then-429", None]


async def test_a_rule_that_delays_fires_beside_the_one_that_answers(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    answer = {"name": "answer", "match": {"operation": "integration_status"}, "respond": {"status": 503}}
    both = {
        "name": "delay-and-answer",
        "match": {"operation": "integration_status"},
        "times": 1,
        "delay": {"seconds": 0.01},
        "respond": {"status": 429},
    }
    await put_scenario(client, {"name": "delays", "rules": [answer, both]})
    assert (await vendor.call("GET", "/status"))[0] == 503
    (entry,) = await control.journal(operation="integration_status")
    assert entry["rule"] == "answer, delay-and-answer"  # its delay took effect: it fired, its answer did not


# ---- item 7: a reset returns to the scenario the server started with ---------------------------
STARTED = {
    "name": "started",
    "rules": [{"match": {"operation": "integration_status"}, "times": 1, "respond": {"status": 503}}],
}
OTHER = {"name": "put-later", "rules": [{"match": {"operation": "integration_status"}, "respond": {"status": 502}}]}


async def test_a_reset_installs_the_starting_scenario_again_its_counters_afresh(
    serve: Any, registry: SchemaRegistry, clock: ManualClock
) -> None:
    emulator = Emulator(Config(Settings()), registry, clock, scenario=parse_scenario(STARTED))
    client = await serve(emulator)
    vendor, control = Vendor(client), Control(client)
    assert [(await vendor.call("GET", "/status"))[0] for _ in range(2)] == [503, 200]
    await put_scenario(client, OTHER, "/scenario")
    assert (await vendor.call("GET", "/status"))[0] == 502
    await control.post("/reset")
    assert (await control.get("/scenario"))["scenario"]["name"] == "started"
    assert [(await vendor.call("GET", "/status"))[0] for _ in range(2)] == [503, 200]


async def test_a_reset_of_a_server_started_without_a_scenario_removes_the_one_put_since(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    await put_scenario(client, OTHER, "/scenario")
    await control.post("/reset")
    assert (await control.get("/scenario"))["scenario"] is None
    assert (await vendor.call("GET", "/status"))[0] == 200


# ---- items 3 and 9: what a Prefer header may ask for ------------------------------------------
@pytest.mark.parametrize(
    ("prefer", "named"),
    [
        ("code=503, code=429", ("code=503", "code=429")),
        ("code=429, retry_after=3, retry_after=9", ("retry_after=3", "retry_after=9")),
        ("code=503, fault=reset", ("code=503", "fault=reset")),
    ],
)
async def test_contradictory_preferences_are_refused_naming_both(
    vendor: Vendor, control: Control, prefer: str, named: tuple[str, str]
) -> None:
    _, problem = await vendor.call("POST", "/sessions", 400, headers={"Prefer": prefer})
    assert problem["code"] == "invalid_prefer"
    assert all(value in problem["detail"] for value in named), problem["detail"]
    assert (await vendor.status())["sessions"]["active"] == 0  # nothing ran


async def test_the_same_preference_given_twice_alike_is_no_contradiction(vendor: Vendor) -> None:
    await vendor.call("POST", "/sessions", 503, headers={"Prefer": "code=503, code=503"})


@pytest.mark.parametrize("code", ["200", "201", "302"])
async def test_a_prefer_code_is_an_error_status(vendor: Vendor, code: str) -> None:
    _, problem = await vendor.call("POST", "/sessions", 400, headers={"Prefer": f"code={code}"})
    assert problem["code"] == "invalid_prefer"
    assert "from 400 to 599" in problem["detail"] and "own answers are the successes" in problem["detail"]


async def test_a_prefer_code_with_a_leading_zero_is_refused(vendor: Vendor) -> None:
    """Before: ``code=0503`` answered 503 (a hostile-input review): a typo read as a status."""
    _, problem = await vendor.call("POST", "/sessions", 400, headers={"Prefer": "code=0503"})
    assert problem["code"] == "invalid_prefer" and "'0503'" in problem["detail"]
    assert (await vendor.status())["sessions"]["active"] == 0
