"""A reviewer's careful clients the judge blamed, and a careless one it missed, each as a scripted
client: a page built again for its retry, a lost answer checked by a read instead of a blind
re-send, a retry budget then a discard, a close answered 503 then read, and a request the client
abandoned on its timeout while a scenario held it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from ..helpers import Control, Vendor, user
from .test_report import _fault, _use, covered, finding, ids, report

PAGE_2 = {"match": {"operation": "push_page", "page": 2}}


def rule(times: int, **respond: Any) -> dict[str, Any]:
    return {"name": "page-2", "rules": [{**PAGE_2, "times": times, **respond}]}


async def push_text(vendor: Vendor, session_id: str, text: str, expect: int | None = 202) -> Any:
    headers = {"Content-Type": "application/json"}
    return await vendor.push(session_id, None, expect=expect, data=text.encode(), headers=headers)


def pages() -> list[dict[str, Any]]:
    return [{"page_hint": n, "entities": {"User": [user(n)]}} for n in (1, 2, 3)]


async def test_a_page_built_again_for_its_retry_is_the_same_page(vendor: Vendor, control: Control) -> None:
    """Each attempt serializes the records again (keys sorted one time, not the next): a 503 then a
    202 of other bytes with the same page_hint was gave_up, an error."""
    await _use(control, rule(2, respond={"status": 503}))
    session = await vendor.start()
    first, second, third = pages()
    await push_text(vendor, session["id"], json.dumps(first))
    for attempt, wait in ((0, 0.5), (1, 1.0)):
        await push_text(vendor, session["id"], json.dumps(second, sort_keys=attempt == 1, indent=attempt), 503)
        await control.advance(wait, "acme")
    await push_text(vendor, session["id"], json.dumps(second, indent=2))
    await push_text(vendor, session["id"], json.dumps(third))
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    await vendor.session(session["id"])
    assert ids(await report(control)) == []


@pytest.mark.parametrize("where", ["last", "first"])
async def test_a_retry_whose_page_hint_names_the_attempt_is_the_same_page(
    vendor: Vendor, control: Control, where: str
) -> None:
    """The hint names each try ("p2-a1", "p2-a2": a tracing id), the records the same bytes: a
    careful client that retried with backoff was gave_up, an error, in four of the exam's trials."""
    await _use(control, rule(2, respond={"status": 503}))
    session = await vendor.start()

    def page(n: int, hint: str) -> str:
        records = json.dumps({"User": [user(n)]})
        member = json.dumps(hint)
        return (
            f'{{"page_hint": {member}, "entities": {records}}}'
            if where == "first"
            else (f'{{"entities": {records}, "page_hint": {member}}}')
        )

    await push_text(vendor, session["id"], page(1, "p1-a1"))
    for attempt, wait in ((1, 0.5), (2, 1.0)):
        await push_text(vendor, session["id"], page(2, f"p2-a{attempt}"), 503)
        await control.advance(wait, "acme")
    await push_text(vendor, session["id"], page(2, "p2-a3"))
    await push_text(vendor, session["id"], page(3, "p3-a1"))
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    await vendor.session(session["id"])
    body = await report(control)
    assert ids(body) == []


