"""The command line as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
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


def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Server:
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
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
        assert f"closed: hr (declared in {config}); any other id gets 401" in running.banner
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
        (["--port", "99999"], "setting 'port' must be at most 65535 (0 picks a free port), not 99999"),
        (["--host", ""], "setting 'host' cannot be empty"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run([*CLI, "serve", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mock-sprinto: error: ") and message in lines[0], result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--scenario", "flaky-network"],
            "--scenario is an option of serve: mock-sprinto serve --scenario flaky-network",
        ),
        (["--port=9000"], "--port is an option of serve: mock-sprinto serve --port=9000"),
        (["--port", "9000", "serve"], "--port is an option of serve: mock-sprinto serve --port 9000 ("),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_serve_flag_without_serve_says_so(args: list[str], said: str) -> None:
    # The arguments after a container's image name replace `serve`: argparse blamed the flag's value,
    # "invalid choice: 'flaky-network'", as if it were a command.
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and said in result.stderr and "invalid choice" not in result.stderr, result.stderr


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
        assert re.search(r"\n  entity schemas  Device, User\n", running.banner), running.banner
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
    lots = tmp_path / "lots.yaml"  # 80 rules of 2 problems each: more than are listed
    lots.write_text("name: x\nrules:\n" + "  - match: {operation: pushpage}\n    transport: explode\n" * 80)
    result = subprocess.run([*CLI, "scenarios", "check", str(lots)], capture_output=True, text=True, timeout=30)
    assert "lots.yaml: 160 problem(s)" in result.stdout, result.stdout[:300]


def test_serve_with_a_scenario_by_name_or_path(tmp_path: Path) -> None:
    running = start("--scenario", "rate-limited")
    try:
        assert re.search(r"\n  scenario +rate-limited\n", running.banner), running.banner
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
    assert "  demo: 2 requests; 0 error(s), 2 warning(s), 0 info(s)" in out
    assert "    warning outcome_not_read (1x): the outcome of an apply was never read" in out
    assert "    warning close_without_pages (1x): a session was applied with no page staged" in out
    assert "    met: nothing documented" in out
    assert out.rstrip().endswith("mock-sprinto: stopped")


# ---- start-up input: one line a problem, exit 2 -------------------------------------------------


def serve_fails(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> list[str]:
    """Run ``serve`` expecting a refusal: exit 2, no traceback; the lines of stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}
    result = subprocess.run(
        [*CLI, "serve", *args], capture_output=True, text=True, timeout=30, env={**clean, **(env or {})}, cwd=cwd
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("mock-sprinto: error: ") for line in lines), result.stderr
    return [line.removeprefix("mock-sprinto: error: ") for line in lines]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "99999"], {}, "--port: setting 'port' must be at most 65535 (0 picks a free port), not 99999"),
        ([], {"MOCK_SPRINTO_PORT": "65536"}, "environment MOCK_SPRINTO_PORT: setting 'port' must be at most 65535"),
        (["--host", ""], {}, "--host: setting 'host' cannot be empty (0.0.0.0 or :: listens on every interface)"),
        (["--host", "no-such-host.invalid", "--port", "0"], {}, "cannot listen on no-such-host.invalid:0: "),
    ],
)
def test_bad_start_up_input_is_one_clear_line_and_exit_2(args: list[str], env: dict[str, str], message: str) -> None:
    (line,) = serve_fails(*args, env=env)
    assert line.startswith(message), line


