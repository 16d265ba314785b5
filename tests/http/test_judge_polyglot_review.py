"""A reviewer's clients in Java, Perl, curl and Node, each as a scripted client: a poll that backs
off as the judge advises once its first read was throttled (or a read failed and was retried) was
status_polled_too_fast; a session's outcome read just after a GET that was reset was
outcome_not_read; and a client whose every request was refused for its form (Java's
HttpURLConnection sends a form's Content-Type) got a clean report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from mock_sprinto.report.har import judge_har
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user
from .test_har_judge import as_captured, comparable, overrides_of
from .test_report import _use, finding, ids, report

BACKING_OFF = (0.2, 0.3, 0.45, 0.675, 1.0, 1.5)  # the finding's own advice: 0.2 s, then 1.5 times longer
THROTTLED = {"Prefer": "code=429, retry_after=1"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # HttpURLConnection's, unless told otherwise


async def applied(vendor: Vendor) -> str:
    session = await vendor.start()
    await vendor.push(session["id"], {"page_hint": 1, "entities": {"User": [user(1)]}})
    await vendor.close(session["id"])
    return str(session["id"])


async def read(vendor: Vendor, session_id: str, expect: int = 200, **headers: str) -> Any:
    return (await vendor.call("GET", f"/sessions/{session_id}", expect, headers=headers))[1]


# ---- 1. a poll whose read was throttled or failed ---------------------------------------------------
@pytest.mark.parametrize("waits", [BACKING_OFF, (1.0, 1.0, 1.0, 1.0, 1.0)])
async def test_a_poll_that_waits_out_a_429_then_backs_off_is_not_too_fast(
    vendor: Vendor, control: Control, waits: tuple[float, ...]
) -> None:
    """The first read is throttled (Retry-After: 1): the client waits the second it was told, then
    polls 0.2, 0.3, 0.45, 0.68 s apart. The 1 s was taken for a poll interval, then 0.2: no growth."""
    session_id = await applied(vendor)
    await read(vendor, session_id, 429, **THROTTLED)
    await control.advance(1, "acme")  # the Retry-After, waited out
    await read(vendor, session_id)
    for wait in waits:
        await control.advance(wait, "acme")
        await read(vendor, session_id)
    body = await report(control)
    assert "status_polled_too_fast" not in ids(body), body["findings"]
    assert "retry_too_soon" not in ids(body)


async def test_a_rate_limited_poll_that_backs_off_is_not_too_fast(vendor: Vendor, control: Control) -> None:
    """Under a rate limit each throttled read is waited out and read again; the poll's own waits grow."""
    session_id = await applied(vendor)
    for wait in BACKING_OFF:
        await read(vendor, session_id, 429, **THROTTLED)
        await control.advance(1, "acme")
        await read(vendor, session_id)
        await control.advance(wait, "acme")
    await read(vendor, session_id)
    assert "status_polled_too_fast" not in ids(await report(control))


async def test_a_poll_whose_502_was_retried_a_quarter_second_later_is_not_too_fast(
    vendor: Vendor, control: Control
) -> None:
    """flaky-network's 1 read in 10 answered 502, retried after 0.25 s of backoff: the 0.25 s sat
    between the poll's 0.3 and 0.45 s and broke its growth."""
    await _use(
        control,
        {
            "name": "one-502",
            "rules": [
                {"match": {"operation": "get_session"}, "when": {"nth": 3}, "times": 1, "respond": {"status": 502}}
            ],
        },
    )
    session_id = await applied(vendor)
    await read(vendor, session_id)
    for n, wait in enumerate(BACKING_OFF, 2):
        await control.advance(wait, "acme")
        if n == 3:
            await read(vendor, session_id, 502)
            await control.advance(0.25, "acme")  # the retry's backoff
        await read(vendor, session_id)
    body = await report(control)
    assert "status_polled_too_fast" not in ids(body), body["findings"]


