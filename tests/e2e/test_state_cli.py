"""The command line carries a run home: serve --persist keeps it across a restart, state export|import|save
talk to a running server, serve --state refuses a damaged bundle before serving, judge reads a HAR."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mock_sprinto.statecli import default_url
from mock_sprinto.testing import sample_user

from .test_cli import CLI, Server, start

KEY = {"api-key": "k"}
ACME = "/api/external/push/v1/integrations/acme"


def stop(server: Server) -> str:
    server.proc.send_signal(signal.SIGTERM)
    out, _ = server.proc.communicate(timeout=20)
    return out


def a_sync(server: Server) -> str:
    status, session = server.call("POST", ACME + "/sessions", headers=KEY)
    assert status == 201
    page = {"entities": {"User": [sample_user(1)]}, "page_hint": 1}
    assert server.call("POST", f"{ACME}/sessions/{session['id']}/entities", page, KEY)[0] == 202
    return str(session["id"])


def test_persist_keeps_the_run_across_a_restart(tmp_path: Path) -> None:
    target = tmp_path / "keep" / "state.json"
    first = start("--persist", str(target))
    assert f"\n  persist file    {target}, saved when it stops and on POST /_mock/state/save\n" in first.banner
    session = a_sync(first)
    out = stop(first)
    size = target.stat().st_size
    assert f"mock-sprinto: state saved to {target} ({size} bytes, 1 integration, 2 journal entries)" in out
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]

    second = start("--persist", str(target))
    try:
        assert f"state loaded from {target}: 1 integration, 2 journal entries" in second.banner
        status, conflict = second.call("POST", ACME + "/sessions", headers=KEY)
        assert (status, conflict["active_session_id"]) == (409, session)  # the same session, still active
        status, saved = second.call("POST", "/_mock/state/save")
        assert status == 200 and saved["journal_entries"] == 3 and saved["saved"] == str(target)
    finally:
        stop(second)


def test_a_persist_fifo_is_not_read_at_start_and_gets_the_state_on_the_way_out(tmp_path: Path) -> None:
    # serve read the FIFO at start (it existed), and blocked until something wrote to it.
    import threading

    fifo = tmp_path / "state.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as pipe:  # blocks until the server opens it to write
            received.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    server = start("--persist", str(fifo))  # returns once the banner is out: the start did not block
    try:
        assert "state loaded" not in server.banner
        assert server.call("POST", ACME + "/sessions", headers=KEY)[0] == 201
    finally:
        out = stop(server)
    reader.join(10)
    assert "state saved to" in out and received and json.loads(received[0])["format"] == "mock-sprinto-state"
    assert fifo.is_fifo()


def test_one_request_kept_is_one_journal_entry(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    first = start("--persist", str(target))
    assert first.call("POST", ACME + "/sessions", headers=KEY)[0] == 201
    assert re.search(
        rf"state saved to {re.escape(str(target))} \(\d+ bytes, 1 integration, 1 journal entry\)\n", stop(first)
    )
    second = start("--persist", str(target))
    try:
        assert f"mock-sprinto: state loaded from {target}: 1 integration, 1 journal entry;" in second.banner
        exported = run("state", "export", "--url", second.origin, "-o", str(tmp_path / "all.json"))
        assert re.search(r"wrote \S+all.json \(\d+ bytes, 1 integration, 1 journal entry\)", exported.stderr), (
            exported.stderr
        )
    finally:
        stop(second)


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


def test_state_finds_the_server_the_environment_configures(server: Server) -> None:
    """The same MOCK_SPRINTO_HOST and MOCK_SPRINTO_PORT that start ``serve`` (in a CI job, say) lead
    ``state`` to it with no --url; a wildcard host is reached on loopback."""
    port = urlsplit(server.origin).port
    env = {**os.environ, "MOCK_SPRINTO_HOST": "0.0.0.0", "MOCK_SPRINTO_PORT": str(port)}
    exported = run("state", "export", env=env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["scope"] == "server"


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8080"),
        ({"MOCK_SPRINTO_PORT": "9001"}, "http://127.0.0.1:9001"),
        # asyncio binds '::' for IPv6 only: 127.0.0.1 was refused there
        ({"MOCK_SPRINTO_HOST": "::", "MOCK_SPRINTO_PORT": "9001"}, "http://[::1]:9001"),
        ({"MOCK_SPRINTO_HOST": "0.0.0.0"}, "http://127.0.0.1:8080"),
        ({"MOCK_SPRINTO_HOST": "::1", "MOCK_SPRINTO_PORT": " 9001 "}, "http://[::1]:9001"),
        ({"MOCK_SPRINTO_HOST": "localhost", "MOCK_SPRINTO_PORT": "0"}, "http://localhost:8080"),
        ({"MOCK_SPRINTO_PORT": "99999"}, "http://127.0.0.1:8080"),
        ({"MOCK_SPRINTO_PORT": "８０"}, "http://127.0.0.1:8080"),
    ],
)
def test_the_default_url_is_where_serve_listens_in_the_environment(env: dict[str, str], url: str) -> None:
    assert default_url(env) == url


def test_state_export_import_and_save_against_a_running_server(server: Server, tmp_path: Path) -> None:
    session = a_sync(server)
    url = ["--url", server.origin]
    exported = run("state", "export", *url, "--integration", "acme", "-o", str(tmp_path / "acme.json.gz"))
    assert exported.returncode == 0, exported.stderr
    assert "open it with: mock-sprinto serve --state" in exported.stderr
    whole = run("state", "export", *url)
    assert whole.returncode == 0 and json.loads(whole.stdout)["scope"] == "server"

    assert server.call("POST", f"{ACME}/sessions/{session}/close", {"status": "discard"}, KEY)[0] == 202
    imported = run("state", "import", str(tmp_path / "acme.json.gz"), *url, "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {
        "scope": "integration",
        "integrations": ["acme"],
        "journal_entries": 2,
        "journal_entries_kept": 2,
    }
    assert server.call("GET", f"{ACME}/sessions/{session}", headers=KEY)[1]["state"] == "active"  # as exported

    refused = run("state", "save", *url)
    assert refused.returncode == 1 and "409: persistence_off" in refused.stderr
    (tmp_path / "bad.json").write_text('{"format": "mock-sprinto-state", "version": 7}')
    bad = run("state", "import", str(tmp_path / "bad.json"), *url)
    assert bad.returncode == 1 and "400: unsupported_state_version: this is a version 7 state bundle" in bad.stderr
    nobody = run("state", "export", "--url", "http://127.0.0.1:9")
    assert nobody.returncode == 3 and "nothing listens at 127.0.0.1:9 (connection refused)" in nobody.stderr


def test_serve_refuses_a_damaged_state_file_before_serving(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format": "mock-sprinto-state", "version": 1, "scope": "server"}')
    result = subprocess.run([*CLI, "serve", "--port", "0", "--state", str(damaged)], capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"mock-sprinto: error: state {damaged}: the state bundle is refused, nothing was changed:" in result.stderr
    assert "'integrations' is a required property" in result.stderr and "base URL" not in result.stdout


def har_of(server: Server) -> Any:
    return server.call("GET", "/_mock/journal.har?integration_id=acme")[1]


def test_judge_prints_findings_with_evidence_and_what_it_could_not_judge(server: Server, tmp_path: Path) -> None:
    a_sync(server)
    for _ in range(2):
        assert server.call("POST", ACME + "/sessions", headers=KEY)[0] == 409
    path = tmp_path / "traffic.har"
    path.write_text(json.dumps(har_of(server)))
    text = run("judge", str(path))
    assert text.returncode == 1, text.stdout + text.stderr  # a warning or an error finding
    lines = text.stdout.splitlines()
    assert lines[0] == f"{path}: 4 entries, 4 judged"
    assert "integration acme: 4 request(s); 1 error(s), 2 warning(s), 0 info(s)" in lines
    assert "  error start_conflict_unhandled (1x): a 409 on session start was not handled" in lines
    assert "  warning session_left_active (1x): a session was left active" in lines
    assert any(line.startswith('    evidence: {"active_session_id": "ses_') for line in lines)
    assert any(line.startswith("    advice: One active session per integration") for line in lines)
    assert "  not judged from this HAR:" in lines  # the journal kept no bodies (journal_bodies_bytes is 0)
    assert any(line.startswith("    resent_rejected_page_unchanged, applied_with_rejected_pages") for line in lines)

    as_json = run("judge", str(path), "--json")
    judgement = json.loads(as_json.stdout)
    assert judgement["integrations"][0]["integration_id"] == "acme" and as_json.returncode == 1

    typo = run("judge", str(path), "--integration", "hr-sync")  # a typo must not pass as a clean run
    assert typo.returncode == 2 and typo.stdout == "", typo.stdout
    assert f"{path}: no request of integration 'hr-sync' in the HAR (it holds: acme)" in typo.stderr

    (tmp_path / "other.har").write_text('{"log": {"entries": []}}')
    empty = run("judge", str(tmp_path / "other.har"))
    assert empty.returncode == 1 and "nothing to judge" in empty.stdout  # the wrong tab's capture: no pass
    (tmp_path / "broken.har").write_text('{"log": {}}')
    broken = run("judge", str(tmp_path / "broken.har"))
    assert broken.returncode == 2 and "/log: 'entries' is a required property" in broken.stderr


def test_report_prints_each_integrations_findings_and_exits_1_on_them(server: Server) -> None:
    """A client in another language, against serve, had the report only over HTTP, in the dashboard or
    at the Ctrl-C summary: `mock-sprinto report` prints it, and a CI step can end on its exit code."""
    nothing = run("report", "--url", server.origin)  # no client called it: a CI gate must not pass
    assert nothing.stdout.startswith("mock-sprinto report: the emulator at ") and nothing.returncode == 1
    assert "nothing to judge" in nothing.stdout and "answered 401" not in nothing.stdout
    # Before: a client that sent no api-key was told "no client called it", its 401s unlisted.
    assert server.call("POST", f"{ACME}/sessions", {})[0] == 401
    refused = run("report", "--url", server.origin)
    assert refused.returncode == 1
    assert "the newest requests answered 401 (a wrong or missing api-key), 1:" in refused.stdout
    assert f"POST {ACME}/sessions -> 401 missing_api_key" in refused.stdout
    session = a_sync(server)  # left active: a warning
    result = run("report", "--url", server.origin)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "integration acme: 0 error(s), 1 warning(s), 0 info(s)"
    assert "  warning session_left_active (1x): a session was left active" in lines
    assert any(line.startswith("    evidence: ") and session in line for line in lines)
    assert any(line.startswith("    advice: One active session per integration") for line in lines)
    assert server.call("POST", f"{ACME}/sessions/{session}/close", {"status": "discard"}, KEY)[0] == 202
    clean = run("report", "--url", server.origin, "--integration", "acme", "--json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["summary"] == {"errors": 0, "warnings": 0, "infos": 0}
    typo = run("report", "--url", server.origin, "--integration", "acme2")
    assert typo.returncode == 2 and "integration_not_found" in typo.stderr


def test_report_says_plainly_when_nothing_listens_and_a_bad_id_is_a_usage_error(server: Server) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    nobody = run("report", "--url", f"http://127.0.0.1:{port}")
    assert nobody.returncode == 3 and f"nothing listens at 127.0.0.1:{port} (connection refused)" in nobody.stderr
    assert "Errno" not in nobody.stderr
    bad = run("report", "--url", server.origin, "--integration", "a b")  # not an id at all: 400
    assert bad.returncode == 2, bad.stderr


@pytest.mark.parametrize("command", [("state", "export"), ("report",)])
def test_a_url_with_a_port_out_of_range_is_a_usage_error_not_a_traceback(command: tuple[str, ...]) -> None:
    result = run(*command, "--url", "http://127.0.0.1:99999")
    assert result.returncode == 2 and "is not http://HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bundle_refused_for_max_integrations_exits_1_and_a_wrong_token_2(tmp_path: Path) -> None:
    """A server holding all the integrations it may refuses a bundle (403): exit 1, as bundles.md
    says for a refusal; it was 2, a usage error, as every 401 and 403 was. A token sent and refused
    is said to be the wrong one."""
    full = start("--max-integrations", "1", "--admin-token", "secret")
    try:
        assert full.call("POST", ACME + "/sessions", headers=KEY)[0] == 201
        (tmp_path / "other.json").write_text(json.dumps(_other_integrations_bundle(full)))
        url = ["--url", full.origin]
        refused = run("state", "import", str(tmp_path / "other.json"), *url, "--admin-token", "secret")
        assert refused.returncode == 1 and "integration_limit_reached" in refused.stderr, refused.stderr
        wrong = run("state", "import", str(tmp_path / "other.json"), *url, "--admin-token", "guess")
        assert wrong.returncode == 2 and "the admin token sent is not this server's" in wrong.stderr, wrong.stderr
    finally:
        stop(full)


def _other_integrations_bundle(server: Server) -> Any:
    """The bundle of an integration named ``other``, made by exporting acme's and renaming it."""
    exported = run("state", "export", "--url", server.origin, "--integration", "acme", "--admin-token", "secret")
    assert exported.returncode == 0, exported.stderr
    return json.loads(exported.stdout.replace('"acme"', '"other"'))