def test_a_declared_integration_the_emulator_cannot_hold_is_refused_at_start(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text("integrations:\n  - {id: hr, api_key: k}\n  - {id: 'hr sync', api_key: k}\n")
    assert serve_fails("--config", str(config)) == [
        f"{config}:3: integrations[1] id 'hr sync': an integration id is 1-128 letters, digits, '.', '_', ':' or "
        "'-', starting with a letter or digit"
    ]
    config.write_text("integrations:\n  - {id: a, api_key: k}\n  - {id: b, api_key: k}\n")
    assert serve_fails("--config", str(config), "--max-integrations", "1") == [
        f"{config}: 2 integrations are declared, more than max_integrations (1)"
    ]


def test_a_port_in_use_is_one_line_exit_2_suggesting_port_0(server: Server) -> None:
    assert serve_fails("--port", str(server.port)) == [
        f"cannot listen on 127.0.0.1:{server.port}: address already in use; "
        "use another --port N, or --port 0 for a free one (the banner shows it)"
    ]


def test_every_problem_of_a_config_file_at_once_each_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text(
        "settings:\n  procesing_seconds: 0\n  rate_limit: fast\nintegrations:\n  - {id: hr}\nscenario: flaky-network\n"
    )
    assert serve_fails("--config", str(config)) == [
        f"{config}:2: unknown setting 'procesing_seconds'; did you mean 'processing_seconds'? "
        "(see: mock-sprinto settings)",
        f"{config}:3: setting 'rate_limit' must be a number, not 'fast'",
        f"{config}:5: integrations[0] must have exactly 'id' and 'api_key' (missing api_key)",
    ]


def test_a_yaml_syntax_error_in_the_config_file_is_file_line_column_what(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text("settings:\n  processing_seconds: 0\n rate_limit: 5\n")
    assert serve_fails("--config", str(config)) == [
        f"{config}:3:2: not valid YAML: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping at line 1, column 1); check the indentation"
    ]


def test_a_misspelled_environment_variable_is_refused_naming_the_setting() -> None:
    assert serve_fails(env={"MOCK_SPRINTO_PROCESING_SECONDS": "0"}) == [
        "environment MOCK_SPRINTO_PROCESING_SECONDS: not a setting; did you mean MOCK_SPRINTO_PROCESSING_SECONDS?"
    ]


def test_a_config_files_scenario_path_is_read_from_the_files_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "conf" / "mine.yaml").write_text(
        "name: mine\nrules:\n  - match: {operation: start_session}\n    respond: {status: 503}\n"
    )
    (tmp_path / "conf" / "mock.yaml").write_text("scenario: mine.yaml\n")
    running = start("--config", "../conf/mock.yaml", cwd=tmp_path / "elsewhere")
    try:
        assert re.search(r"scenario +mine\n", running.banner), running.banner
        status, body = running.call("POST", "/api/external/push/v1/integrations/r/sessions", headers={"api-key": "k"})
        assert (status, body["code"]) == (503, "service_unavailable")
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)


# ---- what the commands print ----------------------------------------------------------------


def test_serve_help_shows_choices_kinds_and_defaults_as_the_readme_writes_them() -> None:
    result = subprocess.run(
        [*CLI, "serve", "--help"], capture_output=True, text=True, timeout=30, env={**os.environ, "COLUMNS": "200"}
    )
    assert result.returncode == 0
    text = result.stdout
    for shown in (
        "--duplicate-names {reject,last_wins}",
        "--lenient-close {true,false}",
        "--auto-create-integrations {true,false,null}",
        "--processing-seconds SECONDS",
        "--max-request-bytes BYTES",
        "--max-page-items N",
        "--port PORT",
        "[mock; default null]",
        "[mock; default false]",
        "[doc; default 3600.0]",
    ):
        assert shown in text, shown
    assert "VALUE" not in text and "None" not in text and "False" not in text


@pytest.mark.parametrize("width", [70, 91, 92, 120])  # 70, 91: each meaning under its setting
def test_the_settings_command_wraps_each_meaning_under_its_column_on_a_terminal(width: int) -> None:
    from mock_sprinto.cli import settings_text
    from mock_sprinto.settings import describe

    lines = settings_text(width).splitlines()
    assert lines[0].split()[:3] == ["setting", "default", "values"]
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    starts = [line.split()[0] for line in lines[1:] if not line.startswith(" ")]
    assert starts == [item["name"] for item in describe()]  # each setting once, at the start of a line
    whole = " ".join(line.strip() for line in lines)
    assert "[doc] Largest request body on the wire (413 above it)" in whole  # no word broken