async def test_a_poll_whose_reset_read_the_library_sent_again_is_not_too_fast(vendor: Vendor, control: Control) -> None:
    """A reset read re-sent by the HTTP library itself is a try of that poll, not a poll of its own."""
    session_id = await applied(vendor)
    await read(vendor, session_id)
    for n, wait in enumerate(BACKING_OFF, 2):
        await control.advance(wait, "acme")
        if n == 4:
            with pytest.raises(aiohttp.ClientError):
                await read(vendor, session_id, Prefer="fault=reset")
            await control.advance(0.04, "acme")
        await read(vendor, session_id)
    assert "status_polled_too_fast" not in ids(await report(control))


async def test_a_tight_poll_is_still_too_fast_when_its_reads_are_throttled_or_fail(
    vendor: Vendor, control: Control
) -> None:
    """A fixed 0.1 s loop that waits out each 429 and retries each 502: its own waits never grow."""
    await _use(
        control,
        {
            "name": "every-third-502",
            "rules": [{"match": {"operation": "get_session"}, "when": {"every": 3}, "respond": {"status": 502}}],
        },
    )
    session_id = await applied(vendor)
    for n in range(12):
        if n % 4 == 1:
            await read(vendor, session_id, 429, **THROTTLED)
            await control.advance(1, "acme")
        status, _ = await vendor.call("GET", f"/sessions/{session_id}")
        assert status in (200, 502)
        await control.advance(0.1, "acme")
    found = finding(await report(control), "status_polled_too_fast")
    (evidence,) = found["evidence"]
    assert evidence["window_seconds"] < 1.0  # the client's own waits: 0.1 s each


async def test_reads_failing_in_a_row_sent_again_at_a_fixed_short_delay_are_still_too_fast(
    vendor: Vendor, control: Control
) -> None:
    """Every read answered 503, each sent again 0.05 s later: no read was ever answered, so they are
    all tries of one poll, and its tries are judged alike among themselves."""
    await _use(
        control,
        {"name": "reads-503", "rules": [{"match": {"operation": "get_session"}, "respond": {"status": 503}}]},
    )
    session_id = await applied(vendor)
    for _ in range(6):
        await read(vendor, session_id, 503)
        await control.advance(0.05, "acme")
    (evidence,) = finding(await report(control), "status_polled_too_fast")["evidence"]
    assert len(evidence["request_ids"]) == 5 and evidence["window_seconds"] == pytest.approx(0.2)


# ---- 2. the outcome read just after a reset read ----------------------------------------------------
@pytest.mark.parametrize("after", [0.3, 0.042])  # curl's own retry; HttpURLConnection's silent re-send
async def test_the_outcome_read_just_after_a_reset_read_is_read(vendor: Vendor, control: Control, after: float) -> None:
    session_id = await applied(vendor)
    await control.advance(3, "acme")  # processed by now
    with pytest.raises(aiohttp.ClientError):
        await read(vendor, session_id, Prefer="fault=reset")
    await control.advance(after, "acme")
    assert (await read(vendor, session_id))["state"] == "processed"
    body = await report(control)
    assert "outcome_not_read" not in ids(body), body["findings"]
    assert body["summary"] == {"errors": 0, "warnings": 0, "infos": 0}, body["findings"]


async def test_an_outcome_never_read_after_a_reset_read_is_still_not_read(vendor: Vendor, control: Control) -> None:
    session_id = await applied(vendor)
    await control.advance(3, "acme")
    with pytest.raises(aiohttp.ClientError):
        await read(vendor, session_id, Prefer="fault=reset")
    assert "outcome_not_read" in ids(await report(control))


# ---- 2b. what else a read re-sent by the library showed the client ---------------------------------
async def test_an_expiry_read_on_a_re_sent_read_then_a_new_session_is_no_session_left_to_expire(
    vendor: Vendor, control: Control
) -> None:
    """The read that showed the session expired was the library's re-send of a reset read: the
    client learnt the expiry from it and started over, as the docs advise."""
    session = await vendor.start()
    await vendor.push(session["id"], {"page_hint": 1, "entities": {"User": [user(1)]}})
    await control.advance(3601, "acme")
    with pytest.raises(aiohttp.ClientError):
        await read(vendor, session["id"], Prefer="fault=reset")
    await control.advance(0.042, "acme")
    assert (await read(vendor, session["id"]))["state"] == "expired"
    session_id = await applied(vendor)  # every page again, in a new session
    await control.advance(3, "acme")
    assert (await read(vendor, session_id))["state"] == "processed"
    body = await report(control)
    assert "session_left_to_expire" not in ids(body), body["findings"]