async def test_the_same_records_staged_twice_under_two_hints_are_a_duplicate_page(
    vendor: Vendor, control: Control
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": "a"})
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": "b"})
    assert "duplicate_page" in ids(await report(control))


async def test_a_page_built_again_after_a_reset_recovers_the_transport_fault(vendor: Vendor, control: Control) -> None:
    await _use(control, rule(1, transport="reset"))
    session = await vendor.start()
    first, second, _ = pages()
    await push_text(vendor, session["id"], json.dumps(first))
    with pytest.raises(aiohttp.ClientError):
        await push_text(vendor, session["id"], json.dumps(second))
    await push_text(vendor, session["id"], json.dumps(second, sort_keys=True))
    body = await report(control)
    assert covered(body)["transport_fault"] == (True, True) and "gave_up" not in ids(body)


async def test_a_lost_answer_checked_by_reading_the_session_is_no_giving_up(vendor: Vendor, control: Control) -> None:
    """The page was staged, then its answer lost: the client reads the session, sees the page
    counted and does not send it again (which would stage it twice)."""
    await _use(control, rule(1, phase="after", transport="reset"))
    session = await vendor.start()
    first, second, third = pages()
    await vendor.push(session["id"], first)
    with pytest.raises(aiohttp.ClientError):
        await vendor.push(session["id"], second)
    assert (await vendor.session(session["id"]))["accepted_batches"] == 2
    await vendor.push(session["id"], third)
    body = await report(control)
    assert "gave_up" not in ids(body) and covered(body)["transport_fault"] == (True, True)


async def test_a_close_answered_503_then_read_still_active_is_giving_up(vendor: Vendor, control: Control) -> None:
    """The read shows the session still active: the client knows its close failed. It read as a
    follow-up, and a sync that applied nothing got a clean report."""
    await _use(control, _fault("close-503", 1, {"status": 503}, operation="close_session"))
    session = await vendor.start()
    await vendor.push(session["id"], pages()[0])
    await vendor.close(session["id"], expect=503)
    assert (await vendor.session(session["id"]))["state"] == "active"
    found = finding(await report(control), "gave_up")
    assert found["evidence"][0]["operation"] == "close_session"


async def test_a_close_whose_answer_was_lost_then_read_closed_is_followed_up(vendor: Vendor, control: Control) -> None:
    lost_close = {"match": {"operation": "close_session"}, "times": 1, "phase": "after", "transport": "reset"}
    await _use(control, {"name": "close-lost", "rules": [lost_close]})
    session = await vendor.start()
    await vendor.push(session["id"], pages()[0])
    with pytest.raises(aiohttp.ClientError):
        await vendor.close(session["id"])
    assert (await vendor.session(session["id"]))["state"] in ("processing", "processed")
    assert "gave_up" not in ids(await report(control))


@pytest.mark.parametrize(("tries", "judged"), [(1, True), (3, False)])
async def test_a_retry_budget_then_a_discard_fails_loudly_as_advised(
    vendor: Vendor, control: Control, tries: int, judged: bool
) -> None:
    """Page 2 keeps failing (an outage): retried with backoff, then the session discarded and the
    sync failed. gave_up said so once a try; a discard without a single retry is still giving up."""
    await _use(control, rule(10, respond={"status": 503}))
    session = await vendor.start()
    first, second, _ = pages()
    await vendor.push(session["id"], first)
    for attempt in range(tries):
        await vendor.push(session["id"], second, expect=503)
        await control.advance(0.5 * 2**attempt, "acme")
    await vendor.close(session["id"], "discard")
    found = [f for f in (await report(control))["findings"] if f["id"] == "gave_up"]
    assert bool(found) is judged
    assert not found or found[0]["count"] == 1


async def test_an_attempt_that_kept_failing_is_given_up_once(vendor: Vendor, control: Control) -> None:
    await _use(control, rule(10, respond={"status": 503}))
    session = await vendor.start()
    first, second, _ = pages()
    await vendor.push(session["id"], first)
    for attempt in range(3):
        await vendor.push(session["id"], second, expect=503)
        await control.advance(0.5 * 2**attempt, "acme")
    assert finding(await report(control), "gave_up")["count"] == 1  # was 3: one a try


async def test_the_journal_keeps_the_page_hint_of_a_push_a_rule_answered(vendor: Vendor, control: Control) -> None:
    await _use(control, rule(1, respond={"status": 429, "retry_after": 1}))
    session = await vendor.start()
    first, second, _ = pages()
    await vendor.push(session["id"], first)
    await vendor.push(session["id"], {**second, "page_hint": "two"}, expect=429)
    pushes = [
        e for e in (await control.get("/journal?integration_id=acme"))["entries"] if e["operation"] == "push_page"
    ]
    assert [(e["status"], e["page"], e["page_hint"]) for e in pushes] == [(202, 1, 1), (429, None, "two")]


async def test_a_request_abandoned_on_its_timeout_while_held_is_journaled_as_a_hang_up(
    vendor: Vendor, control: Control
) -> None:
    """The client times out while a scenario holds page 2, sends it again (accepted) and applies.
    The held request went on after the client had gone, met the closed session and was journaled
    409 session_not_active: an applied session without the page, an error, for a careful client."""
    session = await _timed_out_on_page_2(vendor, control)
    second, third = pages()[1:]
    await vendor.push(session, second)
    await vendor.push(session, third)
    await vendor.close(session)
    held = await _held(control)
    assert (held["status"], held["code"]) == (499, "client_disconnected")
    await control.advance(2, "acme")
    await vendor.session(session)
    assert ids(await report(control)) == []


async def test_a_page_the_held_request_staged_after_the_client_left_is_not_its_duplicate(
    vendor: Vendor, control: Control
) -> None:
    """The client times out on page 2, sends it again (staged, 202) and waits; the held request
    then goes on and stages the same page a second time, after its client had hung up. That copy is
    the emulator's late work on an abandoned request, not a page the client sent twice (the report
    said duplicate_page; a HAR of the run said nothing)."""
    session = await _timed_out_on_page_2(vendor, control)
    second = pages()[1]
    await vendor.push(session, second)
    held = await _held(control)  # the held request ends: staged as page 3
    assert (held["status"], held["code"], held["page"]) == (499, "client_disconnected", 3)
    body = await report(control)
    assert "duplicate_page" not in ids(body), ids(body)


async def test_reading_the_session_before_each_page_is_checking_not_polling(vendor: Vendor, control: Control) -> None:
    """Eight pages, each after a read of the session (is it still active?): 13 reads in 0.01 s of
    emulator time were status_polled_too_fast, a warning."""
    session = await vendor.start()
    for n in range(1, 9):
        assert (await vendor.session(session["id"]))["state"] == "active"
        await vendor.push(session["id"], {"page_hint": n, "entities": {"User": [user(n)]}})
    await vendor.close(session["id"])
    for wait in (0.25, 0.5, 1.0, 2.0):  # then a poll that backs off
        await control.advance(wait, "acme")
        await vendor.session(session["id"])
    assert ids(await report(control)) == []


async def test_reads_in_a_row_without_pause_are_still_polling_too_fast(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"page_hint": 1, "entities": {"User": [user(1)]}})
    await vendor.session(session["id"])
    await vendor.push(session["id"], {"page_hint": 2, "entities": {"User": [user(2)]}})
    for _ in range(5):  # a read before a page, then five at once: the five are a poll
        await vendor.session(session["id"])
    assert "status_polled_too_fast" in ids(await report(control))