def test_the_settings_command_shows_values_the_same_way() -> None:
    result = subprocess.run([*CLI, "settings"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["setting", "default", "values"]
    by_name = {line.split()[0]: line.split()[1:3] for line in rows}  # piped: a setting a line
    assert by_name["duplicate_names"] == ["reject", "{reject,last_wins}"]
    assert by_name["lenient_close"] == ["false", "{true,false}"]
    assert by_name["rate_limit"] == ["null", "N"]
    assert by_name["processing_seconds"] == ["2.0", "SECONDS"]
    defaults = [default for default, _ in by_name.values()]
    assert not {"None", "True", "False"} & set(defaults) and not any(d.startswith("'") for d in defaults)


@pytest.mark.parametrize("columns", ["60", None])
def test_scenarios_list_wraps_each_description_under_its_name(columns: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
    result = subprocess.run([*CLI, "scenarios", "list"], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= int(columns or 100)  # piped: 100 columns
    names = [line for line in lines if not line.startswith(" ")]
    assert {"default", "rate-limited", "chaos", "expire-mid-sync"} <= set(names)
    assert all(line.startswith("    ") and line.strip() for line in lines if line not in names)
    assert len(lines) > 2 * len(names)  # wrapped, not one long line each


def test_banner_columns_line_up(emulator: Any) -> None:
    from mock_sprinto.cli import banner

    fields = [line for line in banner("127.0.0.1", 8080, emulator).splitlines() if line.startswith("  ")]
    labels = ("base URL", "dashboard", "control", "integrations", "entity schemas", "scenario")
    rows = [line for line in fields if line.strip().startswith(labels)]
    assert len(rows) == len(labels)
    starts = {len(line) - len(line[2:].split("  ", 1)[1].lstrip()) for line in rows}
    assert len(starts) == 1, rows


def test_closed_mode_banner_tries_the_first_declared_integration_with_its_key_named(make_emulator: Any) -> None:
    from mock_sprinto.cli import banner
    from mock_sprinto.settings import Integration

    emulator = make_emulator(integrations=(Integration("hr-sync", "s3cret"), Integration("aaa", "other")))
    text = banner("127.0.0.1", 8080, emulator, "conf/mock.yaml")
    assert "try, with KEY set to the api_key of hr-sync in conf/mock.yaml:" in text
    assert (
        'curl -s -X POST -H "api-key: $KEY" http://127.0.0.1:8080/api/external/push/v1/integrations/hr-sync/sessions'
        in text
    )
    assert "closed: hr-sync, aaa (declared in conf/mock.yaml); any other id gets 401" in text
    assert "s3cret" not in text and "demo" not in text


def test_the_closed_mode_bannered_curl_works_with_the_declared_key(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text("integrations:\n  - {id: hr-sync, api_key: s3cret}\n  - {id: other, api_key: x}\n")
    running = start("--config", str(config))
    try:
        (curl,) = [line for line in running.banner.splitlines() if "curl " in line]
        url = curl.split()[-1]
        assert url.startswith(running.origin)
        status, session = running.call("POST", url.removeprefix(running.origin), headers={"api-key": "s3cret"})
        assert (status, session["integration_id"]) == (201, "hr-sync")
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)


# ---- make serve installs the runtime only ---------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_serve_installs_the_runtime_only_and_make_test_the_toolchain(tmp_path: Path) -> None:
    root = Path(__file__).parents[2]

    def planned(target: str) -> list[str]:
        result = subprocess.run(
            ["make", "-n", "-C", str(root), target, f"VENV={tmp_path / 'venv'}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if "pip install" in line]

    serve = "\n".join(planned("serve"))
    # the editable build and the runtime dependencies, side by side; never the test extra
    assert "install --quiet --disable-pip-version-check --no-deps -e ." in serve, serve
    assert "-r " in serve and "runtime-requirements.txt" in serve, serve
    assert "[test]" not in serve, serve
    assert any("-e '.[test]'" in line for line in planned("test"))


def test_the_docs_banner_sample_is_the_banner(emulator: Any) -> None:
    from mock_sprinto.cli import banner
    from mock_sprinto.control import ControlPlane
    from mock_sprinto.faults import resolve_scenario

    from ..doctext import block

    ControlPlane(emulator).set_scenario(resolve_scenario("default"))
    assert block("banner").rstrip("\n") == banner("127.0.0.1", 8080, emulator)  # docs/getting-started.md


@pytest.mark.parametrize("command", [["settings"], ["scenarios", "list"], ["rules"]])
def test_a_reader_that_leaves_early_is_no_error(command: list[str]) -> None:
    # `| true` exits before reading a byte: the output meets a closed pipe.
    line = shlex.join([*CLI, *command])
    result = subprocess.run(["bash", "-c", f"{line} | true; echo ${{PIPESTATUS[0]}}"], capture_output=True, text=True)
    assert (result.stdout.strip(), result.stderr) == ("0", "")


def test_the_port_file_holds_the_port_while_the_server_listens(tmp_path: Path) -> None:
    """``--port 0 --port-file FILE``: a script in any language reads the port from a file (it read
    it off the banner with sed); the file is put in place whole, and is gone once the server is."""
    port_file = tmp_path / "mock-sprinto.port"
    server = start("--port-file", str(port_file))
    try:
        assert port_file.read_text() == f"{server.port}\n"
        assert server.call("GET", "/_mock/health")[0] == 200
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mock-sprinto.port"]  # nothing written beside it
    finally:
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(20)
    assert server.proc.returncode == 0
    assert not port_file.exists()  # no port nothing listens on


def test_a_port_file_another_server_wrote_since_is_left_in_place(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    first = start("--port-file", str(port_file))
    second = start("--port-file", str(port_file))  # the same file: the newer server's port wins
    try:
        assert port_file.read_text() == f"{second.port}\n"
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(20)
        assert port_file.read_text() == f"{second.port}\n"
    finally:
        for server in (first, second):
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(20)
    assert not port_file.exists()


def test_a_port_file_holding_something_else_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A typo (``--port-file README.md``) replaced the file, then deleted it on the way out; a stale
    port file (a server killed) is written over."""
    kept = tmp_path / "README.md"
    kept.write_text("# my notes\n")
    (line,) = serve_fails("--port", "0", "--port-file", str(kept))
    assert (
        line
        == f"cannot write --port-file {kept}: it holds something other than a port: name a new file, or remove it first"
    )
    assert kept.read_text() == "# my notes\n"
    stale = tmp_path / "port"
    stale.write_text("40000\n")
    server = start("--port-file", str(stale))
    try:
        assert stale.read_text() == f"{server.port}\n"
    finally:
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(20)


def test_a_port_file_that_is_a_link_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A link renamed over is replaced by a file, then deleted on the way out: a reviewer's
    ``--port-file /dev/stdout`` took the container's /dev/stdout with it."""
    target = tmp_path / "target"
    target.write_text("mine\n")
    link = tmp_path / "port"
    link.symlink_to(target)
    (line,) = serve_fails("--port", "0", "--port-file", str(link))
    assert line.startswith(f"cannot write --port-file {link}: it is not a regular file"), line
    assert link.is_symlink() and target.read_text() == "mine\n"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/port", "cannot write --port-file {tmp}/missing/port: No such file or directory"),
        ("", "cannot write --port-file {tmp}: Is a directory"),
        (None, "--port-file needs a file name (it was empty)"),
    ],
)
def test_a_port_file_that_cannot_be_written_stops_the_start(tmp_path: Path, where: str | None, message: str) -> None:
    """Refused before the banner, so that nothing says the server listens."""
    path = "" if where is None else str(tmp_path / where) if where else str(tmp_path)
    (line,) = serve_fails("--port", "0", "--port-file", path)
    assert line == message.format(tmp=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no half-written file left behind