async def test_a_lost_push_checked_by_a_re_sent_read_is_no_giving_up(vendor: Vendor, control: Control) -> None:
    """A page staged, its answer lost; the client reads the session (the read reset, re-sent by the
    library) and sees the page counted, so it does not send it again."""
    session = await vendor.start()
    await vendor.push(session["id"], {"page_hint": 1, "entities": {"User": [user(1)]}})
    await _use(
        control,
        {
            "name": "lose-answer",
            "rules": [{"match": {"operation": "push_page"}, "times": 1, "phase": "after", "transport": "reset"}],
        },
    )
    with pytest.raises(aiohttp.ClientError):
        await vendor.push(session["id"], {"page_hint": 2, "entities": {"User": [user(2)]}})
    with pytest.raises(aiohttp.ClientError):
        await read(vendor, session["id"], Prefer="fault=reset")
    await control.advance(0.042, "acme")
    assert (await read(vendor, session["id"]))["accepted_batches"] == 2
    await vendor.push(session["id"], {"page_hint": 3, "entities": {"User": [user(3)]}})
    body = await report(control)
    assert "gave_up" not in ids(body), body["findings"]


# ---- the HAR judge agrees with the live report (test_har_judge.py's comparison, on these scripts) ---
async def _polled_after_a_429(vendor: Vendor, control: Control) -> None:
    await test_a_poll_that_waits_out_a_429_then_backs_off_is_not_too_fast(vendor, control, BACKING_OFF)


async def _polled_past_a_502(vendor: Vendor, control: Control) -> None:
    await test_a_poll_whose_502_was_retried_a_quarter_second_later_is_not_too_fast(vendor, control)


async def _polled_past_a_reset(vendor: Vendor, control: Control) -> None:
    await test_a_poll_whose_reset_read_the_library_sent_again_is_not_too_fast(vendor, control)


async def _outcome_after_a_reset(vendor: Vendor, control: Control) -> None:
    await test_the_outcome_read_just_after_a_reset_read_is_read(vendor, control, 0.042)


async def _tight_poll(vendor: Vendor, control: Control) -> None:
    await test_a_tight_poll_is_still_too_fast_when_its_reads_are_throttled_or_fail(vendor, control)


async def _failing_reads(vendor: Vendor, control: Control) -> None:
    await test_reads_failing_in_a_row_sent_again_at_a_fixed_short_delay_are_still_too_fast(vendor, control)


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator(journal_bodies_bytes=10_000_000)  # the HAR holds the bodies


JUDGED_HERE = {"status_polled_too_fast", "outcome_not_read"}


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (_polled_after_a_429, set()),
        (_polled_past_a_502, set()),
        (_polled_past_a_reset, set()),
        (_outcome_after_a_reset, set()),
        (_tight_poll, {"status_polled_too_fast"}),
        (_failing_reads, {"status_polled_too_fast"}),
    ],
)
async def test_the_har_judge_agrees_with_the_live_report(
    vendor: Vendor,
    control: Control,
    emulator: Emulator,
    script: Callable[[Vendor, Control], Awaitable[None]],
    expected: set[str],
) -> None:
    await script(vendor, control)
    live = await control.get("/integrations/acme/report")
    assert {f["id"] for f in live["findings"]} & JUDGED_HERE == expected
    har = await control.get("/journal.har?integration_id=acme&redact=false")
    known = {name: schema.known_fields for name, schema in emulator.registry.types.items()}
    settings = await overrides_of(control)
    for shape, document in (("the emulator's", har), ("a recorder's", as_captured(har))):
        judgement = judge_har(document, known, settings, key_fields=emulator.registry.key_fields).public()
        (judged,) = judgement["integrations"]
        assert {item["id"] for item in judged["not_judged"]}.isdisjoint(JUDGED_HERE), shape
        assert comparable(judged["findings"]) == comparable(live["findings"]), shape


