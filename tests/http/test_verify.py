"""Verification over HTTP: expectations on one integration's journal, 200 when they hold, 422 with a
readable diff when not, 400 for expectations the vocabulary does not have (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import Control, Vendor, user

START = {"operation": "start_session", "status": 201}
PAGES = {"operation": "push_page", "status": 202, "repeat": "1+"}
APPLY = {"operation": "close_session", "status": 202, "body": {"status": "apply"}}


async def verify(control: Control, expectations: Any, expect: int = 200, integration: str = "acme") -> Any:
    async with control.client.post(f"/_mock/integrations/{integration}/verify", json=expectations) as response:
        body = await response.json()
        assert response.status == expect, body
        return body


async def a_good_sync(vendor: Vendor, pages: int = 3) -> str:
    session = await vendor.start()
    for page in range(1, pages + 1):
        await vendor.push(session["id"], {"entities": {"User": [user(page)]}, "page_hint": page})
        await vendor.session(session["id"])  # a status read between pages: not in the sequence
    await vendor.close(session["id"])
    return str(session["id"])


async def test_start_pages_then_apply_is_met_and_the_answer_lists_the_requests(
    vendor: Vendor, control: Control
) -> None:
    await a_good_sync(vendor)
    body = await verify(control, {"sequence": [START, PAGES, APPLY]})
    assert body["ok"] is True and body["failures"] == [] and body["requests"] == 8
    assert [(r["operation"], r["status"], r["page"]) for r in body["actual"][:3]] == [
        ("start_session", 201, None),
        ("push_page", 202, 1),
        ("get_session", 200, None),
    ]
    assert body["actual"][0]["session"] == 1 and body["actual"][0]["index"] == 1
    assert "every expectation met" in body["diff"]


async def test_counts_exactly_at_least_at_most_never(vendor: Vendor, control: Control) -> None:
    await a_good_sync(vendor)
    met = {
        "counts": [
            {"operation": "push_page", "status": 202, "exactly": 3},
            {"operation": "get_session", "at_least": 2, "at_most": 3},
            {"status": "5xx", "never": True},
            {"operation": "close_session"},  # no bound: at least one
            {"operation": "push_page", "page": 2, "session": 1, "code": None, "exactly": 1},
        ]
    }
    assert (await verify(control, met))["ok"] is True
    unmet = await verify(control, {"counts": [{"operation": "push_page", "exactly": 4}]}, 422)
    assert unmet["code"] == "expectations_not_met" and unmet["status"] == 422 and unmet["ok"] is False
    (failure,) = unmet["failures"]
    assert failure["expectation"] == "counts[0]" and failure["requests"] == [2, 4, 6]
    assert failure["message"] == "push_page: exactly 4; found 3 (#2, #4, #6)"
    assert "counts[0]: push_page: exactly 4" in unmet["detail"]


async def test_the_diff_points_at_the_first_request_that_does_not_fit(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.call("POST", f"/sessions/{session['id']}/close", 400, json={"action": "apply"})  # no step's
    await vendor.close(session["id"])
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2}, expect=409)
    steps = [START, {"operation": "push_page", "repeat": "+"}, APPLY]
    body = await verify(control, {"sequence": steps}, 422)
    (failure,) = body["failures"]
    assert failure["expectation"] == "sequence" and failure["requests"] == [5]
    assert (
        failure["message"]
        == "request #5 push_page 409 session_not_active session 1 does not fit: expected no more requests"
    )
    diff = body["diff"].splitlines()
    assert diff[:2] == [
        "integration acme: 5 request(s); 1 expectation(s) not met:",
        "  sequence: " + failure["message"],
    ]
    assert diff[2:] == [
        "the requests, in the order they arrived:",
        "    #1 start_session 201 session 1",
        "    #2 push_page 202 session 1 page 1",
        "    #3 close_session 400 invalid_close_status session 1",
        "    #4 close_session 202 session 1",
        "  > #5 push_page 409 session_not_active session 1   <- sequence",
    ]
    pages_after = [START, APPLY, {"operation": "push_page", "repeat": "*"}]
    early = await verify(control, {"sequence": pages_after}, 422)  # a page where a close was expected
    assert early["failures"][0]["message"].startswith(
        "request #2 push_page 202 session 1 page 1 does not fit: "
        'expected step 2 (close_session 202 body {"status": "apply"})'
    )


async def test_a_sequence_that_ends_too_soon_says_what_was_still_expected(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    body = await verify(control, {"sequence": [START, {**PAGES, "repeat": "2+"}, APPLY]}, 422)
    (failure,) = body["failures"]
    assert failure["message"] == (
        "the requests ended before the sequence did: expected step 2 (push_page 202 (2 or more))"
    )


async def test_only_names_every_unexpected_request_and_allow_admits_some(vendor: Vendor, control: Control) -> None:
    await a_good_sync(vendor)
    await vendor.status()
    body = await verify(control, {"sequence": [START, PAGES, APPLY], "only": True}, 422)
    (failure,) = body["failures"]
    assert failure["expectation"] == "only" and failure["requests"] == [3, 5, 7, 9]
    assert failure["message"].startswith("4 unexpected request(s): #3 get_session 200 session 1; #5 get_session")
    allowed: dict[str, Any] = {"sequence": [START, PAGES, APPLY], "only": True, "allow": [{"operation": "get_session"}]}
    assert (await verify(control, allowed, 422))["failures"][0]["requests"] == [9]
    allowed["allow"].append({"operation": "integration_status", "status": "2xx"})
    assert (await verify(control, allowed))["ok"] is True


async def test_a_close_body_is_known_from_its_session_and_other_bodies_when_the_journal_keeps_them(
    vendor: Vendor, control: Control, make_emulator: Any, serve: Any
) -> None:
    await a_good_sync(vendor)
    discard = {"operation": "close_session", "body": {"status": "discard"}, "never": True}
    assert (await verify(control, {"counts": [discard]}))["ok"] is True
    hinted = {"operation": "push_page", "body": {"page_hint": 2}, "exactly": 1}
    unknown = await verify(control, {"counts": [hinted]}, 422)
    assert "turn on journal_bodies_bytes" in unknown["failures"][0]["message"]

    client = await serve(make_emulator(journal_bodies_bytes=100_000))
    await a_good_sync(Vendor(client))
    assert (await verify(Control(client), {"counts": [hinted]}))["ok"] is True
    nested = {"operation": "push_page", "body": {"entities": {"User": [user(3)]}}, "exactly": 1}
    assert (await verify(Control(client), {"counts": [nested]}))["ok"] is True


async def test_an_empty_body_expects_nothing_and_an_unseen_integration_is_not_found(control: Control) -> None:
    """A verification is a read: it never creates the integration it names (a 404, as every read)."""
    async with control.client.post("/_mock/integrations", json={"id": "quiet"}) as response:
        assert response.status == 201
    async with control.client.post("/_mock/integrations/quiet/verify") as response:
        body = await response.json()
    assert response.status == 200 and body["ok"] is True and body["requests"] == 0
    assert (await verify(control, {"counts": [{"operation": "any"}]}, 422, "quiet"))["failures"][0]["requests"] == []
    async with control.client.post("/_mock/integrations/nobody/verify") as response:
        assert response.status == 404 and (await response.json())["code"] == "integration_not_found"
    async with control.client.get("/_mock/integrations") as response:
        assert "nobody" not in {item["id"] for item in (await response.json())["integrations"]}


@pytest.mark.parametrize(
    ("expectations", "says"),
    [
        ({"counts": [{"operation": "push"}]}, "/counts/0/operation: 'push' is not one of"),
        ({"counts": [{"exactly": -1}]}, "/counts/0/exactly: -1 is less than the minimum of 0"),
        ({"sequence": [{"repeat": "1-3"}]}, "/sequence/0/repeat"),
        ({"sequence": [{"status": "2XX"}]}, "/sequence/0/status"),
        ({"sequence": [{"operation": "push_page", "times": 2}]}, "'times' was unexpected"),
        ({"only": "yes"}, "/only: 'yes' is not of type 'boolean'"),
        ({"counts": {"operation": "push_page"}}, "/counts"),
        ({"expect": []}, "'expect' was unexpected"),
        ({"counts": [{"at_least": 3, "at_most": 1}]}, "/counts/0: no count is at least 3 and at most 1"),
        ({"counts": [{"exactly": 1, "never": True}]}, "/counts/0: no count is at least 1 and at most 0"),
    ],
)
async def test_expectations_the_vocabulary_does_not_have_are_400_each_named(
    control: Control, expectations: Any, says: str
) -> None:
    body = await verify(control, expectations, 400)
    assert body["code"] == "invalid_expectations" and any(says in problem for problem in body["errors"]), body
    assert "docs/verify.md" in body["detail"]
    assert (await control.get("/integrations"))["integrations"] == []  # refused before anything was made


async def test_a_body_that_is_not_an_object_is_400(control: Control) -> None:
    async with control.client.post("/_mock/integrations/acme/verify", json=[1]) as response:
        assert response.status == 400 and (await response.json())["code"] == "invalid_parameter"
