"""A push a scenario rule answers 400 before it ran, "as if a record of it were invalid", is a page
rejected on its session, as Sprinto's session records the rejection it answered: the session's
``rejected_batches``, an anomaly in the activity log, the page in the control plane's list (with the
rule that refused it), a state bundle. Before, only the journal knew: a client reconciling its sync
by the session's counts read 0 rejections after being told of one, and a test asserting there were
none passed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user
from .test_scenarios import put_scenario, rules


def page(i: int) -> dict[str, Any]:
    return {"entities": {"User": [user(i)]}, "page_hint": i}


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator(journal_bodies_bytes=10_000_000)  # the HAR holds the bodies


# page 2 rejected once, as if a record of it were invalid
ONCE = rules({"name": "once", "match": {"operation": "push_page", "page": 2}, "times": 1, "respond": {"status": 400}})


async def left_out_and_recovered(control: Control) -> tuple[list[Any], bool | None]:
    """The report's evidence of pages left out of an applied session, and page_rejected's recovery."""
    body = await control.get("/integrations/acme/report")
    left = [e for f in body["findings"] if f["id"] == "applied_with_rejected_pages" for e in f["evidence"]]
    return left, {c["behaviour"]: c["recovered"] for c in body["coverage"]}["page_rejected"]


async def pages_of(control: Control, session_id: str) -> list[Any]:
    detail = await control.get(f"/integrations/acme/sessions/{session_id}")
    return list(detail["pages"])


async def test_a_page_a_rule_rejects_counts_on_its_session_as_an_invalid_one_does(
    vendor: Vendor, control: Control
) -> None:
    once = {
        "name": "reject-once",
        "match": {"operation": "push_page", "page": 2},
        "times": 1,
        "respond": {"status": 400},
    }
    await put_scenario(control.client, rules(once))
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    answer = await vendor.push(session["id"], page(2), expect=400)
    assert answer["code"] == "validation_failed" and answer["rejected_count_total"] == 1
    await vendor.push(session["id"], {"entities": {"User": [user(3, workEmail="not-an-email")]}}, expect=400)

    seen = await vendor.session(session["id"])
    assert (seen["accepted_batches"], seen["rejected_batches"]) == (1, 2)  # the rule's and validation's
    anomalies = [item for item in (await vendor.activity())["items"] if item["type"] == "page_rejected"]
    by_rule, by_schema = sorted(anomalies, key=lambda item: item["details"]["page"])
    assert by_rule["level"] == "error" and by_rule["details"]["rule"] == "reject-once"
    assert by_rule["details"]["code"] == "validation_failed" and by_rule["details"]["rejected_count"] == 1
    assert "reject-once" in by_rule["message"]
    assert "rule" not in by_schema["details"]

    listed = {p["ordinal"]: p for p in await pages_of(control, session["id"])}
    assert (listed[2]["accepted"], listed[2]["code"], listed[2]["rule"], listed[2]["page_hint"]) == (
        False,
        "validation_failed",
        "reject-once",
        2,
    )
    assert listed[1]["rule"] is None and listed[3]["rule"] is None
    # the journal numbers the push as the page it is in the session's list
    (journaled,) = [e for e in await control.journal(integration_id="acme") if e.get("rule") == "reject-once"]
    assert journaled["page"] == 2


async def test_a_rule_naming_its_own_code_and_detail_is_recorded_with_them(vendor: Vendor, control: Control) -> None:
    refuse = {"match": {"operation": "push_page", "page": 1}, "times": 1, "name": "no-emails"}
    refuse["respond"] = {"status": 400, "code": "too_many_items", "detail": "the gateway counted 101"}
    await put_scenario(control.client, rules(refuse))
    session = await vendor.start()
    await vendor.push(session["id"], page(1), expect=400)
    await vendor.push(session["id"], page(1))  # sent again, taken: page 1 of the staged ones

    (rejected, accepted) = await pages_of(control, session["id"])
    assert (rejected["code"], rejected["detail"], rejected["rule"]) == (
        "too_many_items",
        "the gateway counted 101",
        "no-emails",
    )
    assert accepted["accepted"] and accepted["rule"] is None
    seen = await vendor.session(session["id"])
    assert (seen["accepted_batches"], seen["rejected_batches"]) == (1, 1)


async def test_a_prefer_header_rejecting_a_push_counts_on_its_session_too(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], page(1), expect=400, headers={**vendor.headers, "Prefer": "code=400"})
    (rejected,) = await pages_of(control, session["id"])
    assert (rejected["accepted"], rejected["rule"]) == (False, "Prefer: code=400")
    assert (await vendor.session(session["id"]))["rejected_batches"] == 1


async def test_a_rule_answering_after_the_push_ran_leaves_the_page_staged_and_no_rejection(
    vendor: Vendor, control: Control
) -> None:
    # phase after: the page was taken, and the client is told otherwise (a lost answer of a kind)
    lying = {"match": {"operation": "push_page", "page": 1}, "times": 1, "phase": "after", "respond": {"status": 400}}
    await put_scenario(control.client, rules(lying))
    session = await vendor.start()
    await vendor.push(session["id"], page(1), expect=400)
    (staged,) = await pages_of(control, session["id"])
    assert staged["accepted"] and staged["rule"] is None
    seen = await vendor.session(session["id"])
    assert (seen["accepted_batches"], seen["rejected_batches"]) == (1, 0)


async def test_a_rule_answering_400_with_a_body_of_its_own_is_no_rejected_page(
    vendor: Vendor, control: Control
) -> None:
    # A body of the rule's own (a gateway's page, say) is not Sprinto's 400 for an invalid page:
    # the page never reached the session, as a 429 or a 503 a rule answers.
    gateway = {"match": {"operation": "push_page"}, "times": 1, "respond": {"status": 400, "body": "Bad Request"}}
    await put_scenario(control.client, rules(gateway))
    session = await vendor.start()
    await vendor.push(session["id"], page(1), expect=400)
    assert await pages_of(control, session["id"]) == []
    assert (await vendor.session(session["id"]))["rejected_batches"] == 0


async def test_a_page_a_rule_rejected_keeps_its_rule_through_a_state_bundle(vendor: Vendor, control: Control) -> None:
    await put_scenario(control.client, "reject-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    await vendor.push(session["id"], page(2), expect=400)
    bundle = await control.get("/integrations/acme/state")
    before = await pages_of(control, session["id"])
    await control.post("/reset")
    async with control.client.put("/_mock/integrations/acme/state", json=bundle) as response:
        assert response.status == 200, await response.text()
    after = await pages_of(control, session["id"])
    assert [p["rule"] for p in after] == [None, "reject-page-2"] and after == before
    assert (await vendor.session(session["id"]))["rejected_batches"] == 1


async def test_pages_a_rule_rejected_never_push_an_invalid_page_out_of_the_session(
    vendor: Vendor, control: Control
) -> None:
    # The session lists its last 200 rejected pages. A rule refusing one push in ten over a long
    # sync filled them, pushing out the one invalid page a client skipped: the judge, which reads
    # that page from the session (and a rule's from the journal), gave the apply a clean report.
    many = {"name": "p2-many", "match": {"operation": "push_page", "page": 2}, "when": {"first": 201}}
    many["respond"] = {"status": 400}
    await put_scenario(control.client, rules(many))
    session = await vendor.start()
    skipped = {"entities": {"User": [user(900, workEmail="not-an-email")]}, "page_hint": "bad"}
    await vendor.push(session["id"], skipped, expect=400)
    await vendor.push(session["id"], page(1))
    for _ in range(201):
        await vendor.push(session["id"], page(2), expect=400)
    await vendor.push(session["id"], page(2))
    await vendor.close(session["id"])

    listed = await pages_of(control, session["id"])
    assert [p["page_hint"] for p in listed if not p["accepted"] and p["rule"] is None] == ["bad"]
    assert len([p for p in listed if not p["accepted"]]) == 200
    (left,), _ = await left_out_and_recovered(control)
    assert left["page_hint"] == "bad"


async def test_a_rule_s_rejection_is_left_out_when_the_next_pages_came_instead_of_it(
    vendor: Vendor, control: Control
) -> None:
    # A one-shot rule rejects page 2; the client moves on to page 3 and applies. Any later page
    # counted as page 2 sent again: a clean report, where the exam found 1 record of 3 missing.
    await put_scenario(control.client, ONCE)
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    await vendor.push(session["id"], page(2), expect=400)
    await vendor.push(session["id"], page(3))
    await vendor.close(session["id"])

    (left,), recovered = await left_out_and_recovered(control)
    assert "'once'" in left["why"] and recovered is False


async def test_a_rule_s_rejection_sent_again_under_a_hint_naming_the_attempt_is_recovered(
    vendor: Vendor, control: Control
) -> None:
    # The same records under another page_hint ("p2-a2": a tracing id) is the page sent again.
    await put_scenario(control.client, ONCE)
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    records = {"User": [user(2)]}
    await vendor.push(session["id"], {"entities": records, "page_hint": "p2-a1"}, expect=400)
    await vendor.push(session["id"], {"entities": records, "page_hint": "p2-a2"})
    await vendor.close(session["id"])

    assert await left_out_and_recovered(control) == ([], True)


async def test_a_bundle_naming_a_rule_on_an_accepted_page_is_refused(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], page(1))
    bundle = await control.get("/integrations/acme/state")
    (kept,) = bundle["integrations"]
    (staged,) = kept["sessions"]
    staged["accepted_pages"][0]["rule"] = "reject-page-2"
    async with control.client.put("/_mock/integrations/acme/state", json=bundle) as response:
        answer = await response.json()
    assert (response.status, answer["code"]) == (400, "invalid_state")
    assert "an accepted page has no rule" in answer["detail"]


async def test_a_rule_s_rejection_of_a_page_with_no_hint_sent_again_serialized_anew_is_recovered(
    vendor: Vendor, control: Control
) -> None:
    # Without a page_hint nothing but its bytes names the page: its retry serialized anew (its keys
    # in another order) is told from the next page by nothing, so any later page recovers it.
    await put_scenario(control.client, ONCE)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    record = user(2)
    await vendor.push(session["id"], {"entities": {"User": [record]}}, expect=400)
    await vendor.push(session["id"], {"entities": {"User": [dict(reversed(record.items()))]}})
    await vendor.close(session["id"])

    assert await left_out_and_recovered(control) == ([], True)


def hinted(records: list[dict[str, Any]], hint: Any) -> dict[str, Any]:
    return {"entities": {"User": records}} if hint is None else {"entities": {"User": records}, "page_hint": hint}


# What each client sends after page 2 (users 2 and 3) is rejected once, and whether the page is
# then left out of the apply: the hints of pages 1 and 2, the pushes after the 400 (records, hint).
Pushes = list[tuple[list[dict[str, Any]], Any]]
AFTER_A_REJECTION: dict[str, tuple[tuple[Any, Any], Pushes, bool]] = {
    "sent again serialized anew, its hint naming the attempt": (
        ("p1", "p2-a1"),
        [([dict(reversed(user(2).items())), user(3)], "p2-a2"), ([user(4)], "p3")],
        False,
    ),
    "sent again split under hints of its own": (
        ("p1", "p2"),
        [([user(2)], "p2a"), ([user(3)], "p2b"), ([user(4)], "p3")],
        False,
    ),
    "skipped, no hints": ((None, None), [([user(4)], None)], True),
    "skipped, every hint the same": (("User", "User"), [([user(4)], "User")], True),
    "skipped, the hint a count of pages accepted": ((1, 2), [([user(4)], 2)], True),
}


async def sync_after_a_rejection(behaviour: str, vendor: Vendor, control: Control) -> Any:
    """The client of ``behaviour`` under the one-shot rule, up to its close: its session."""
    (first, second), pushes, _ = AFTER_A_REJECTION[behaviour]
    await put_scenario(control.client, ONCE)
    session = await vendor.start()
    await vendor.push(session["id"], hinted([user(1)], first))
    await vendor.push(session["id"], hinted([user(2), user(3)], second), expect=400)
    for records, hint in pushes:
        await vendor.push(session["id"], hinted(records, hint))
    return session


async def har_judged(control: Control) -> Any:
    """The HAR judge's report on the integration's journal as HAR."""
    har = await control.get("/journal.har?integration_id=acme")
    async with control.client.post("/_mock/judge", json=har) as response:
        (judged,) = (await response.json())["integrations"]
    return judged


@pytest.mark.parametrize("behaviour", list(AFTER_A_REJECTION))
async def test_a_rule_s_rejection_is_judged_by_what_its_applied_session_holds(
    behaviour: str, vendor: Vendor, control: Control
) -> None:
    # Judged by the journal alone (bytes, hints), a page sent again serialized anew under another
    # hint, or split, was left out; a page skipped where no hint named it was sent again.
    left_out = AFTER_A_REJECTION[behaviour][2]
    session = await sync_after_a_rejection(behaviour, vendor, control)
    await vendor.close(session["id"])
    await control.advance(3, "acme")  # processed: what it applied tells
    assert (await vendor.session(session["id"]))["state"] == "processed"  # read, so a HAR shows it too

    left, recovered = await left_out_and_recovered(control)
    assert (bool(left), recovered) == (left_out, not left_out), left
    if left:
        assert left[0]["page"] == 2 and "the scenario rule 'once' rejected this page" in left[0]["why"]
    # The HAR judge's verdict is the live report's: it too lists the rule's rejection on its session
    # (it judged it from the journal alone, as the live report had, and the two parted).
    live = await control.get("/integrations/acme/report")
    judged = await har_judged(control)
    assert sorted(f["id"] for f in judged["findings"]) == sorted(f["id"] for f in live["findings"])
    assert [c for c in judged["coverage"] if c["behaviour"] == "page_rejected"] == [
        c for c in live["coverage"] if c["behaviour"] == "page_rejected"
    ]


@pytest.mark.parametrize("behaviour", [name for name, (_, _, left_out) in AFTER_A_REJECTION.items() if not left_out])
async def test_a_rule_s_rejection_sent_again_is_told_from_the_pages_staged_before_the_session_is_processed(
    behaviour: str, vendor: Vendor, control: Control
) -> None:
    # A pytest test's report comes while its session is processing (the clock not moved): what it
    # applied tells nothing yet, and the page sent again under another hint was left out.
    session = await sync_after_a_rejection(behaviour, vendor, control)
    assert (await vendor.close(session["id"]))["state"] == "processing"
    assert await left_out_and_recovered(control) == ([], True)
    judged = await har_judged(control)
    assert "applied_with_rejected_pages" not in [f["id"] for f in judged["findings"]]
