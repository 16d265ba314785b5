"""Carrying a run home from a user's suite: a failing test leaves its state bundle beside its HAR,
its report says the one command that opens it, and ``mock-sprinto serve --state`` on it shows the
same sessions, pages and findings; the handles verify requests with a readable failure."""

from __future__ import annotations

import json
import re
import signal

import pytest

from ..carrydocs import block
from ..e2e.test_cli import start
from .test_pytester import suite  # noqa: F401 - the fixture, shared

FAILING = """
from inner_helpers import call, push, start, user

def test_fails(mock_sprinto):
    session_id = start(mock_sprinto)
    push(mock_sprinto, session_id, [user(1)])
    push(mock_sprinto, session_id, [user(2, workEmail="nope")])
    call(mock_sprinto, "POST", f"/sessions/{session_id}/close", {"status": "apply"})
    mock_sprinto.clock.advance(seconds=2)
    mock_sprinto.assert_no_rejected_pages()
"""


def test_a_failing_test_leaves_a_bundle_that_serve_state_opens_as_it_was(
    suite: pytest.Pytester,  # noqa: F811
) -> None:
    suite.makepyfile(test_inner=FAILING)
    result = suite.runpytest(f"--basetemp={suite.path / 'base'}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(block("bundles-failing-test").splitlines())  # docs/bundles.md, as shown
    (written,) = (suite.path / "base" / "mock-sprinto-har").glob("test_fails--test_fails-*.state.json")
    assert written.with_name(written.name.replace(".state.json", ".har")).is_file()  # beside its HAR
    integration = re.search(r"#integration=(\S+)", result.stdout.str())
    assert integration is not None
    name = integration.group(1)
    bundle = json.loads(written.read_text())
    assert bundle["scope"] == "integration" and bundle["integrations"][0]["id"] == name

    server = start("--state", str(written))
    try:
        assert f"state loaded from {written}: 1 integration, 4 journal entries" in server.banner
        assert f"its dashboard: http://127.0.0.1:{server.port}/_mock/#integration={name}" in server.banner
        status, view = server.call("GET", f"/_mock/integrations/{name}/overview")
        assert status == 200 and view["exists"] is True
        (session,) = view["sessions"]
        assert session["state"] == "processed" and [p["accepted"] for p in session["pages"]] == [True, False]
        assert session["pages"][1]["errors"][0]["field"] == "workEmail"
        assert [f["id"] for f in view["report"]["findings"]] == [
            "applied_with_rejected_pages",
            "outcome_not_read",
            "missing_page_hint",
        ]
        assert view["records"]["count"] == 1
        status, journal = server.call("GET", f"/_mock/journal?integration_id={name}")
        assert [e["status"] for e in journal["entries"]] == [201, 202, 400, 202]
    finally:
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(10)


def test_the_handles_verify_requests_and_carry_state(suite: pytest.Pytester) -> None:  # noqa: F811
    suite.makepyfile(
        test_inner="""
        import pytest
        from inner_helpers import call, push, start, user

        START = {"operation": "start_session", "status": 201}
        PAGES = {"operation": "push_page", "status": 202, "repeat": "+"}
        APPLY = {"operation": "close_session", "status": 202, "body": {"status": "apply"}}

        def test_blocking(mock_sprinto, tmp_path):
            session_id = start(mock_sprinto)
            push(mock_sprinto, session_id, [user(1)])
            push(mock_sprinto, session_id, [user(2)])
            call(mock_sprinto, "POST", f"/sessions/{session_id}/close", {"status": "apply"})
            mock_sprinto.assert_sequence(START, PAGES, APPLY, only=True)
            mock_sprinto.assert_requests({"operation": "push_page", "status": 202, "exactly": 2})
            mock_sprinto.assert_no_unexpected_requests({"status": "2xx"})
            view = mock_sprinto.verify(counts=[{"operation": "push_page", "exactly": 3}])
            assert view["ok"] is False and view["failures"][0]["requests"] == [2, 3]
            with pytest.raises(AssertionError) as failed:
                mock_sprinto.assert_sequence(START, APPLY, PAGES)
            message = str(failed.value)
            assert message.startswith("mock-sprinto: the requests are not the ones expected")
            assert "  > #2 push_page 202 session 1 page 1   <- sequence" in message
            path = mock_sprinto.export_state(tmp_path / "run.state.json.gz")
            push(mock_sprinto, start(mock_sprinto), [user(3)])
            assert mock_sprinto.import_state(path)["journal_entries"] == 4
            assert [s["state"] for s in mock_sprinto.sessions()] == ["processing"]

        async def test_in_process(mock_sprinto_app):
            mock = await mock_sprinto_app()
            async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
                assert response.status == 201
            await mock.assert_sequence(START)
            with pytest.raises(AssertionError, match="counts\\\\[0\\\\]: close_session: at least 1; found 0"):
                await mock.assert_requests({"operation": "close_session"})
            document = (await mock.verify())["actual"]
            assert [r["operation"] for r in document] == ["start_session"]
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=2)
