"""The command line as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-m", "mock_sprinto"]


class Server:
    def __init__(self, proc: subprocess.Popen[str], banner: str, port: int) -> None:
        self.proc, self.banner, self.port = proc, banner, port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.origin + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def start(*args: str, env: dict[str, str] | None = None) -> Server:
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C stops it"):
                banner = "".join(lines)
                found = re.search(r"base URL\s+http://127\.0\.0\.1:(\d+)/api/external/push", banner)
                assert found, banner
                return Server(proc, banner, int(found.group(1)))
        raise AssertionError("server did not start: " + "".join(lines))
    except BaseException:
        proc.kill()  # never leave a server behind, whatever went wrong
        proc.wait(10)
        raise


def test_banner_shows_base_url_dashboard_and_a_curl_to_copy(server: Server) -> None:
    assert f"{server.origin}/_mock/" in server.banner
    assert (
        f"curl -s -X POST -H 'api-key: demo-key' {server.origin}/api/external/push/v1/integrations/demo/sessions"
        in server.banner
    )
    status, body = server.call("GET", "/_mock/health")
    assert (status, body["status"]) == (200, "ok")


def test_the_bannered_curl_works_and_a_lifecycle_runs(server: Server) -> None:
    base = "/api/external/push/v1/integrations/demo"
    key = {"api-key": "demo-key"}
    status, session = server.call("POST", base + "/sessions", headers=key)
    assert status == 201
    record = {
        "employeeId": "E1",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "workEmail": "ada@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
    }
    status, pushed = server.call(
        "POST", f"{base}/sessions/{session['id']}/entities", {"entities": {"User": [record]}}, key
    )
    assert (status, pushed["accepted_count_total"]) == (202, 1)
    status, closed = server.call("POST", f"{base}/sessions/{session['id']}/close", {"status": "apply"}, key)
    assert (status, closed["state"]) == (202, "processing")
    server.call("POST", "/_mock/clock/advance", {"seconds": 2})
    status, records = server.call("GET", "/_mock/integrations/demo/records/User")
    assert records["records"] == [record]


def test_ctrl_c_stops_cleanly() -> None:
    running = start()
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(10) == 0
    assert running.proc.stdout is not None
    assert "stopped" in running.proc.stdout.read()


def test_settings_from_config_env_and_flags_layer_in_that_order(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text(
        "settings:\n  inactivity_timeout_seconds: 600\n  processing_seconds: 9\n  max_page_items: 5\n"
        "integrations:\n  - {id: hr, api_key: s3cret}\n"
    )
    running = start(
        "--config",
        str(config),
        "--processing-seconds",
        "3",
        env={"MOCK_SPRINTO_MAX_PAGE_ITEMS": "7", "MOCK_SPRINTO_PROCESSING_SECONDS": "5"},
    )
    try:
        _, view = running.call("GET", "/_mock/settings")
        settings = view["settings"]
        assert (settings["inactivity_timeout_seconds"], settings["max_page_items"], settings["processing_seconds"]) == (
            600,
            7,
            3,
        )
        assert "declared: hr" in running.banner
        status, body = running.call(
            "POST", "/api/external/push/v1/integrations/other/sessions", headers={"api-key": "x"}
        )
        assert (status, body["code"]) == (401, "invalid_api_key")
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "eighty"], "setting 'port' must be a whole number"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--apply-mode", "merge"], "must be one of replace, upsert"),
        (["--config", "/nonexistent/mock.yaml"], "config file '/nonexistent/mock.yaml'"),
        (["--schemas", "/nonexistent/dir"], "schemas folder does not exist"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run([*CLI, "serve", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_bad_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for text, message in (
        ("settings: [1, 2]", "'settings' must be a mapping"),
        ("settings:\n  bogus: 1\n", "unknown setting 'bogus'"),
        ("a: [", "not valid YAML"),
        ("integrations:\n  - {id: a}\n", "must have exactly 'id' and 'api_key'"),
    ):
        config = tmp_path / "bad.yaml"
        config.write_text(text)
        result = subprocess.run([*CLI, "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, text
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_broken_schema_file_is_refused_at_start_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "Device.json").write_text('{"type": "objekt"}')
    result = subprocess.run([*CLI, "serve", "--schemas", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "Device.json" in result.stderr and "not a valid JSON Schema" in result.stderr


def test_user_schemas_add_types_with_their_key(tmp_path: Path) -> None:
    (tmp_path / "Device.json").write_text(
        json.dumps(
            {"type": "object", "x-key": "serial", "required": ["serial"], "properties": {"serial": {"type": "string"}}}
        )
    )
    running = start("--schemas", str(tmp_path))
    try:
        assert "entity schemas: Device, User" in running.banner
        base = "/api/external/push/v1/integrations/d"
        key = {"api-key": "k"}
        _, session = running.call("POST", base + "/sessions", headers=key)
        status, body = running.call(
            "POST", f"{base}/sessions/{session['id']}/entities", {"entities": {"Device": [{"model": "x"}]}}, key
        )
        assert (status, body["validation_errors"][0]["field"]) == (400, "serial")
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)


def test_port_in_use_is_a_clear_error(server: Server) -> None:
    result = subprocess.run([*CLI, "serve", "--port", str(server.port)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in result.stderr


def test_non_loopback_host_is_warned_about(emulator: Any) -> None:
    # Tests never listen beyond loopback, so the banner is checked without binding.
    from mock_sprinto.cli import banner

    assert "WARNING: listening on 0.0.0.0" in banner("0.0.0.0", 8080, emulator)
    assert "WARNING" not in banner("127.0.0.1", 8080, emulator)
    assert "WARNING" not in banner("::1", 8080, emulator)
    assert "http://[::1]:8080/api/external/push" in banner("::1", 8080, emulator)


def test_console_script_and_settings_command() -> None:
    result = subprocess.run([*CLI, "settings"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "inactivity_timeout_seconds" in result.stdout and "[doc]" in result.stdout


def test_scenarios_check_exits_0_when_clean_and_1_listing_every_problem(tmp_path: Path) -> None:
    shipped = sorted(str(p) for p in (Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
    result = subprocess.run([*CLI, "scenarios", "check", *shipped], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count(": ok (") == len(shipped) >= 9
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nrules:\n  - match: {operation: pushpage}\n    respond: {status: 503}\n"
        "  - match: {operation: push_page}\n    when: {nth: 0}\n    transport: explode\n"
    )
    result = subprocess.run(
        [*CLI, "scenarios", "check", shipped[0], str(bad)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "bad.yaml: 3 problem(s)" in result.stdout
    assert "line 3: /rules/0/match/operation" in result.stdout
    assert "line 6: /rules/1/when/nth" in result.stdout and "line 7: /rules/1/transport" in result.stdout


def test_scenarios_list_names_each_with_what_it_exercises() -> None:
    result = subprocess.run([*CLI, "scenarios", "list"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"default", "rate-limited", "chaos", "expire-mid-sync"} <= set(names)


def test_serve_with_a_scenario_by_name_or_path(tmp_path: Path) -> None:
    running = start("--scenario", "rate-limited")
    try:
        assert "scenario   rate-limited" in running.banner
        statuses = [
            running.call("GET", "/api/external/push/v1/integrations/r/status", headers={"api-key": "k"})[0]
            for _ in range(7)
        ]
        assert statuses[-1] == 429
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)
    own = tmp_path / "mine.yaml"
    own.write_text("name: mine\nrules:\n  - match: {operation: start_session}\n    respond: {status: 503}\n")
    running = start("--scenario", str(own))
    try:
        status, body = running.call("POST", "/api/external/push/v1/integrations/r/sessions", headers={"api-key": "k"})
        assert (status, body["code"]) == (503, "service_unavailable")
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)


def test_serve_with_a_broken_scenario_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrules: 5\n")
    result = subprocess.run([*CLI, "serve", "--scenario", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "line 2: /rules" in result.stderr


def test_ctrl_c_prints_each_clients_verdict() -> None:
    running = start()
    key = {"api-key": "k"}
    base = "/api/external/push/v1/integrations/demo"
    _, session = running.call("POST", f"{base}/sessions", None, key)
    running.call("POST", f"{base}/sessions/{session['id']}/close", {"status": "apply"}, key)
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(10) == 0
    assert running.proc.stdout is not None
    out = running.proc.stdout.read()
    assert "the clients, judged" in out
    assert "  demo: 2 requests; 0 error(s), 1 warning(s), 0 info(s)" in out
    assert "    warning close_without_pages (1x): a session was applied with no page staged" in out
    assert "    met: nothing documented" in out
    assert out.rstrip().endswith("mock-sprinto: stopped")
