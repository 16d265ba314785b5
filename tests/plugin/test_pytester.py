"""The plugin seen from a user's suite: pytester runs small suites in-process (xdist: a subprocess)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pytest

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

HELPERS = """
import json, threading, urllib.error, urllib.request

def call(mock, method, tail, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(mock.integration_url + tail, data=data, method=method,
                                     headers={**mock.headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

def start(mock):
    status, body = call(mock, "POST", "/sessions")
    assert status == 201, body
    return body["id"]

from mock_sprinto.testing import sample_user as user

def push(mock, session_id, records):
    return call(mock, "POST", f"/sessions/{session_id}/entities", {"entities": {"User": records}})

def server_threads():
    return sum(t.name == "mock-sprinto-server" for t in threading.enumerate())

def log(**facts):
    with open("seen.jsonl", "a") as f:
        f.write(json.dumps(facts) + "\\n")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(inner_helpers=HELPERS)
    return pytester


def server_threads() -> int:
    return sum(t.name == "mock-sprinto-server" for t in threading.enumerate())


def seen(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    lines = (pytester.path / "seen.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_one_server_per_session_started_lazily_a_fresh_integration_per_test_stopped_even_after_failures(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        test_inner="""
        import pytest
        from inner_helpers import log, server_threads, start

        def test_0_without_the_fixture():
            log(name="plain", threads=server_threads())

        @pytest.mark.parametrize("n", [1, 2])
        def test_1_leaves_a_session_active(mock_sprinto, n):
            start(mock_sprinto)
            log(name=f"t{n}", threads=server_threads(), origin=mock_sprinto.origin,
                integration=mock_sprinto.integration_id, sessions=len(mock_sprinto.sessions()))

        def test_2_fails(mock_sprinto):
            start(mock_sprinto)
            assert False, "on purpose"
    """
    )
    before = server_threads()
    result = suite.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    plain, first, second = seen(suite)
    assert plain["threads"] == before  # nothing started for a test that does not ask for it
    assert first["threads"] == second["threads"] == before + 1
    assert first["origin"] == second["origin"]
    assert first["integration"] != second["integration"]
    assert first["sessions"] == second["sessions"] == 1  # neither sees the other's active session

    assert server_threads() == before
    port = int(first["origin"].rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_failing_test_shows_what_the_emulator_saw(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_inner="""
        from inner_helpers import push, start, user

        def test_sync(mock_sprinto):
            session_id = start(mock_sprinto)
            push(mock_sprinto, session_id, [user(1), user(2, workEmail="not-an-email")])
            mock_sprinto.assert_no_rejected_pages()
    """
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       mock_sprinto.assert_no_rejected_pages()",
            "E       AssertionError: 1 of 1 pages were rejected:",
            "E         session ses_* (#1), page 1, 2 records: validation_failed: *",
            'E             User[1].workEmail: "not-an-email" is not a valid email address  (format, '
            "/entities/User/1/workEmail)",
            "*- mock-sprinto: test_sync-* -*",
            "integration test_sync-* at http://127.0.0.1:*/api/external/push",
            "session #1 ses_* active: 0 pages accepted (0 records: none), 1 rejected",
            "rejected pages:",
            "last 2 of 2 requests *",
            "  * POST /sessions -> 201",
            "  * POST /sessions/ses_*/entities -> 400 validation_failed",
        ]
    )
    assert "mock_sprinto/testing" not in result.stdout.str()  # the helpers' own frames are hidden


def test_a_test_that_never_uses_its_handle_makes_no_integration_but_still_reports(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_inner="""
        from inner_helpers import log, start

        def listed(server):
            return [each["id"] for each in server.control.call("GET", "/integrations")["integrations"]]

        def test_0_unused(mock_sprinto, mock_sprinto_server):
            log(unused=listed(mock_sprinto_server))

        def test_1_used(mock_sprinto, mock_sprinto_server):
            start(mock_sprinto)
            log(used=listed(mock_sprinto_server), own=mock_sprinto.integration_id)

        def test_2_after(mock_sprinto_server):
            log(after=listed(mock_sprinto_server))

        def test_3_fails_unused(mock_sprinto):
            assert False, "on purpose"
    """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    unused, used, after = seen(suite)
    assert unused == {"unused": []}
    assert used["used"] == [used["own"]]
    assert after == {"after": []}  # the used one was forgotten at its teardown
    result.stdout.fnmatch_lines(
        [
            "*- mock-sprinto: test_3_fails_unused-* -*",
            "integration test_3_fails_unused-* at http://127.0.0.1:*/api/external/push",
            "this test's requests as HAR *: *test_3_fails_unused--test_3_fails_unused-*.har",
        ]
    )
    result.stdout.no_fnmatch_line("*Sprinto behaviours the tests met*")


def test_a_create_refused_after_it_was_queued_fails_the_test_saying_why(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        import pytest
        from mock_sprinto.settings import Config, Settings

        @pytest.fixture(scope="session")
        def mock_sprinto_config():
            return Config(Settings(max_integrations=1))
    """
    )
    suite.makepyfile(
        test_inner="""
        import time
        from mock_sprinto.control import ControlPlane
        from inner_helpers import call

        def test_late(mock_sprinto_server, monkeypatch, request):
            mock_sprinto_server.new_integration("filler")  # the one integration the emulator holds
            # As if another client had filled the emulator between the check and the create.
            monkeypatch.setattr(ControlPlane, "creatable", lambda *args: True)
            mock = request.getfixturevalue("mock_sprinto")
            time.sleep(0.05)  # the server waits for work: the create is queued on first use
            assert call(mock, "GET", "/status")[0] == 403  # the request met no integration (nor room for one)
    """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*the emulator refused this test's integration: POST /integrations answered 403: integration_limit_reached*"]
    )


def test_the_marker_configures_each_test_and_nothing_leaks(suite: pytest.Pytester) -> None:
    suite.makefile(
        ".yaml",
        fail_first_start="""
        name: fail-first-start
        rules:
          - match: {operation: start_session}
            when: {nth: 1}
            respond: {status: 503}
    """,
    )
    suite.makepyfile(
        test_inner="""
        import pytest
        from inner_helpers import call, push, start, user

        pytestmark = pytest.mark.mock_sprinto(settings={"inactivity_timeout_seconds": 60})

        @pytest.mark.mock_sprinto(settings={"max_page_items": 2})
        def test_settings(mock_sprinto):
            session_id = start(mock_sprinto)
            status, body = push(mock_sprinto, session_id, [user(1), user(2), user(3)])
            assert (status, body["code"]) == (400, "too_many_items")
            assert call(mock_sprinto, "GET", f"/sessions/{session_id}")[1]["inactivity_timeout_seconds"] == 60

        @pytest.mark.mock_sprinto(scenario="rate-limited", settings={"rate_limit_burst": 1})
        def test_shipped_scenario_with_settings_merged(mock_sprinto):
            assert call(mock_sprinto, "GET", "/status")[0] == 200
            status, body = call(mock_sprinto, "GET", "/status")
            assert (status, body["code"]) == (429, "rate_limited")

        @pytest.mark.mock_sprinto(scenario="fail_first_start.yaml")
        def test_scenario_file(mock_sprinto):
            assert call(mock_sprinto, "POST", "/sessions")[0] == 503
            assert call(mock_sprinto, "POST", "/sessions")[0] == 201

        @pytest.mark.mock_sprinto(scenario={"name": "inline", "rules": [
            {"match": {"operation": "integration_status"}, "respond": {"status": 418}}]})
        class TestClass:
            @pytest.mark.mock_sprinto(settings={"max_page_items": 1})
            def test_class_scenario_with_method_settings(self, mock_sprinto):
                assert call(mock_sprinto, "GET", "/status")[0] == 418
                status, body = push(mock_sprinto, start(mock_sprinto), [user(1), user(2)])
                assert body["code"] == "too_many_items"

        def test_module_marker_only(mock_sprinto):
            session_id = start(mock_sprinto)
            assert push(mock_sprinto, session_id, [user(i) for i in range(3)])[0] == 202
            assert call(mock_sprinto, "GET", "/status")[0] == 200
            assert call(mock_sprinto, "GET", f"/sessions/{session_id}")[1]["inactivity_timeout_seconds"] == 60
    """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=5)


def test_a_wrong_marker_fails_the_test_with_a_readable_reason(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_inner="""
        import pytest

        @pytest.mark.mock_sprinto(scenarios="rate-limited")
        def test_unknown_argument(mock_sprinto): pass

        @pytest.mark.mock_sprinto("rate-limited")
        def test_positional(mock_sprinto): pass

        @pytest.mark.mock_sprinto(settings={"max_page_itmes": 2})
        def test_unknown_setting(mock_sprinto): pass

        @pytest.mark.mock_sprinto(settings={"max_page_items": "many"})
        def test_bad_value(mock_sprinto): pass

        @pytest.mark.mock_sprinto(scenario="no-such-scenario", settings={"max_page_items": 2})
        def test_unknown_scenario_with_settings(mock_sprinto): pass

        @pytest.mark.mock_sprinto(settings={"port": 1})
        def test_server_wide_setting(mock_sprinto): pass
    """
    )
    result = suite.runpytest("-rN")  # no short summary: under CI=true it repeats each reason whole
    result.assert_outcomes(errors=6)
    result.stdout.fnmatch_lines_random(
        [
            "*@pytest.mark.mock_sprinto got unknown argument(s) scenarios (it takes scenario, settings)",
            "*@pytest.mark.mock_sprinto takes keyword arguments only (scenario, settings); "
            "got positional ('rate-limited',)",
            "*@pytest.mark.mock_sprinto: unknown setting 'max_page_itmes'; did you mean 'max_page_items'? "
            "(see: mock-sprinto settings)",
            "*@pytest.mark.mock_sprinto: setting 'max_page_items' must be a whole number, not 'many'",
            # Said before anything is created, as a config file says it; never the control request.
            "*@pytest.mark.mock_sprinto: no shipped scenario named 'no-such-scenario' "
            "(see: mock-sprinto scenarios list)",
            "*@pytest.mark.mock_sprinto: 'port' is a server-wide setting, not one integration's: "
            "set it for the whole test session by overriding the mock_sprinto_config fixture in a conftest.py*",
        ]
    )
    # Each reason once: not the original exception and then "During handling of the above exception".
    assert "During handling" not in result.stdout.str()
    assert result.stdout.str().count("unknown setting 'max_page_itmes'") == 1
    assert "known: " not in result.stdout.str()  # never the whole list of settings inline
    assert "/_mock/" not in result.stdout.str()  # nor a control request the user never sent


def test_server_wide_settings_come_from_an_overridden_config_fixture(suite: pytest.Pytester) -> None:
    suite.makeconftest("""
        import pytest
        from mock_sprinto.settings import Config, Settings

        @pytest.fixture(scope="session")
        def mock_sprinto_config():
            return Config(Settings(processing_seconds=0, admin_token="s3cret"))
    """)
    suite.makepyfile(
        test_inner="""
        import urllib.error, urllib.request
        import pytest
        from inner_helpers import call, push, start, user

        def test_processing_is_instant_and_the_handle_sends_the_admin_token(mock_sprinto):
            session_id = start(mock_sprinto)
            push(mock_sprinto, session_id, [user(1)])
            assert call(mock_sprinto, "POST", f"/sessions/{session_id}/close", {"status": "apply"})[0] == 202
            mock_sprinto.assert_session_processed(session_id, records=1)
            with pytest.raises(urllib.error.HTTPError, match="401"):
                urllib.request.urlopen(mock_sprinto.origin + "/_mock/health")
    """
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_sync_and_async_clients_and_both_variants_in_one_suite(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_inner="""
        import aiohttp, requests
        from inner_helpers import start, user

        def test_requests(mock_sprinto):
            r = requests.post(mock_sprinto.integration_url + "/sessions", headers=mock_sprinto.headers, timeout=10)
            assert r.status_code == 201

        def test_urllib(mock_sprinto):
            assert start(mock_sprinto).startswith("ses_")

        async def test_aiohttp_against_the_shared_server(mock_sprinto):
            async with aiohttp.ClientSession(headers=mock_sprinto.headers) as http:
                async with http.post(mock_sprinto.integration_url + "/sessions") as response:
                    assert response.status == 201
            assert len(mock_sprinto.sessions()) == 1

        async def test_aiohttp_in_process(mock_sprinto_app):
            mock = await mock_sprinto_app()
            async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
                assert response.status == 201
            assert len(await mock.sessions()) == 1

        async def test_in_process_failure_is_reported(mock_sprinto_app):
            mock = await mock_sprinto_app()
            async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
                session = await response.json()
            await mock.assert_session_processed(session["id"])
    """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: session ses_* is 'active', not 'processed': it is still active: *",
            "*- mock-sprinto: test_in_process_failure_is_reported-* -*",
            "session #1 ses_* active: *",
        ]
    )


def test_each_xdist_worker_has_its_own_server(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_inner="""
        import os
        import pytest
        from inner_helpers import log, start

        @pytest.mark.parametrize("n", range(6))
        def test_push(mock_sprinto, n):
            start(mock_sprinto)
            assert len(mock_sprinto.sessions()) == 1
            log(worker=os.environ["PYTEST_XDIST_WORKER"], pid=os.getpid(), origin=mock_sprinto.origin)
    """
    )
    # Unrelated heavy plugins installed beside ours are left out: three interpreters start here.
    quiet = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio")
    result = suite.runpytest_subprocess("-p", "xdist", "-n", "2", *quiet)
    result.assert_outcomes(passed=6)
    origins: dict[str, set[str]] = {}
    for fact in seen(suite):
        origins.setdefault(fact["worker"], set()).add(fact["origin"])
    assert sorted(origins) == ["gw0", "gw1"]
    assert all(len(found) == 1 for found in origins.values())  # one server per worker, shared by its tests
    assert origins["gw0"] != origins["gw1"]


def test_the_docs_asyncio_example_runs_as_written_without_a_warning(pytester: pytest.Pytester) -> None:
    """docs/pytest.md's asyncio section, copied into a fresh project: its pyproject.toml lines and
    its test file, nothing else (the example is the file tests/examples/test_async_client.py). The
    snippet once left asyncio_default_fixture_loop_scope unset: pytest-asyncio warned on every run."""
    from ..doctext import block, fenced_blocks

    (example,) = [body for _, tag, _, body in fenced_blocks() if tag == "example:tests/examples/test_async_client.py"]
    pytester.makefile(".toml", pyproject=block("asyncio-ini"))
    pytester.makepyfile(test_async_client=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::DeprecationWarning")
    result.assert_outcomes(passed=1)
    said = result.stdout.str() + result.stderr.str()
    assert "is unset" not in said and "PytestDeprecationWarning" not in said and "warnings summary" not in said


def test_the_docs_conftest_sets_the_shared_servers_settings(pytester: pytest.Pytester) -> None:
    """docs/pytest.md's conftest.py, as written: server-wide settings for the shared server."""
    from ..doctext import block

    pytester.makeini(INI)
    pytester.makeconftest(block("conftest-config"))
    pytester.makepyfile(
        test_inner="""
        def test_processing_is_instant_and_the_journal_larger(mock_sprinto_server):
            settings = mock_sprinto_server.emulator.settings
            assert (settings.processing_seconds, settings.journal_size) == (0, 50_000)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


COVERAGE_SUITE = """
from inner_helpers import call, push, start, user

def test_rejected_then_fixed(mock_sprinto):
    session_id = start(mock_sprinto)
    assert push(mock_sprinto, session_id, [user(1, workEmail="x")])[0] == 400
    assert push(mock_sprinto, session_id, [user(1)])[0] == 202
    assert call(mock_sprinto, "POST", f"/sessions/{session_id}/close", {"status": "apply"})[0] == 202
    mock_sprinto.clock.advance(seconds=2)

def test_discarded(mock_sprinto):
    session_id = start(mock_sprinto)
    assert call(mock_sprinto, "POST", f"/sessions/{session_id}/close", {"status": "discard"})[0] == 202

def test_without_the_emulator():
    pass
"""


def test_the_run_ends_with_the_behaviours_its_tests_met(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_inner=COVERAGE_SUITE)
    result = suite.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*mock-sprinto: Sprinto behaviours the tests met*",
            "  page_rejected        met in 1 test(s), recovered in 1",
            "  start_conflict       never met",
            "  discarded            met in 1 test(s)",
            "  applied              met in 1 test(s)",
        ]
    )


def test_min_coverage_fails_a_green_run_that_met_too_few_behaviours(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_inner=COVERAGE_SUITE)
    result = suite.runpytest("--mock-sprinto-min-coverage", "4")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  3 of 11 behaviours met; --mock-sprinto-min-coverage 4: NOT met: the run fails"])
    assert suite.runpytest("--mock-sprinto-min-coverage", "3").ret == pytest.ExitCode.OK


@pytest.mark.parametrize(
    ("given", "said"), [("-1", "-1 is not between 0 and 11"), ("12", "12 is not between 0 and 11")]
)
def test_a_min_coverage_no_run_can_meet_or_miss_is_a_usage_error(suite: pytest.Pytester, given: str, said: str) -> None:
    # -1 (always met) and 12 of 11 (never met, the tests all green) were taken without a word.
    suite.makepyfile(test_inner="def test_x():\n    pass\n")
    result = suite.runpytest(f"--mock-sprinto-min-coverage={given}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*argument --mock-sprinto-min-coverage: {said}, the number of documented behaviours"])


def test_min_coverage_counts_the_behaviours_of_every_xdist_worker(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_inner=COVERAGE_SUITE)
    quiet = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio")
    result = suite.runpytest_subprocess("-p", "xdist", "-n", "2", "--mock-sprinto-min-coverage", "3", *quiet)
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["  3 of 11 behaviours met; --mock-sprinto-min-coverage 3: met"])


def test_har_files_from_both_handles_and_from_a_failing_tests_report(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_inner="""
        import json
        from haralyzer import HarParser
        from inner_helpers import push, start, user

        def test_blocking_handle_writes_a_har(mock_sprinto, tmp_path):
            push(mock_sprinto, start(mock_sprinto), [user(1)])
            path = mock_sprinto.har(tmp_path / "out" / "sync.har")
            entries = HarParser(json.loads(path.read_text())).har_data["entries"]
            assert [e["_operation"] for e in entries] == ["start_session", "push_page"]
            assert {h["name"].lower(): h["value"] for h in entries[0]["request"]["headers"]}["api-key"] == "[redacted]"

        async def test_in_process_handle_writes_a_har(mock_sprinto_app, tmp_path):
            mock = await mock_sprinto_app()
            async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
                assert response.status == 201
            path = await mock.har(tmp_path / "app.har")
            assert len(HarParser(json.loads(path.read_text())).pages[0].entries) == 1

        def test_fails(mock_sprinto):
            push(mock_sprinto, start(mock_sprinto), [user(1, workEmail="nope")])
            mock_sprinto.assert_no_rejected_pages()
    """
    )
    result = suite.runpytest(f"--basetemp={suite.path / 'base'}")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["this test's requests as HAR (open in a browser's developer tools): *.har"])
    written = list((suite.path / "base" / "mock-sprinto-har").glob("test_fails--test_fails-*.har"))
    assert len(written) == 1
    har = json.loads(written[0].read_text())
    assert [e["response"]["status"] for e in har["log"]["entries"]] == [201, 400]


def test_mock_sprinto_app_without_pytest_aiohttp_names_what_to_install(suite: pytest.Pytester) -> None:
    """Without pytest-aiohttp (here: its plugin turned off) pytest alone would say "fixture
    'aiohttp_client' not found", naming neither the package nor mock-sprinto's extra that brings it."""
    suite.makepyfile(
        test_inner="""
        async def test_in_process(mock_sprinto_app):
            await mock_sprinto_app()

        def test_the_shared_server_needs_nothing_more(mock_sprinto):
            assert mock_sprinto.sessions() == []
        """
    )
    result = suite.runpytest("-p", "no:aiohttp")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*mock_sprinto_app needs pytest-aiohttp*pip install pytest-aiohttp*[[]asyncio[]]*"])
    assert "fixture 'aiohttp_client' not found" not in result.stdout.str()


def test_a_finished_test_keeps_no_handle_alive_so_a_long_suite_does_not_grow(suite: pytest.Pytester) -> None:
    # pytest keeps every item until the session ends: a handle left on one stayed for the whole run,
    # ~2 KB and ~10 objects a test that every full collection of a 20,000-test suite walked.
    suite.makeconftest(
        """
        import gc
        from inner_helpers import log

        def pytest_sessionfinish(session):
            gc.collect()
            kinds = ("MockSprinto", "AsyncMockSprinto")
            # Not test_fails: its frames (its handle among their locals) are pytest's to keep, in
            # the failure's traceback; nor another suite's run earlier in this process.
            handles = [o for o in gc.get_objects() if type(o).__name__ in kinds]
            alive = [o._integration_id for o in handles if o._integration_id.startswith(("test_shared", "test_in_"))]
            log(alive=alive, items=len(session.items))
        """
    )
    suite.makepyfile(
        test_inner="""
        import pytest
        from inner_helpers import start

        @pytest.mark.parametrize("n", range(20))
        def test_shared(mock_sprinto, n):
            start(mock_sprinto)

        def test_fails(mock_sprinto):
            start(mock_sprinto)
            assert False, "on purpose: its report reads the handle first"

        async def test_in_process(mock_sprinto_app):
            mock = await mock_sprinto_app()
            async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
                assert response.status == 201
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=21, failed=1)
    result.stdout.fnmatch_lines(["*- mock-sprinto: test_fails-* -*"])
    (facts,) = seen(suite)
    assert facts == {"alive": [], "items": 22}
