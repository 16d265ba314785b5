"""The ``mock_sprinto`` handle as a user's test meets it (the plugin is loaded by its entry point)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
import requests
from freezegun import freeze_time

from mock_sprinto.control import ControlPlane
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.testing import ControlError, MockSprinto, MockSprintoError, MockSprintoServer

from .records import call, close, push, start, user


def test_handle_points_at_a_loopback_server_with_this_tests_own_integration(mock_sprinto: MockSprinto) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/external/push", mock_sprinto.base_url)
    assert mock_sprinto.integration_id.startswith("test_handle_points_at_a_loopback")
    assert mock_sprinto.integration_url == f"{mock_sprinto.base_url}/v1/integrations/{mock_sprinto.integration_id}"
    assert mock_sprinto.headers == {"api-key": mock_sprinto.api_key}
    status, body = call(mock_sprinto, "GET", "/status")
    assert status == 200 and body["integration_id"] == mock_sprinto.integration_id
    wrong = requests.get(mock_sprinto.integration_url + "/status", headers={"api-key": "guess"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_api_key"


def test_the_first_request_finds_the_integration_made_and_bound_to_this_key(mock_sprinto: MockSprinto) -> None:
    # The fixture makes the integration when the handle is first read: here, for the URL of a
    # request with another key, which must not bind it (open mode binds an unknown id's first key).
    wrong = requests.get(mock_sprinto.integration_url + "/status", headers={"api-key": "guess"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_api_key"
    assert call(mock_sprinto, "GET", "/status")[0] == 200


@pytest.mark.mock_sprinto(settings={"max_page_items": 1})
def test_the_fixture_asked_for_during_the_test_knows_its_test_and_its_marker(request: pytest.FixtureRequest) -> None:
    mock: MockSprinto = request.getfixturevalue("mock_sprinto")
    assert mock.created  # a marker's integration is made and configured before it is handed out
    assert mock.integration_id.startswith("test_the_fixture_asked_for_during_the_test")
    status, body = push(mock, start(mock), [user(1), user(2)])
    assert status == 400 and body["code"] == "too_many_items"


def _listed(server: MockSprintoServer) -> list[str]:
    return [each["id"] for each in server.control.call("GET", "/integrations")["integrations"]]


def test_a_lazy_handle_is_made_once_on_first_use_from_any_thread_and_a_refusal_raises_there() -> None:
    with MockSprintoServer(Config(Settings(max_integrations=2))) as server:
        lazy = server.new_integration("lazy", lazy=True)
        assert not lazy.created and lazy.base_url == server.base_url and _listed(server) == []
        lazy.forget_soon()
        lazy.delete()  # nothing made yet: nothing to forget, and no request
        seen: list[str] = []
        readers = [threading.Thread(target=lambda: seen.append(lazy.integration_id)) for _ in range(8)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        assert lazy.created and set(seen) == {lazy.integration_id} and _listed(server) == [lazy.integration_id]
        assert call(lazy, "GET", "/status")[0] == 200

        # Read on the server's own thread (inside run), a new handle is made there, at once.
        inner = server.new_integration("inner", lazy=True)
        assert server.run(lambda emulator: inner.integration_id) == inner.integration_id
        assert inner.created and sorted(_listed(server)) == sorted([lazy.integration_id, inner.integration_id])

        refused = server.new_integration("third", lazy=True)
        with pytest.raises(ControlError, match="integration_limit_reached") as caught:
            refused.headers  # noqa: B018 (the read is the point)
        assert caught.value.status == 403 and not refused.created
        with pytest.raises(MockSprintoError, match="integration_limit_reached"):
            server.new_integration("eager")  # not lazy: refused at once, as before


def _queued_handle(server: MockSprintoServer, hint: str) -> MockSprinto:
    """A handle whose create was queued on first use (not waited for): the server waits for work
    at that moment nearly always; a few tries make sure of it."""
    for _ in range(50):
        handle = server.new_integration(hint, lazy=True)
        handle.headers  # noqa: B018 (the read is the point)
        if any(job[0] == handle.integration_id for job in server._selector.queued):  # type: ignore[union-attr]
            return handle
        time.sleep(0.01)
    raise AssertionError("the server never waited for work: no create was queued")


def test_a_queued_create_or_forget_comes_before_whatever_the_server_is_asked_next() -> None:
    with MockSprintoServer() as server:
        handle = _queued_handle(server, "queued")
        assert handle.created  # for the handle, made: nothing the server is asked can come first
        assert call(handle, "GET", "/status")[0] == 200  # the request that woke the loop finds it made
        assert handle.integration_id in _listed(server)
        handle.forget_soon()
        assert handle.integration_id not in _listed(server)  # the forget ran before the listing
        other = _queued_handle(server, "other")
        assert server.run(lambda emulator: other.integration_id in emulator.tenants)  # run comes after it too


def test_a_queued_create_refused_after_all_is_raised_at_the_next_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with MockSprintoServer(Config(Settings(max_integrations=1))) as server:
        server.new_integration("first")
        # As if another client had filled the emulator between the check and the create.
        monkeypatch.setattr(ControlPlane, "creatable", lambda *args: True)
        late = _queued_handle(server, "late")
        ident = late.integration_id  # handed out before the create ran
        assert len(_listed(server)) == 1 and ident not in _listed(server)  # the listing woke the loop
        assert isinstance(late.refused, ControlError) and late.refused.status == 403 and not late.created
        with pytest.raises(ControlError, match="integration_limit_reached"):
            late.integration_url  # noqa: B018 (the read is the point)


def test_a_read_made_while_the_server_waits_is_the_one_its_thread_makes(
    mock_sprinto: MockSprinto, mock_sprinto_server: MockSprintoServer
) -> None:
    session_id = start(mock_sprinto)
    close(mock_sprinto, session_id, "discard")
    ident = mock_sprinto.integration_id

    def covered(emulator: Emulator) -> dict[str, bool | None]:
        return ControlPlane(emulator).coverage_kept(ident)

    assert mock_sprinto_server.read(ident, covered) == mock_sprinto_server.run(covered) == {"discarded": None}


def _whole_coverage(server: MockSprintoServer, ident: str) -> dict[str, bool | None]:
    """The coverage read the long way: the run's answers and sessions, the tenant's flag ignored."""

    def read(emulator: Emulator) -> dict[str, bool | None]:
        tenant = emulator.tenants[ident]
        quiet, tenant.quiet = tenant.quiet, False
        try:
            return ControlPlane(emulator).coverage_kept(ident)
        finally:
            tenant.quiet = quiet

    return server.run(read)


def _quiet(server: MockSprintoServer, ident: str) -> bool:
    return server.run(lambda emulator: emulator.tenants[ident].quiet)


def test_a_tenant_is_quiet_only_while_its_run_can_have_met_no_behaviour(mock_sprinto_server: MockSprintoServer) -> None:
    # The flag the fixture's coverage read trusts without reading the run (Tenant.quiet): each
    # behaviour's trigger clears it, and while it is set the long read finds nothing.
    def run_of(name: str, client: Callable[[MockSprinto], object]) -> tuple[bool, dict[str, bool | None]]:
        handle = mock_sprinto_server.new_integration(name)
        client(handle)
        found = _whole_coverage(mock_sprinto_server, handle.integration_id)
        quiet = _quiet(mock_sprinto_server, handle.integration_id)
        assert not quiet or found == {}, (name, found)
        return quiet, found

    def pushed(mock: MockSprinto) -> None:
        assert push(mock, start(mock), [user(1)])[0] == 202
        assert call(mock, "GET", "/status")[0] == 200

    def conflict(mock: MockSprinto) -> None:
        start(mock)
        assert call(mock, "POST", "/sessions")[0] == 409

    def rejected(mock: MockSprinto) -> None:
        assert push(mock, start(mock), [user(1, workEmail="nope")])[0] == 400

    def unknown_session(mock: MockSprinto) -> None:
        assert push(mock, "ses_nope", [user(1)])[0] == 404

    def expired(mock: MockSprinto) -> None:
        start(mock)
        mock.clock.advance(seconds=3601)
        mock.sessions()  # read after the clock moved: the session is seen expired

    def applied(mock: MockSprinto) -> None:
        close(mock, start(mock), "apply")
        mock.clock.advance(seconds=5)

    assert run_of("quiet-start", start) == (True, {})
    assert run_of("quiet-push", pushed) == (True, {})
    assert run_of("loud-conflict", conflict)[1].keys() == {"start_conflict"}
    assert run_of("loud-rejected", rejected)[1].keys() == {"page_rejected"}
    assert run_of("loud-404", unknown_session)[0] is False  # an error answer meets nothing, and still clears it
    assert run_of("loud-discard", lambda mock: close(mock, start(mock), "discard"))[1] == {"discarded": None}
    assert "session_expired" in run_of("loud-expired", expired)[1]
    assert "applied" in run_of("loud-applied", applied)[1]


def test_a_quiet_tests_coverage_is_read_without_waiting_for_a_busy_loop() -> None:
    # Most tests' answers all succeed: their report reads one flag, and does not wait for the loop
    # (it was still closing the test's connection in ~40 % of pytest tests: ~50 us each).
    from mock_sprinto.pytest_plugin import _behaviours_met

    with MockSprintoServer() as server:
        handle = server.new_integration("busy")
        start(handle)
        loop = server._loop
        assert loop is not None
        working, release = threading.Event(), threading.Event()
        timer = threading.Timer(5.0, release.set)  # ends the loop's work should the read wait for it

        def work() -> None:
            working.set()
            release.wait(10)

        loop.call_soon_threadsafe(work)
        assert working.wait(5)
        timer.start()
        try:
            assert _behaviours_met([handle]) == {}
            assert not release.is_set(), "the read waited for the loop"
        finally:
            release.set()
            timer.cancel()
        assert call(handle, "POST", "/sessions")[0] == 409  # after a conflict the read is the long one
        assert _behaviours_met([handle]) == {"start_conflict": False}


def test_connections_opened_together_are_each_answered() -> None:
    # The plugin's loop takes one connection a readiness event (``_WallTimeLoop._accept_connection``):
    # twenty waiting at once in the listen queue are all served, each on its own connection.
    with MockSprintoServer() as server:
        handle = server.new_integration("together")
        assert server.port is not None
        target = f"{handle.integration_url.removeprefix(server.origin)}/status"
        head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\napi-key: {handle.api_key}\r\nConnection: close\r\n\r\n"
        connections = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
        try:
            for connection in connections:
                connection.sendall(head.encode())
            for connection in connections:
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        finally:
            for connection in connections:
                connection.close()


def test_a_one_request_connection_is_served_in_four_turns_of_the_loop() -> None:
    # Accepted and started in one turn (``_WallTimeLoop._accept_connection``), the request read in
    # the next, its handler run to the answer in the one after (aiohttp's tasks started eagerly,
    # ``http.server.start_request_tasks_eagerly``), the connection closed in the last: seven
    # turns before, each a wake of the server's thread the test waits behind.
    with MockSprintoServer() as server:
        handle = server.new_integration("turns")
        assert server.port is not None and server._selector is not None
        selector = server._selector
        target = f"{handle.integration_url.removeprefix(server.origin)}/status"
        head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\napi-key: {handle.api_key}\r\nConnection: close\r\n\r\n"

        def waiting_turn() -> int:
            deadline = time.monotonic() + 5
            while selector.turn % 2 == 0:  # odd while the loop waits
                assert time.monotonic() < deadline
                time.sleep(0.001)
            return selector.turn

        def turns_of_one_request() -> int:
            before = waiting_turn()
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
                connection.sendall(head.encode())
                answer = b""
                while chunk := connection.recv(65536):  # to the end: the server closed it
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
            return (waiting_turn() - before) // 2  # two steps of ``turn`` a select

        # The least of a few: a timer of the server's may fall due during one.
        assert min(turns_of_one_request() for _ in range(5)) <= 4


def test_run_hands_back_the_result_or_the_exception_and_nests_on_the_server_thread() -> None:
    with MockSprintoServer() as server:
        assert not server.on_server_thread()
        assert server.run(lambda emulator: server.on_server_thread()) is True
        assert server.run(lambda emulator: server.run(lambda inner: inner is emulator)) is True
        with pytest.raises(KeyError, match="nope"):
            server.run(lambda emulator: {}["nope"])
        assert server.run(lambda emulator: 42) == 42  # the loop lives on after a failed call
    with pytest.raises(RuntimeError, match="not running"):
        server.run(lambda emulator: None)


def test_run_while_the_loop_works_is_answered_before_it_next_waits_without_waking_it() -> None:
    # A read that found the server busy falls back to run: the job waits for the loop's next
    # select, and costs no write to its self-pipe nor the extra turn of the loop that wakes.
    with MockSprintoServer() as server:
        loop = server._loop
        assert loop is not None
        working = threading.Event()

        def work() -> None:
            working.set()
            time.sleep(0.2)  # the loop works: its turn is even

        loop.call_soon_threadsafe(work)
        assert working.wait(5)
        wakes: list[object] = []
        wake = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = lambda *args, **kwargs: (wakes.append(args), wake(*args, **kwargs))[1]  # type: ignore[method-assign]
        assert server.run(lambda emulator: 42) == 42
        assert wakes == []
        del loop.call_soon_threadsafe  # type: ignore[method-assign]
        assert server.run(lambda emulator: 43) == 43  # the loop waits now: woken


def test_sessions_records_activity_and_journal_show_one_sync(mock_sprinto: MockSprinto) -> None:
    session_id = start(mock_sprinto)
    assert push(mock_sprinto, session_id, [user(1), user(2)], page_hint=1)[0] == 202
    assert push(mock_sprinto, session_id, [user(3, workEmail="nope")], page_hint=2)[0] == 400
    close(mock_sprinto, session_id)
    assert mock_sprinto.records("User") == []  # nothing is applied while processing

    mock_sprinto.clock.advance(seconds=2)
    (session,) = mock_sprinto.sessions()
    assert session["id"] == session_id and session["state"] == "processed"
    assert [(p["ordinal"], p["accepted"], p["page_hint"]) for p in session["pages"]] == [(1, True, 1), (2, False, 2)]
    assert mock_sprinto.session(session_id)["accepted_records_total"] == 2
    assert [r["employeeId"] for r in mock_sprinto.records("User")] == ["E1", "E2"]
    assert [i["type"] for i in mock_sprinto.activity()] == [
        "session_created",
        "page_accepted",
        "page_rejected",
        "session_processing",
        "session_processed",
    ]
    assert [(e["operation"], e["status"]) for e in mock_sprinto.journal()] == [
        ("start_session", 201),
        ("push_page", 202),
        ("push_page", 400),
        ("close_session", 202),
    ]


def test_reading_activity_is_neither_journaled_nor_seen_by_the_client(mock_sprinto: MockSprinto) -> None:
    start(mock_sprinto)
    for _ in range(3):
        mock_sprinto.activity()
        mock_sprinto.sessions()
    assert [e["operation"] for e in mock_sprinto.journal()] == ["start_session"]


def test_clock_moves_only_this_integration_and_never_backwards(
    mock_sprinto: MockSprinto, mock_sprinto_server: MockSprintoServer
) -> None:
    session_id = start(mock_sprinto)
    other = mock_sprinto_server.new_integration("bystander")
    try:
        other_session = start(other)
        before = mock_sprinto.clock.now()
        after = mock_sprinto.clock.advance(minutes=59, seconds=30)
        assert after - before >= timedelta(minutes=59, seconds=30)
        assert call(mock_sprinto, "GET", f"/sessions/{session_id}")[1]["state"] == "active"  # the read resets it
        mock_sprinto.clock.advance(timedelta(hours=1))
        assert call(mock_sprinto, "GET", f"/sessions/{session_id}")[1]["state"] == "expired"
        assert call(other, "GET", f"/sessions/{other_session}")[1]["state"] == "active"
    finally:
        other.delete()

    moved = mock_sprinto.clock.set(datetime(2031, 5, 1, 12, 0))  # naive: read as UTC
    assert moved == datetime(2031, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert mock_sprinto.clock.set("2031-05-02T00:00:00+02:00") == datetime(2031, 5, 1, 22, 0, tzinfo=timezone.utc)
    with pytest.raises(ControlError, match="clock_backwards: the clock never moves backwards") as caught:
        mock_sprinto.clock.set("2030-01-01T00:00:00Z")
    assert caught.value.status == 409


def test_assert_session_processed_passes_with_the_counts_and_returns_the_session(mock_sprinto: MockSprinto) -> None:
    session_id = start(mock_sprinto)
    push(mock_sprinto, session_id, [user(i) for i in range(3)])
    close(mock_sprinto, session_id)
    mock_sprinto.clock.advance(seconds=2)
    session = mock_sprinto.assert_session_processed(records=3, by_entity={"User": 3})
    assert session["id"] == session_id
    mock_sprinto.assert_no_rejected_pages()


@pytest.mark.parametrize(
    ("close_with", "advance", "expected"),
    [
        (None, 0, r"is 'active', not 'processed': it is still active: the client never closed it"),
        ("apply", 0, r"is 'processing', not 'processed': .*mock_sprinto\.clock\.advance\(seconds=2\)"),
        ("discard", 0, r"is 'cancelled', not 'processed': it was closed with discard"),
        (None, 3600, r"is 'expired', not 'processed': it expired at \S+ after 3600 s without a request"),
    ],
)
def test_assert_session_processed_says_why_a_session_was_not_applied(
    mock_sprinto: MockSprinto, close_with: str | None, advance: float, expected: str
) -> None:
    session_id = start(mock_sprinto)
    push(mock_sprinto, session_id, [user(1)])
    if close_with:
        close(mock_sprinto, session_id, close_with)
    mock_sprinto.clock.advance(seconds=advance)
    with pytest.raises(AssertionError, match=expected) as caught:
        mock_sprinto.assert_session_processed(session_id)
    assert "1 page accepted (1 record: User 1), 0 rejected" in str(caught.value)


@pytest.mark.mock_sprinto(scenario="expire-mid-sync")
def test_assert_session_processed_says_a_scenario_expired_the_session(mock_sprinto: MockSprinto) -> None:
    # The rule expires the session as the third page arrives, a moment after the second: the
    # hint said "after 3600 s without a request", which the client's journal contradicts.
    session_id = start(mock_sprinto)
    assert push(mock_sprinto, session_id, [user(1)])[0] == 202
    assert push(mock_sprinto, session_id, [user(2)])[0] == 202
    assert push(mock_sprinto, session_id, [user(3)])[0] == 409
    with pytest.raises(AssertionError) as caught:
        mock_sprinto.assert_session_processed(session_id)
    message = str(caught.value)
    assert "is 'expired', not 'processed': the scenario expired it" in message
    assert "without a request" not in message
    assert mock_sprinto.session(session_id)["expired_by"] == "scenario"


def test_assert_session_processed_names_the_count_that_differs_and_the_rejected_pages(
    mock_sprinto: MockSprinto,
) -> None:
    session_id = start(mock_sprinto)
    push(mock_sprinto, session_id, [user(1), user(2)])
    push(mock_sprinto, session_id, [user(3), user(4, employmentType="ROBOT")], page_hint="p2")
    close(mock_sprinto, session_id)
    mock_sprinto.clock.advance(seconds=2)
    with pytest.raises(AssertionError) as caught:
        mock_sprinto.assert_session_processed(records=4)
    message = str(caught.value)
    assert f"session {session_id} has 2 accepted records, expected 4" in message
    assert "page 2, page_hint 'p2', 2 records: validation_failed" in message
    assert "User[1].employmentType:" in message


def test_assert_no_rejected_pages_lists_every_rejected_page_with_its_errors(mock_sprinto: MockSprinto) -> None:
    session_id = start(mock_sprinto)
    push(mock_sprinto, session_id, [user(1)])
    push(mock_sprinto, session_id, [user(2, workEmail="not-an-email"), user(3, employeeId=7)], page_hint=2)
    status, _ = call(mock_sprinto, "POST", f"/sessions/{session_id}/entities", {"entities": []})
    assert status == 400
    with pytest.raises(AssertionError) as caught:
        mock_sprinto.assert_no_rejected_pages()
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 of 3 pages were rejected:"
    assert lines[1].startswith(f"  session {session_id} (#1), page 2, page_hint 2, 2 records: validation_failed:")
    assert (
        lines[2]
        == '      User[0].workEmail: "not-an-email" is not a valid email address  (format, /entities/User/0/workEmail)'
    )
    assert lines[3].startswith("      User[1].employeeId: 7 is not of type")
    assert lines[4].startswith(f"  session {session_id} (#1), page 3: ")


def test_assert_no_rejected_pages_lists_a_page_a_scenario_rule_rejected(mock_sprinto: MockSprinto) -> None:
    # The client was told its page 2 was rejected; the assertion passed, as the session did not count it.
    mock_sprinto.use_scenario("reject-page-2")
    session_id = start(mock_sprinto)
    push(mock_sprinto, session_id, [user(1)])
    status, _ = push(mock_sprinto, session_id, [user(2)], page_hint="p2")
    assert status == 400
    with pytest.raises(AssertionError) as caught:
        mock_sprinto.assert_no_rejected_pages()
    lines = str(caught.value).splitlines()
    assert lines[0] == "1 of 2 pages were rejected:"
    assert lines[1].startswith(f"  session {session_id} (#1), page 2, page_hint 'p2', 1 record: validation_failed:")
    assert lines[1].endswith("(rejected by the scenario: reject-page-2)")


def test_assert_session_processed_without_any_session_says_so(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(AssertionError, match="no session was started on this integration"):
        mock_sprinto.assert_session_processed()
    start(mock_sprinto)
    with pytest.raises(AssertionError, match="no session 'ses_nope' on this integration"):
        mock_sprinto.assert_session_processed("ses_nope")


async def test_an_async_test_drives_the_shared_server_with_aiohttp(mock_sprinto: MockSprinto) -> None:
    async with aiohttp.ClientSession(headers=mock_sprinto.headers) as http:
        async with http.post(f"{mock_sprinto.integration_url}/sessions") as response:
            session = await response.json()
        page = {"entities": {"User": [user(1)]}}
        async with http.post(f"{mock_sprinto.integration_url}/sessions/{session['id']}/entities", json=page) as r:
            assert r.status == 202
        close = {"status": "apply"}
        async with http.post(f"{mock_sprinto.integration_url}/sessions/{session['id']}/close", json=close) as r:
            assert r.status == 202
    mock_sprinto.clock.advance(seconds=2)  # a blocking call is fine here: the server has its own thread
    mock_sprinto.assert_session_processed(session["id"], records=1)


def test_a_tests_frozen_time_does_not_reach_the_shared_server(mock_sprinto: MockSprinto) -> None:
    # Frozen far in the future and without real_asyncio: the server keeps answering on real time,
    # so later tests are not stranded at 2040 (its clock never moves backwards).
    real_year = datetime.now(timezone.utc).year
    with freeze_time("2040-01-01T00:00:00Z"):
        session_id = start(mock_sprinto)
        created = mock_sprinto.session(session_id)["created_at"]
    assert int(created[:4]) in (real_year, real_year + 1)
    assert mock_sprinto.clock.now().year < 2040


def test_use_scenario_accepts_a_name_a_dict_and_a_file(mock_sprinto: MockSprinto, tmp_path: Path) -> None:
    # Needs the scenario endpoint of the control API (issue 3).
    mock_sprinto.use_scenario("rate-limited")
    mock_sprinto.use_scenario({"name": "tight", "settings": {"max_page_items": 1}, "rules": []})
    session_id = start(mock_sprinto)
    status, body = push(mock_sprinto, session_id, [user(1), user(2)])
    assert status == 400 and body["code"] == "too_many_items"

    scenario_file = tmp_path / "fail-second-push.yaml"
    scenario_file.write_text(
        "name: fail-second-push\nrules:\n  - match: {operation: push_page}\n    when: {nth: 2}\n"
        "    respond: {status: 503}\n",
        encoding="utf-8",
    )
    mock_sprinto.use_scenario(scenario_file)
    assert push(mock_sprinto, session_id, [user(1)])[0] == 202
    assert push(mock_sprinto, session_id, [user(2)])[0] == 503
    with pytest.raises(MockSprintoError, match="400"):
        mock_sprinto.use_scenario({"name": "broken", "rules": [{"match": {"operation": "nope"}}]})
    with pytest.raises(ValueError, match=r"no-such-file\.yaml"):
        mock_sprinto.use_scenario("no-such-file.yaml")


def test_without_pytest_a_server_serves_handles_until_its_block_ends() -> None:
    with MockSprintoServer() as server:
        mock = server.new_integration("unittest-style")
        session_id = start(mock)
        close(mock, session_id, "discard")
        assert [s["state"] for s in mock.sessions()] == ["cancelled"]
        port = server.port
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port or 0), timeout=2).close()


def test_a_well_behaved_client_passes_and_the_report_says_what_it_met(mock_sprinto: MockSprinto) -> None:
    session_id = start(mock_sprinto)
    assert push(mock_sprinto, session_id, [user(1), user(2)], page_hint=1)[0] == 202
    close(mock_sprinto, session_id)
    mock_sprinto.clock.advance(seconds=2)
    assert call(mock_sprinto, "GET", f"/sessions/{session_id}")[1]["state"] == "processed"  # the outcome, read
    report = mock_sprinto.assert_client_well_behaved()
    assert report == mock_sprinto.report()
    assert report["summary"] == {"errors": 0, "warnings": 0, "infos": 0}
    assert {item["behaviour"]: item["met"] for item in report["coverage"]}["applied"] is True


def test_a_misbehaving_client_fails_naming_each_finding_with_evidence_and_advice(mock_sprinto: MockSprinto) -> None:
    session_id = start(mock_sprinto)
    bad = [user(1, workEmail="nope")]
    push(mock_sprinto, session_id, bad, page_hint=1)
    push(mock_sprinto, session_id, bad, page_hint=1)  # unchanged
    assert push(mock_sprinto, session_id, [user(2)])[0] == 202  # no page_hint: an info, never a failure
    close(mock_sprinto, session_id, "discard")
    resent = mock_sprinto.journal()[2]["request_id"]
    with pytest.raises(AssertionError) as failure:
        mock_sprinto.assert_client_well_behaved()
    text = str(failure.value)
    assert "is not well behaved (1 error)" in text
    assert "error resent_rejected_page_unchanged (1x): a page rejected with 400 was sent again unchanged" in text
    assert f"request_id {resent} session_id {session_id} page 2" in text
    assert "advice: A 400 means the page itself is wrong" in text
    assert "missing_page_hint" not in text
    mock_sprinto.assert_client_well_behaved(allow=("resent_rejected_page_unchanged",))


def test_allow_names_only_known_findings(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(ValueError, match="allow names no finding: retry_to_soon"):
        mock_sprinto.assert_client_well_behaved(allow=("retry_to_soon",))
