"""``mock-sprinto probe`` as a user runs it: a real process against a real ``mock-sprinto serve``.

The server under test is started with settings the emulator does not default to, so the settings
file the probe writes can only hold them if the probe really read them off the server's answers.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_sprinto import cli
from mock_sprinto.settings import load_config

from .test_cli import CLI, Server, start

KEY = "probe-secret-3f9c1a7e"  # must never be seen in any output
INTEGRATION = "probe-e2e"

# What the server under test is started with, and what the probe must write back.
NON_DEFAULT: dict[str, Any] = {
    "lenient_close": True,
    "unknown_fields": "reject",
    "max_page_items": 200,
    "duplicate_names": "last_wins",
    "missing_content_type": "json",
    "unknown_entity_types": "reject",
    "empty_pages": "accept",
    "max_request_bytes": 5_242_880,
    "inactivity_timeout_seconds": 600,
}
# The other side of every question: Sprinto's docs read strictly (the emulator's defaults, spelled out).
STRICT: dict[str, Any] = {
    "lenient_close": False,
    "unknown_fields": "accept",
    "max_page_items": 100,
    "duplicate_names": "reject",
    "missing_content_type": "reject",
    "unknown_entity_types": "accept",
    "empty_pages": "reject",
    "max_request_bytes": 5_000_000,
    "inactivity_timeout_seconds": 3600,
}


def _flags(settings: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    for name, value in settings.items():
        flags += ["--" + name.replace("_", "-"), str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = start(*_flags(request.param))
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)


def probe(
    server: Server, out: Path, *, api_key: str = KEY, base_url: str | None = None, probe_close: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *CLI,
            "probe",
            "--base-url",
            base_url or f"{server.origin}/api/external/push",
            "--integration-id",
            INTEGRATION,
            "--api-key",
            api_key,
            "--out",
            str(out),
            "--timeout",
            "10",
            *(["--probe-close"] if probe_close else []),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _states(server: Server) -> list[str]:
    status, body = server.call("GET", f"/_mock/integrations/{INTEGRATION}/sessions")
    assert status == 200, body
    return [session["state"] for session in body["sessions"]]


def _check_run(server: Server, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "probe-settings.yaml"
    result = probe(server, out)
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.read_text()
    for shown in (result.stdout, result.stderr, text):
        assert KEY not in shown
    assert result.stderr == ""
    assert f"settings written to {out}" in result.stdout
    header = result.stdout.splitlines()[2]
    assert header.split() == ["assumption", "emulator", "(defaults)", "probed", "server", "setting", "written"]
    # Nothing the probe did was ever applied: every session it started was discarded.
    states = _states(server)
    assert states and set(states) == {"cancelled"}, states
    written = yaml.safe_load(text)["settings"]
    loaded = load_config(out, env={}).settings  # the file is what --config reads
    for name, value in written.items():
        assert getattr(loaded, name) == value
    return result.stdout, written


@pytest.mark.parametrize("serve", [NON_DEFAULT], indirect=True)
def test_the_probe_writes_back_the_settings_the_server_was_started_with(serve: Server, tmp_path: Path) -> None:
    stdout, written = _check_run(serve, tmp_path)
    assert written == NON_DEFAULT
    assert "lenient_close: true" in stdout and "max_page_items: 200" in stdout
    # requests to the probed server stay few (the emulator's share is not on its journal)
    status, journal = serve.call("GET", f"/_mock/journal?integration_id={INTEGRATION}")
    assert status == 200 and len(journal["entries"]) <= 30


@pytest.mark.parametrize("serve", [STRICT], indirect=True)
def test_against_a_strict_server_it_closes_without_a_status_only_an_empty_session(
    serve: Server, tmp_path: Path
) -> None:
    _, written = _check_run(serve, tmp_path)
    assert written == STRICT
    status, journal = serve.call("GET", f"/_mock/journal?integration_id={INTEGRATION}")
    assert status == 200
    closes = [e for e in journal["entries"] if e["operation"] == "close_session"]
    # {"action": "discard"}, no body, {}: each refused (400), then the real discard of that empty session
    assert [e["status"] for e in closes[:4]] == [400, 400, 400, 202]
    pushes = [e for e in journal["entries"] if e["operation"] == "push_page"]
    assert pushes and all(e["session_id"] != closes[0]["session_id"] for e in pushes)


def test_a_refused_key_stops_at_the_first_401(server: Server, tmp_path: Path) -> None:
    status, _ = server.call("POST", "/_mock/integrations", {"id": INTEGRATION, "api_key": "the-right-key"})
    assert status == 201
    out = tmp_path / "probe-settings.yaml"
    result = probe(server, out)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "the api-key was refused" in result.stderr
    assert KEY not in result.stdout + result.stderr
    assert not out.exists()
    status, journal = server.call("GET", "/_mock/journal")
    assert status == 200
    assert [(e["operation"], e["status"]) for e in journal["entries"]] == [("start_session", 401)]


def test_plain_http_to_a_host_that_is_not_loopback_is_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the probe opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    out = tmp_path / "probe-settings.yaml"
    code = cli.main(
        [
            *("probe", "--base-url", "http://api.sprinto.com/api/external/push", "--integration-id", "x"),
            *("--api-key", KEY, "--out", str(out)),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "refusing to send the api-key in clear text" in captured.err
    assert KEY not in captured.err and not out.exists()


def test_nothing_listening_is_said_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # It said "ConnectionRefusedError: [Errno 111] Connection refused", a Python class name.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    out = tmp_path / "probe-settings.yaml"
    code = cli.main(
        [
            *("probe", "--base-url", f"http://127.0.0.1:{port}/api/external/push", "--integration-id", "x"),
            *("--api-key", KEY, "--out", str(out), "--timeout", "5"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and f"nothing listens at 127.0.0.1:{port} (connection refused)" in err
    assert "Error" not in err and KEY not in err and not out.exists()


def test_the_same_refusal_as_a_process() -> None:
    result = subprocess.run(
        [
            *CLI,
            "probe",
            "--base-url",
            "http://10.1.2.3:8080/api/external/push",
            "--integration-id",
            "x",
            "--api-key",
            KEY,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "use https://" in result.stderr and KEY not in result.stderr


@pytest.mark.parametrize("serve", [NON_DEFAULT], indirect=True)
def test_without_probe_close_no_close_without_status_is_ever_sent(serve: Server, tmp_path: Path) -> None:
    """On Sprinto a close without 'status' may apply: by default the probe only sends discards."""
    out = tmp_path / "probe-settings.yaml"
    result = probe(serve, out, probe_close=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lenient_close" not in yaml.safe_load(out.read_text())["settings"]
    _, body = serve.call("GET", f"/_mock/journal?integration_id={INTEGRATION}&limit=100")
    closes = [entry for entry in body["entries"] if entry["operation"] == "close_session"]
    assert closes and all(entry["status"] == 202 for entry in closes)
    assert set(_states(serve)) == {"cancelled"}


@pytest.mark.parametrize("serve", [STRICT], indirect=True)
@pytest.mark.parametrize("key", ["k", "demo"])
def test_a_short_api_key_is_scrubbed_where_it_stands_alone_not_inside_words(
    serve: Server, tmp_path: Path, key: str
) -> None:
    """With `--api-key k` every "k" of the report and of the file was "***": the file written named
    "un***nown_fields" and the probe failed on its own output."""
    out = tmp_path / "probe-settings.yaml"
    result = probe(serve, out, api_key=key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unknown_fields" in out.read_text() and "unknown_fields" in result.stdout
    assert load_config(out, env={}).settings.unknown_fields == "accept"