@pytest.mark.parametrize(
    ("waits", "judged"),
    [
        ((0.027, 0.339, 0.611, 0.408), False),  # "full jitter" (a reviewer's seed 1): growing on the whole
        ((0.2, 0.2, 0.2, 0.2), True),  # a fixed short loop
        ((0.3, 0.1, 0.3, 0.1), True),  # jumping about, growing nowhere
    ],
)
async def test_a_jittered_backoff_poll_is_backing_off(
    vendor: Vendor, control: Control, waits: tuple[float, ...], judged: bool
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"page_hint": 1, "entities": {"User": [user(1)]}})
    await vendor.close(session["id"])
    await vendor.session(session["id"])
    for wait in waits:
        await control.advance(wait, "acme")
        await vendor.session(session["id"])
    assert ("status_polled_too_fast" in ids(await report(control))) is judged


async def test_an_attribute_sharing_a_stem_with_a_known_field_is_no_typo(vendor: Vendor, control: Control) -> None:
    """employmentStatus (an HR attribute Sprinto accepts) was "did you mean employmentStartDate?", a
    warning; a typo is a letter or two away."""
    session = await vendor.start()
    await vendor.push(session["id"], {"page_hint": 1, "entities": {"User": [user(1, employmentStatus="active")]}})
    assert "unknown_field" not in ids(await report(control))
    await vendor.push(session["id"], {"page_hint": 2, "entities": {"User": [user(2, employmentTyep="EMPLOYEE")]}})
    found = finding(await report(control), "unknown_field")
    assert "employmentTyep" in str(found["evidence"]) and "employmentType" in str(found["evidence"])


