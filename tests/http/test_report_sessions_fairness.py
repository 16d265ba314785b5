"""The session checks against careful clients (a reviewer's three): the outcome of an apply read
from the activity log, an expiry learnt by reading the session, a start retried while another
worker's sync finishes. Each careful client earns no finding; the careless one beside it still does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto.report.har import judge_har
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user
from .test_report import _fault, _use, finding, ids, report
from .test_scenarios import put_scenario

START_TIME = "2026-01-01T00:00:00Z"  # the manual clock's first instant (tests/conftest.py's START)


def _page(n: int) -> dict[str, Any]:
    return {"entities": {"User": [user(n * 10 + k) for k in range(3)]}, "page_hint": n}


async def _applied(vendor: Vendor, pages: int = 1) -> str:
    """A session with ``pages`` pages, closed with apply (202): its id."""
    session = await vendor.start()
    for n in range(1, pages + 1):
        await vendor.push(session["id"], _page(n))
    await vendor.close(session["id"])
    return str(session["id"])


async def _poll_until_finished(vendor: Vendor, control: Control, session_id: str) -> str:
    """GET the session once a second until processing is over: its final state."""
    for _ in range(10):
        state = str((await vendor.session(session_id))["state"])
        if state in ("processed", "failed"):
            return state
        await control.advance(1, "acme")
    raise AssertionError("processing never finished")


# ---- outcome_not_read: the outcome read, not merely a read after close -----------------------------
@pytest.mark.parametrize("scenario", [None, "processing-fails"])
async def test_an_apply_whose_outcome_is_read_from_the_activity_log_is_read(
    scenario: str | None, vendor: Vendor, control: Control
) -> None:
    # The documented activity log says session_processed (or session_failed) for it: a client that
    # polls it with backoff until it does, and never GETs the session, read the outcome; it was
    # warned outcome_not_read ("no GET of the session").
    if scenario is not None:
        await _use(control, scenario)
    session_id = await _applied(vendor)
    wait, outcome = 0.5, None
    while outcome is None:
        items = (await vendor.activity(since=START_TIME, page_size=200))["items"]
        finished = [
            i for i in items if i["session_id"] == session_id and i["type"] in ("session_processed", "session_failed")
        ]
        if finished:
            outcome = finished[0]["type"]
        else:
            await control.advance(wait, "acme")
            wait *= 2
    assert outcome == ("session_failed" if scenario else "session_processed")
    assert "outcome_not_read" not in ids(await report(control))


@pytest.mark.parametrize(("scenario", "state"), [(None, "processed"), ("processing-fails", "failed")])
async def test_an_apply_read_once_while_still_processing_is_an_outcome_not_read(
    scenario: str | None, state: str, vendor: Vendor, control: Control
) -> None:
    # One GET while the session is `processing`, then the client exits 0: it never learnt that
    # processing failed and nothing was applied. "A read arrived after the close" passed it.
    if scenario is not None:
        await _use(control, scenario)
    session_id = await _applied(vendor)
    assert (await vendor.session(session_id))["state"] == "processing"
    assert "outcome_not_read" not in ids(await report(control))  # still processing: it may be polling yet
    await control.advance(5, "acme")  # both attempts over (2 s each): the outcome is out, and never read

    (evidence,) = finding(await report(control), "outcome_not_read")["evidence"]
    assert evidence["session_id"] == session_id and evidence["state"] == state
    await vendor.session(session_id)  # read late, but read: the outcome is known
    assert "outcome_not_read" not in ids(await report(control))


@pytest.mark.parametrize("scenario", [None, "processing-fails"])
async def test_an_apply_whose_session_is_polled_until_it_finished_is_read(
    scenario: str | None, vendor: Vendor, control: Control
) -> None:
    if scenario is not None:
        await _use(control, scenario)
    session_id = await _applied(vendor)
    assert await _poll_until_finished(vendor, control, session_id) == ("failed" if scenario else "processed")
    assert "outcome_not_read" not in ids(await report(control))


async def test_an_activity_read_while_still_processing_counts_as_polling(vendor: Vendor, control: Control) -> None:
    # The report made while the client is still polling the activity log: no outcome to read yet.
    session_id = await _applied(vendor)
    assert "outcome_not_read" in ids(await report(control))  # closed, and nothing read since
    await vendor.activity(since=START_TIME)
    assert "outcome_not_read" not in ids(await report(control))
    await control.advance(2, "acme")  # processed: the read before it no longer counts
    assert finding(await report(control), "outcome_not_read")["evidence"][0]["session_id"] == session_id


async def test_reads_that_failed_or_came_before_the_close_do_not_read_the_outcome(
    vendor: Vendor, control: Control
) -> None:
    fault = {"match": {"operation": "get_session"}, "when": {"nth": 2}, "times": 1, "respond": {"status": 503}}
    await _use(control, {"name": "second-read-503", "rules": [fault]})
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    assert (await vendor.session(session["id"]))["state"] == "active"  # before the close: no outcome yet
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    await vendor.session(session["id"], expect=503)  # after it finished, but the answer held no outcome
    assert finding(await report(control), "outcome_not_read")["evidence"][0]["session_id"] == session["id"]
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert "outcome_not_read" not in ids(await report(control))


async def test_a_har_of_a_client_that_polled_until_processed_shows_the_outcome_read(
    make_emulator: Callable[..., Emulator], serve: Callable[[Emulator], Any]
) -> None:
    # A HAR knows a session finished only from the answer that showed it, and each answer comes
    # after its request started (its `time`, here 40 ms): "arrived once it had finished" alone
    # would blame every HAR of a client that polled until processed and stopped there.
    client: TestClient[Any, Any] = await serve(make_emulator(journal_bodies_bytes=1_000_000))
    vendor, control = Vendor(client), Control(client)
    session_id = await _applied(vendor)
    assert await _poll_until_finished(vendor, control, session_id) == "processed"
    har = await control.get("/journal.har?integration_id=acme&redact=false")
    for entry in har["log"]["entries"]:
        entry.pop("_answeredDateTime", None)
        entry["time"] = 40
    (judged,) = judge_har(har).public()["integrations"]
    assert judged["not_judged"] == [] and "outcome_not_read" not in [f["id"] for f in judged["findings"]]


# ---- session_left_to_expire: an expiry learnt by reading the session ----------------------------
@pytest.mark.parametrize(
    ("read", "started_over", "judged"),
    [(True, True, False), (False, False, True), (True, False, True), (False, True, True)],
)
async def test_an_expiry_read_from_the_session_then_a_new_sync_is_not_left_to_expire(
    read: bool, started_over: bool, judged: bool, vendor: Vendor, control: Control
) -> None:
    # A client that reads its session before each push saw `expired`, pushed nothing into it and
    # synced every page again in a new session: as careful as one told by a 409 session_not_active.
    session = await vendor.start()
    for n in (1, 2):
        await vendor.push(session["id"], _page(n))
    await control.advance(3660, "acme")  # 61 minutes of the integration's time: expired
    if read:
        assert (await vendor.session(session["id"]))["state"] == "expired"
    if started_over:
        again = await vendor.start()
        for n in (1, 2, 3):
            await vendor.push(again["id"], _page(n))
        await vendor.close(again["id"])
        await _poll_until_finished(vendor, control, again["id"])

    body = await report(control)
    assert ("session_left_to_expire" in ids(body)) is judged
    if judged:
        (evidence,) = finding(body, "session_left_to_expire")["evidence"]
        assert evidence["session_id"] == session["id"] and evidence["accepted_pages"] == 2


async def test_a_read_of_the_session_before_it_expired_tells_nothing_of_the_expiry(
    vendor: Vendor, control: Control
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await control.advance(60, "acme")
    assert (await vendor.session(session["id"]))["state"] == "active"
    await control.advance(3660, "acme")
    again = await vendor.start()  # a new sync, but nothing it read said the last one expired
    await vendor.push(again["id"], _page(1))
    await vendor.close(again["id"])
    await _poll_until_finished(vendor, control, again["id"])
    assert finding(await report(control), "session_left_to_expire")["evidence"][0]["session_id"] == session["id"]


@pytest.mark.parametrize("reads", [False, True])
async def test_an_apply_whose_close_answer_was_lost_still_has_an_outcome_to_read(
    client: TestClient[Any, Any], vendor: Vendor, control: Control, reads: bool
) -> None:
    # The close is carried out and its answer lost; the close sent again gets 409 (the session is
    # processing), and the client exits 0 there without reading how processing ended. It escaped
    # before, the check looking only at closes the client read 202 from.
    await put_scenario(client, "close-answer-lost")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    with pytest.raises(aiohttp.ClientError):
        await vendor.close(session["id"])
    await vendor.close(session["id"], expect=409)
    if reads:
        await _poll_until_finished(vendor, control, session["id"])
    else:
        await control.advance(3, "acme")
    body = await report(control)
    assert ("outcome_not_read" in ids(body)) is not reads
    if not reads:
        (evidence,) = finding(body, "outcome_not_read")["evidence"]
        assert evidence["session_id"] == session["id"] and evidence["state"] == "processed"


# ---- start_conflict_ignored: retried at once, or after waiting for the other sync ----------------
@pytest.mark.parametrize(
    ("waits", "judged"),
    [((0, 0), True), ((0.2, 0.5), True), ((0.9, 1), True), ((1, 0), True), ((1, 2), False), ((1, 2, 4), False)],
)
async def test_starts_retried_on_409_are_judged_by_how_long_the_client_waited(
    waits: tuple[float, ...], judged: bool, vendor: Vendor, control: Control
) -> None:
    # Another worker's sync holds the integration's one active session; this client gets 409, reads
    # the integration's status, waits 1 s, 2 s, 4 s between its starts, and starts once the other
    # session is closed. Hammering starts (at once, or within a second) still ignores the conflict.
    other = await vendor.start()
    await vendor.start(expect=409)
    for wait in waits:
        await vendor.status()
        await control.advance(wait, "acme")
        await vendor.start(expect=409)
    await control.advance(4, "acme")
    await vendor.close(other["id"], "discard")  # the other worker is done
    mine = await vendor.start()
    await vendor.close(mine["id"], "discard")

    body = await report(control)
    assert ("start_conflict_ignored" in ids(body)) is judged
    if judged:
        (evidence,) = finding(body, "start_conflict_ignored")["evidence"]
        assert evidence["active_session_id"] == other["id"] and evidence["conflicts"] == len(waits) + 1
        assert evidence["waits_seconds"] == [float(wait) for wait in waits]
    assert "start_conflict_unhandled" not in ids(body)


async def test_on_a_frozen_clock_a_patient_worker_and_a_retrying_client_are_not_judged_on_waits(
    make_emulator: Callable[..., Emulator], serve: Callable[[Emulator], Any]
) -> None:
    # A pytest suite on a frozen clock: the worker below waits (in real time) between its starts
    # and its retries, but emulator time stands still, so every wait reads 0 s. Blaming it for
    # hammering would blame the patient worker; the frozen clock judges no waits.
    client: TestClient[Any, Any] = await serve(make_emulator(frozen_clock=True))
    vendor, control = Vendor(client), Control(client)
    other = await vendor.start()
    for _ in range(3):
        await vendor.start(expect=409)
    await vendor.close(other["id"], "discard")
    await _use(control, _fault("two-503", 2, {"status": 503}))
    mine = await vendor.start()
    for expect in (503, 503, 202):
        await vendor.push(mine["id"], _page(1), expect=expect)
    await vendor.close(mine["id"])
    for _ in range(6):  # a poll backing off in real time: every read at one instant of emulator time
        await vendor.session(mine["id"])

    body = await report(control)
    waits = {"start_conflict_ignored", "retry_without_backoff", "status_polled_too_fast"}
    assert waits.isdisjoint(ids(body)), ids(body)
    assert "start_conflict_unhandled" not in ids(body)


@pytest.mark.parametrize(("advanced", "judged"), [(0.0, False), (0.5, True), (1.0, False)])
async def test_on_a_frozen_clock_a_retry_after_is_judged_only_when_the_clock_moved(
    make_emulator: Callable[..., Emulator], serve: Callable[[Emulator], Any], advanced: float, judged: bool
) -> None:
    # The client sleeps its Retry-After in real time; emulator time moves only when the test moves
    # it. Unmoved, the wait is unknown (a careful client was blamed, "waited_seconds": 0.0); moved
    # half the Retry-After, the retry was too soon on the clock the test keeps.
    client: TestClient[Any, Any] = await serve(make_emulator(frozen_clock=True))
    vendor, control = Vendor(client), Control(client)
    await _use(control, _fault("one-429", 1, {"status": 429, "retry_after": 1}))
    session = await vendor.start()
    await vendor.push(session["id"], _page(1), expect=429)
    if advanced:
        await control.advance(advanced, "acme")
    await vendor.push(session["id"], _page(1))
    assert ("retry_too_soon" in ids(await report(control))) is judged


def test_an_emulator_under_freezegun_is_judged_as_on_a_frozen_clock(make_emulator: Callable[..., Emulator]) -> None:
    # pytest.md's freezegun recipe: an in-process emulator made inside freeze_time reads the frozen
    # time, so the judge measures every wait as 0 s, as on frozen_clock.
    from freezegun import freeze_time

    from mock_sprinto.clock import OffsetClock, SystemClock
    from mock_sprinto.service import Emulator as Made
    from mock_sprinto.settings import Config, Settings
    from mock_sprinto.store import TenantAsItStood

    emulator = make_emulator()
    assert not OffsetClock(OffsetClock(SystemClock())).stands_still()
    with freeze_time("2026-01-01T00:00:00Z"):
        frozen = Made(Config(Settings()), emulator.registry)
        tenant = frozen.authenticate("acme", "key-1")
        assert TenantAsItStood.of(tenant).settings.frozen_clock
    assert not TenantAsItStood.of(tenant).settings.frozen_clock  # unfrozen, its waits are measured again
