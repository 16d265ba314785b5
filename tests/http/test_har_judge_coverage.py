"""The judge on captured traffic, its coverage and evidence against the live report's: a forced expiry
read from its 409, a HAR without bodies saying which behaviours it cannot tell (never answering in
the client's favour), a recorder's timed reads of a retried session, the hint of a page whose answer
was lost. Each case a reviewer found the HAR judge disagreeing on."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from mock_sprinto.report import BEHAVIOURS, KINDS
from mock_sprinto.report.har import judge_har, judgement_text
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor
from .test_har_judge import as_captured, covered
from .test_report import _page, put_scenario


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator(journal_bodies_bytes=10_000_000)  # the HAR holds the bodies


async def _live_and_har(control: Control) -> tuple[dict[str, Any], dict[str, Any]]:
    live = await control.get("/integrations/acme/report")
    return live, await control.get("/journal.har?integration_id=acme&redact=false")


def _judged(document: dict[str, Any]) -> dict[str, Any]:
    (judged,) = judge_har(document).public()["integrations"]
    assert isinstance(judged, dict)
    return judged


def without_bodies(har: dict[str, Any]) -> dict[str, Any]:
    """The HAR as the emulator writes it with journal_bodies_bytes off, or a recorder keeping none."""
    stripped = copy.deepcopy(har)
    for entry in stripped["log"]["entries"]:
        entry["request"].pop("postData", None)
        entry["response"].get("content", {}).pop("text", None)
    return stripped


def agrees_or_unknown(judged: dict[str, Any], live: dict[str, Any]) -> set[str]:
    """Asserts each behaviour's coverage is the live report's or said unknown; the unknown ones."""
    unknown = {item["id"] for item in judged["not_judged"] if item["id"] in BEHAVIOURS}
    assert covered(judged) == {b: v for b, v in covered(live).items() if b not in unknown}
    assert unknown.isdisjoint(set(covered(judged)))
    return unknown


async def _expired_at_page_2(vendor: Vendor, control: Control, careful: bool) -> str:
    """expire-at-page-2: page 2 meets 409 session_not_active (state expired). A careful client starts
    over and pushes every page again; a careless one applies the expired session without page 2."""
    await put_scenario(control, "expire-at-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.push(session["id"], _page(2), expect=409)
    applied = session["id"]
    if careful:
        again = await vendor.start()
        for n in (1, 2, 3):
            await vendor.push(again["id"], _page(n))
        applied = again["id"]
    await vendor.close(applied)
    await control.advance(2, "acme")
    assert (await vendor.session(applied))["state"] == "processed"
    return str(applied)


@pytest.mark.parametrize("careful", [True, False])
async def test_an_expiry_a_scenario_forced_is_read_from_its_409(
    careful: bool, vendor: Vendor, control: Control
) -> None:
    # The 409 of the rule's expiry was taken for the rule's own answer: session_expired not met,
    # though live it was met (and recovered, by the careful client).
    await _expired_at_page_2(vendor, control, careful)
    live, har = await _live_and_har(control)
    assert covered(live)["session_expired"] == (True, careful)
    for document in (har, as_captured(har)):
        judged = _judged(document)
        assert covered(judged)["session_expired"] == covered(live)["session_expired"]
        assert covered(judged) == covered(live)


async def test_a_har_without_bodies_says_which_coverage_it_cannot_tell(vendor: Vendor, control: Control) -> None:
    # The careless client applied the expired session without page 2: live, session_expired and
    # session_not_active were met and not recovered; from a HAR without bodies they read recovered
    # (the close's apply unknown), and applied read not met.
    await _expired_at_page_2(vendor, control, careful=False)
    live, har = await _live_and_har(control)
    assert covered(live)["session_expired"] == (True, False) and covered(live)["applied"] == (True, None)
    # The emulator's own HAR says how the session was closed (_closeStatus): whether the client
    # recovered from the 409 is known there, as live; a recorder's HAR without bodies cannot tell.
    judged = _judged(without_bodies(har))
    assert {"session_expired", "applied"} <= agrees_or_unknown(judged, live)
    assert covered(judged)["session_not_active"] == covered(live)["session_not_active"]
    document = without_bodies(as_captured(har))
    judged = _judged(document)
    unknown = agrees_or_unknown(judged, live)
    assert {"session_expired", "session_not_active", "applied"} <= unknown
    whys = {item["id"]: item["why"] for item in judged["not_judged"]}
    assert whys["applied"].startswith("coverage: whether the run met it is unknown")
    assert whys["session_not_active"].startswith("coverage: whether the client recovered is unknown")
    text = judgement_text(judge_har(document), "t.har").split("  coverage not judged from this HAR:\n")[1]
    assert "applied" in text and "session_not_active" in text and "unknown" in text


async def test_a_har_with_bodies_of_a_client_that_read_its_outcome_judges_all_coverage(
    vendor: Vendor, control: Control
) -> None:
    await _expired_at_page_2(vendor, control, careful=True)
    live, har = await _live_and_har(control)
    judged = _judged(har)
    assert judged["not_judged"] == [] and covered(judged) == covered(live)


def test_no_finding_bears_a_behaviours_name() -> None:
    """``not_judged`` names findings and behaviours alike: a name must tell which it is."""
    assert not {kind.id for kind in KINDS} & set(BEHAVIOURS)


async def test_a_recorders_read_of_a_retried_session_processed_is_its_recovery(
    vendor: Vendor, control: Control
) -> None:
    # A recorder's HAR (no _answeredDateTime) ends a session at the answer that showed it
    # processed, which the read that showed it arrived before: processing_retried never recovered.
    await put_scenario(control, "processing-fails-once")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.close(session["id"])
    await control.advance(5, "acme")
    read = await vendor.session(session["id"])
    assert (read["state"], read["retry_count"]) == ("processed", 1)
    live, har = await _live_and_har(control)
    assert covered(live)["processing_retried"] == (True, True)
    recorded = as_captured(har)
    for entry in recorded["log"]["entries"]:
        entry["time"] = 40  # each answer 40 ms after its request, as a client's clock sees it
    assert covered(_judged(recorded))["processing_retried"] == (True, True)


async def test_a_page_whose_answer_was_lost_keeps_its_hint_in_the_evidence(vendor: Vendor, control: Control) -> None:
    # A careless client: page 2's answer lost (it was staged), never sent again, the session applied.
    await put_scenario(control, "lost-answer-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    with pytest.raises(aiohttp.ClientError):
        await vendor.push(session["id"], _page(2))
    await vendor.push(session["id"], _page(3))
    await vendor.close(session["id"])
    live, har = await _live_and_har(control)
    (given_up,) = [f for f in live["findings"] if f["id"] == "gave_up"]
    assert given_up["evidence"][0]["page_hint"] == 2
    for document in (har, without_bodies(har)):
        (judged_given_up,) = [f for f in _judged(document)["findings"] if f["id"] == "gave_up"]
        assert judged_given_up["evidence"] == given_up["evidence"]