async def test_a_lost_start_whose_session_is_then_used_is_recovered(vendor: Vendor, control: Control) -> None:
    """The start's answer was lost after the session was made; the next start meets 409 naming it,
    and the client pushes to it: the transport fault was said not recovered (no start answered)."""
    lost_start = {"match": {"operation": "start_session"}, "times": 1, "phase": "after", "transport": "reset"}
    await _use(control, {"name": "start-lost", "rules": [lost_start]})
    with pytest.raises(aiohttp.ClientError):
        await vendor.start()
    conflict = await vendor.start(expect=409)
    await vendor.push(conflict["active_session_id"], pages()[0])
    await vendor.close(conflict["active_session_id"])
    await control.advance(2, "acme")
    await vendor.session(conflict["active_session_id"])
    body = await report(control)
    assert covered(body)["transport_fault"] == (True, True) and ids(body) == []


# ---- a second review: a hint that names no page, tries of a page serialized anew, a page skipped
# after a timeout, a HAR without bodies, many throttled pages ------------------------------------
@pytest.mark.parametrize("hint", ["User", 0, ""])
async def test_a_hint_every_page_shares_names_no_page(vendor: Vendor, control: Control, hint: Any) -> None:
    """Every page sent with one hint: page 3, sent in place of the 503'd page 2, was taken for its
    re-send (no gave_up, and rate_limited and transport_fault 'recovered')."""
    await _use(control, rule(1, respond={"status": 503}))
    session = await vendor.start()
    first, second, third = ({**page, "page_hint": hint} for page in pages())
    await vendor.push(session["id"], first)
    await vendor.push(session["id"], second, expect=503)
    await control.advance(1, "acme")
    await vendor.push(session["id"], third)  # page 2 never again
    await vendor.close(session["id"])
    assert "gave_up" in ids(await report(control))


async def test_a_hint_every_page_shares_is_no_recovery_from_a_throttle(vendor: Vendor, control: Control) -> None:
    await _use(control, rule(1, respond={"status": 429, "retry_after": 1}))
    session = await vendor.start()
    first, second, third = ({**page, "page_hint": "User"} for page in pages())
    await vendor.push(session["id"], first)
    await vendor.push(session["id"], second, expect=429)
    await control.advance(1, "acme")
    await vendor.push(session["id"], third)
    assert covered(await report(control))["rate_limited"] == (True, False)


@pytest.mark.parametrize(("waits", "judged"), [((0.3, 0.6, 0.9), False), ((0.0,), True)])
async def test_tries_of_a_page_serialized_anew_then_a_discard(
    vendor: Vendor, control: Control, waits: tuple[float, ...], judged: bool
) -> None:
    """Three tries of page 2, each serialized anew (keys in another order), backing off, then a
    discard: gave_up, counted once a try, since each try's bytes made an attempt of its own. One
    retry at once then a discard is still giving up: no backoff, no 'several tries'."""
    await _use(control, rule(10, respond={"status": 503}))
    session = await vendor.start()
    first, second, _ = pages()
    await vendor.push(session["id"], first)
    await push_text(vendor, session["id"], json.dumps(second), 503)
    for attempt, wait in enumerate(waits):
        await control.advance(wait, "acme")
        await push_text(vendor, session["id"], json.dumps(second, sort_keys=attempt % 2 == 0, indent=attempt), 503)
    await vendor.close(session["id"], "discard")
    found = [f for f in (await report(control))["findings"] if f["id"] == "gave_up"]
    assert bool(found) is judged and (not found or found[0]["count"] == 1)


async def test_a_page_skipped_after_its_push_timed_out_is_giving_up(vendor: Vendor, control: Control) -> None:
    """The client timed out while a rule held page 2 and moved on to page 3: the held push, journaled
    499 (the client never read its answer), is a failure no push followed up."""
    session = await _timed_out_on_page_2(vendor, control)
    await vendor.push(session, pages()[2])
    await vendor.close(session)
    held = await _held(control)
    assert held["page_hint"] == 2  # its page's hint, though the page never reached its session
    found = finding(await report(control), "gave_up")
    assert found["evidence"][0]["request_id"] == held["request_id"]