def test_an_import_into_a_smaller_journal_says_what_it_left_out(server: Server, tmp_path: Path) -> None:
    """The CLI said "12 journal entries" where the journal kept 5: an error of the CI run passed on
    the laptop, and nothing said why."""
    for _ in range(2):
        session = a_sync(server)
        assert server.call("POST", f"{ACME}/sessions/{session}/close", {"status": "discard"}, KEY)[0] == 202
    bundle = tmp_path / "acme.json"
    assert run("state", "export", "--url", server.origin, "--integration", "acme", "-o", str(bundle)).returncode == 0
    small = start("--journal-size", "2")
    try:
        imported = run("state", "import", str(bundle), "--url", small.origin)
        assert imported.returncode == 0, imported.stderr
        assert "(6 journal entries); the journal kept only the newest 2 (setting journal_size)" in imported.stdout
        assert "the report does not judge the 4 left out" in imported.stdout
        as_json = json.loads(run("state", "import", str(bundle), "--url", small.origin, "--json").stdout)
        assert (as_json["journal_entries"], as_json["journal_entries_kept"]) == (6, 2)
    finally:
        stop(small)
    loaded = start("--journal-size", "2", "--state", str(bundle))
    try:
        assert "the journal kept only the newest 2 (setting journal_size)" in loaded.banner
    finally:
        stop(loaded)