# ---- 3. every request refused for its form ----------------------------------------------------------
async def test_a_client_whose_every_request_was_refused_for_its_form_is_an_error(
    vendor: Vendor, control: Control
) -> None:
    """HttpURLConnection sends a body without a Content-Type as a form: the start got 415, the
    client exited 1, and the report said 0 errors, "met: nothing documented"."""
    for _ in range(2):  # tried twice: the same request, the same refusal
        await vendor.start(415, data=b"{}", headers=FORM)
    await vendor.call("GET", "/sessions/ses_none", 404)
    body = await report(control)
    found = finding(body, "no_request_accepted")
    assert (found["severity"], found["basis"], found["count"]) == ("error", "mock", 1)
    (evidence,) = found["evidence"]
    assert evidence["refusals"] == {"415 unsupported_media_type": 2, "404 session_not_found": 1}
    first = (evidence["operation"], evidence["status"], evidence["code"])
    assert first == ("start_session", 415, "unsupported_media_type")
    # the answer's own detail (this module's emulator keeps the bodies; else what the code means)
    assert evidence["detail"].startswith("Content-Type 'application/x-www-form-urlencoded' is not accepted")
    assert evidence["requests"] == 3
    assert "Content-Type: application/json" in found["advice"]
    assert body["summary"]["errors"] == 1


async def test_a_client_refused_once_that_fixed_its_request_is_no_error(vendor: Vendor, control: Control) -> None:
    await vendor.start(415, data=b"{}", headers=FORM)
    session = await vendor.start()
    await vendor.close(session["id"], "discard")
    assert "no_request_accepted" not in ids(await report(control))


@pytest.mark.parametrize("prefer", ["code=503", "code=429, retry_after=1", "code=400", "fault=reset"])
async def test_a_client_refused_only_by_injected_faults_is_not_blamed_for_its_form(
    vendor: Vendor, control: Control, prefer: str
) -> None:
    try:
        await vendor.call("POST", "/sessions", headers={"Prefer": prefer})
    except aiohttp.ClientError:
        pass  # the reset
    assert "no_request_accepted" not in ids(await report(control))


async def _refused_form(vendor: Vendor, control: Control) -> None:
    await vendor.start(415, data=b"{}", headers=FORM)
    await vendor.start(415, data=b"status=apply", headers=FORM)


async def test_the_har_judge_agrees_on_a_client_refused_for_its_form(
    vendor: Vendor, control: Control, emulator: Emulator
) -> None:
    await test_the_har_judge_agrees_with_the_live_report(vendor, control, emulator, _refused_form, set())
    live = await control.get("/integrations/acme/report")
    assert [f["id"] for f in live["findings"]] == ["no_request_accepted"]


# ---- a page refused for naming too many types, then split (a review of the fixes) ------------------
async def test_a_page_of_too_many_types_split_in_two_is_no_rejected_page_left_out(
    vendor: Vendor, control: Control
) -> None:
    """Before: applied_with_rejected_pages (an error) for a client that split the refused page as
    the refusal asks, as it is not for a page refused for too many records."""
    session = await vendor.start()
    types = {f"T{i}": [{"id": i}] for i in range(101)}
    refused = await vendor.push(session["id"], {"page_hint": 1, "entities": types}, expect=400)
    assert refused["code"] == "too_many_entity_types"
    names = list(types)
    for hint, half in (("1a", names[:50]), ("1b", names[50:])):
        await vendor.push(session["id"], {"page_hint": hint, "entities": {name: types[name] for name in half}})
    await vendor.close(session["id"])
    await control.advance(5)
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert "applied_with_rejected_pages" not in ids(await report(control))