async def test_a_har_without_bodies_knows_a_page_by_its_hint(vendor: Vendor, control: Control) -> None:
    """Bodies are not captured by default: the HAR's _pageHint is all it has of a page, and a 503'd
    page never sent again was judged followed up by any later push."""
    await _use(control, rule(1, respond={"status": 503}))
    session = await vendor.start()
    first, second, third = pages()
    await vendor.push(session["id"], first)
    await vendor.push(session["id"], second, expect=503)
    await vendor.push(session["id"], third)
    await vendor.close(session["id"])
    har = await control.get("/journal.har?integration_id=acme")
    async with control.client.post("/_mock/judge", json=har) as response:
        judged = await response.json()
    assert response.status == 200, judged
    (integration,) = judged["integrations"]
    assert "gave_up" in [f["id"] for f in integration["findings"]], judged


def test_the_coverage_of_many_throttled_pages_reads_the_run_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rate_limited looked for each throttled page's re-send from the start of the run: 10,000
    throttled pages held the loop 1.7 s a report."""
    from mock_sprinto.report.coverage import rate_limited
    from mock_sprinto.report.run import Run

    calls = 0
    original = Run.page_keys

    def counted(self: Run, entry: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, entry)

    monkeypatch.setattr(Run, "page_keys", counted)
    for pages_throttled in (200, 800):
        calls = 0
        rate_limited(_throttled_run(pages_throttled))
        assert calls <= 4 * 2 * pages_throttled, (pages_throttled, calls)  # a few looks an entry, not one a pair


def _throttled_run(pages_throttled: int) -> Any:
    from mock_sprinto.journal import JournalEntry
    from mock_sprinto.report.run import Run

    from ..unit.test_report import tenant

    entries = []
    for n in range(pages_throttled):
        for status, order in ((429, 2 * n + 1), (202, 2 * n + 2)):
            entries.append(
                JournalEntry(
                    f"req_{order}",
                    1767225600.0 + order,
                    "POST",
                    "/p",
                    "push_page",
                    status,
                    None,
                    1.0,
                    "acme",
                    "ses_1",
                    100,
                    arrival=order,
                    answer=order,
                    digest=f"d{n}",
                    page=n + 1 if status == 202 else None,
                )
            )
    return Run(tenant(), entries, {})


async def _timed_out_on_page_2(vendor: Vendor, control: Control) -> str:
    """A session whose page 2 a rule holds a second: the client times out on it. Its id."""
    await _use(control, rule(1, delay={"seconds": 1}))
    session = (await vendor.start())["id"]
    first, second, _ = pages()
    await vendor.push(session, first)
    with pytest.raises(asyncio.TimeoutError):
        await vendor.push(session, second, timeout=aiohttp.ClientTimeout(total=0.2))
    return str(session)


async def _held(control: Control) -> Any:
    """The journal's entry of the held push, once it ended (a second after it came)."""
    for _ in range(50):
        entries = (await control.get("/journal?integration_id=acme"))["entries"]
        held = [e for e in entries if e["operation"] == "push_page" and e["rule"] is not None]
        if held:
            return held[0]
        await asyncio.sleep(0.1)
    raise AssertionError("the held push never ended")


# ---- a page rejected 400: its records, applied in the end or not ----------------------------------
def _unhinted(n: int, **fields: Any) -> dict[str, Any]:
    return {"entities": {"User": [user(n, **fields), user(n + 100)]}}


@pytest.mark.parametrize(("fixed", "judged"), [(False, True), (True, False)])
async def test_a_page_without_a_hint_rejected_then_skipped_is_applied_without_it(
    vendor: Vendor, control: Control, fixed: bool, judged: bool
) -> None:
    """No page_hint: any later accepted page passed for the fixed one, and a client that skipped the
    rejected page and applied the rest got a clean report while its records were lost."""
    session = await vendor.start()
    await vendor.push(session["id"], _unhinted(1))
    await vendor.push(session["id"], _unhinted(2, workEmail="not an email"), expect=400)
    if fixed:
        await vendor.push(session["id"], _unhinted(2))
    await vendor.push(session["id"], _unhinted(3))
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"
    body = await report(control)
    assert ("applied_with_rejected_pages" in ids(body)) is judged
    assert covered(body)["page_rejected"] == (True, not judged)


async def test_a_page_fixed_and_sent_under_a_new_hint_is_replaced(vendor: Vendor, control: Control) -> None:
    """A client numbering requests, not pages: the fixed page 2 went out as hint 3, and the page
    rejected under hint 2 was said never replaced, an error."""
    session = await vendor.start()
    await vendor.push(session["id"], {**_unhinted(1), "page_hint": 1})
    await vendor.push(session["id"], {**_unhinted(2, workEmail="x"), "page_hint": 2}, expect=400)
    await vendor.push(session["id"], {**_unhinted(2), "page_hint": 3})
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    await vendor.session(session["id"])
    assert ids(await report(control)) == []


async def test_a_rejected_pages_record_keys_travel_in_a_bundle(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], _unhinted(2, workEmail="x"), expect=400)
    await vendor.push(session["id"], _unhinted(3))
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    document = await control.get("/integrations/acme/state")
    (rejected,) = document["integrations"][0]["sessions"][0]["rejected_pages"]
    assert rejected["record_keys"] == [["User", "E2"], ["User", "E102"]]
    before = ids(await report(control))
    async with control.client.put("/_mock/integrations/acme/state", json=document) as response:
        assert response.status == 200, await response.text()
    assert ids(await report(control)) == before and "applied_with_rejected_pages" in before


async def test_a_later_sync_that_leaves_records_out_does_not_blame_an_earlier_one(
    vendor: Vendor, control: Control
) -> None:
    """Sync 1 fixed its rejected page; sync 2 (a user left the company) replaces the dataset without
    that page's users: sync 1's page is not judged by what sync 2 applied."""
    first = await vendor.start()
    await vendor.push(first["id"], _unhinted(2, workEmail="x"), expect=400)
    await vendor.push(first["id"], _unhinted(2))
    await vendor.close(first["id"])
    await control.advance(2, "acme")
    await vendor.session(first["id"])
    second = await vendor.start()
    await vendor.push(second["id"], _unhinted(3))
    await vendor.close(second["id"])
    await control.advance(2, "acme")
    await vendor.session(second["id"])
    assert "applied_with_rejected_pages" not in ids(await report(control))


@pytest.mark.parametrize("how", ["new hint", "keys reordered", "another value still invalid", "fixed"])
async def test_a_rejected_page_sent_again_under_a_new_hint_or_reserialized_is_unchanged(
    vendor: Vendor, control: Control, how: str
) -> None:
    """A reviewer's client sent the same invalid page 5 times, each with a fresh page_hint, or
    serialized anew: no finding, where the same bytes each time were resent_rejected_page_unchanged."""
    session = await vendor.start()
    bad = {"entities": {"User": [user(1), user(2, workEmail="not an email")]}, "page_hint": 1}
    await vendor.push(session["id"], bad, expect=400)
    again: dict[str, Any] = {
        "new hint": {**bad, "page_hint": 2},
        "keys reordered": {
            "page_hint": 1,
            "entities": {"User": [dict(reversed(r.items())) for r in bad["entities"]["User"]]},
        },
        "another value still invalid": {
            "entities": {"User": [user(1), user(2, workEmail="still wrong")]},
            "page_hint": 1,
        },
        "fixed": {"entities": {"User": [user(1), user(2)]}, "page_hint": 1},
    }[how]
    await vendor.push(session["id"], again, expect=202 if how == "fixed" else 400)
    judged = "resent_rejected_page_unchanged" in ids(await report(control))
    assert judged is (how in ("new hint", "keys reordered"))


@pytest.mark.parametrize("hint", [None, 7], ids=["no page_hint", "the same page_hint"])
@pytest.mark.parametrize(
    ("sent_again", "judged"),
    [("one", True), ("the fixed one", True), ("the valid ones", False), ("all, fixed", False)],
)
async def test_a_rejected_page_fixed_by_sending_part_of_it_left_records_out(
    vendor: Vendor, control: Control, sent_again: str, judged: bool, hint: int | None
) -> None:
    """Ten records, one invalid: the client sent on only the first, or only the record it fixed
    (the other valid ones lost), and the page counted as fixed; under the same page_hint it counted
    as fixed whatever was sent again. Dropping the invalid one alone is a fix a client may have to make."""
    records = [user(n) for n in range(10)]
    records[3] = user(3, workEmail="not an email")
    hinted = {} if hint is None else {"page_hint": hint}
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": records}, **hinted}, expect=400)
    again = {
        "one": records[:1],
        "the fixed one": [user(3)],
        "the valid ones": [r for n, r in enumerate(records) if n != 3],
        "all, fixed": [user(n) for n in range(10)],
    }[sent_again]
    await vendor.push(session["id"], {"entities": {"User": again}, **hinted})
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    await vendor.session(session["id"])
    assert ("applied_with_rejected_pages" in ids(await report(control))) is judged


async def test_a_push_after_the_clients_own_apply_is_not_a_page_the_apply_left_out(
    vendor: Vendor, control: Control
) -> None:
    """The sync was whole when it was applied; the late push is push_to_inactive_session's alone.
    It was also applied_with_rejected_pages, whose advice was to push every page again."""
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(session["id"])
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2}, expect=409)
    await control.advance(3, "acme")
    await vendor.session(session["id"])
    assert ids(await report(control)) == ["push_to_inactive_session"]


async def test_a_page_a_rule_refuses_as_invalid_answers_sprintos_400_shape(vendor: Vendor, control: Control) -> None:
    """The shipped reject-page-2 answered a bare problem (no session_id, no echoes, one record
    rejected of ten): a client reading echoes.page_hint, as documented, crashed in the exam."""
    async with control.client.put("/_mock/integrations/acme/scenario", json="reject-page-2") as response:
        assert response.status == 200, await response.text()
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    page = {"entities": {"User": [user(n) for n in range(2, 12)]}, "page_hint": "two"}
    body = await vendor.push(session["id"], page, expect=400)
    assert (body["code"], body["session_id"]) == ("validation_failed", session["id"])
    assert body["echoes"] == {"page_hint": "two"}
    assert (body["accepted_count_total"], body["accepted_count_by_entity"], body["rejected_count_total"]) == (0, {}, 10)
    assert [e["code"] for e in body["validation_errors"]] == ["injected"]
    assert body["validation_errors_truncated"] is False
    assert "reject-page-2" in body["validation_errors"][0]["issue"]


@pytest.mark.parametrize(("again_in", "judged"), [("a new session", False), ("the same session", True)])
async def test_an_over_long_page_refused_again_in_a_new_sync_is_not_resent_unchanged(
    vendor: Vendor, control: Control, again_in: str, judged: bool
) -> None:
    """A client that splits a page refused too_many_items did it again after its session expired:
    the sync started over, the 150-record page first. It was resent_rejected_page_unchanged, an
    error, and failed the exam's expired-mid-sync trial (a reviewer's zoo)."""
    long_page = {"entities": {"User": [user(n) for n in range(150)]}}
    first = await vendor.start()
    await vendor.push(first["id"], long_page, expect=400)
    if again_in == "a new session":
        await control.advance(3601, "acme")  # expired
        second = await vendor.start()
        await vendor.push(second["id"], long_page, expect=400)
    else:
        await vendor.push(first["id"], long_page, expect=400)
    assert ("resent_rejected_page_unchanged" in ids(await report(control))) is judged


async def test_a_page_refused_for_its_page_hint_and_sent_with_a_good_one_is_not_unchanged(
    vendor: Vendor, control: Control
) -> None:
    """The digest leaves the hint out: a page refused for its hint alone (over 256 characters), fixed
    by changing only the hint and accepted, was resent_rejected_page_unchanged (a reviewer)."""
    session = await vendor.start()
    records = {"User": [user(1)]}
    await vendor.push(session["id"], {"entities": records, "page_hint": "h" * 300}, expect=400)
    await vendor.push(session["id"], {"entities": records, "page_hint": "p1"})
    assert "resent_rejected_page_unchanged" not in ids(await report(control))


async def test_a_push_a_prefer_header_answers_400_is_a_page_rejected_as_invalid(
    vendor: Vendor, control: Control
) -> None:
    """A push's 400 is Sprinto's page rejection: a Prefer code=400 (or a rule's bare 400) answered
    code bad_request with the batch members, which the push's documented 400 codes do not name."""
    session = await vendor.start()
    prefer = {"Prefer": "code=400"}
    body = await vendor.push(session["id"], {"entities": {"User": [user(1)]}}, expect=400, headers=prefer)
    assert (body["code"], body["rejected_count_total"], body["session_id"]) == ("validation_failed", 1, session["id"])
