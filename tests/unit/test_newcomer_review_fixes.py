"""A newcomer's second walk through a fresh clone (the docs, the banner, the command line), each
finding kept fixed: what a user copies from the banner or a page works as written, the commands
that ask a running emulator answer alike when none answers, and a report of nothing passes no CI
step."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mock_sprinto.exam.trials import CATALOGUE

from ..doctext import ROOT, block, page
from ..e2e.test_cli import CLI, Server, start

KEY = {"api-key": "k"}
ACME = "/api/external/push/v1/integrations/acme"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def stopped(server: Server) -> None:
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(10)


@pytest.fixture
def server() -> Iterator[Server]:
    running = start()
    yield running
    stopped(running)


def a_free_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])


# ---- 1. the banner's curls ------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("curl") is None, reason="the banner suggests curl")
@pytest.mark.parametrize("args", [(), ("--auto-create-integrations", "false")])
def test_the_curls_a_banner_suggests_work_as_printed(args: tuple[str, ...], tmp_path: Path) -> None:
    """Closed with nothing declared, the banner's first curl created the integration without a
    Content-Type: the control API answered 415, and the session's curl then got a 401."""
    running = start(*args)
    try:
        lines = running.banner.splitlines()
        tried = next(i for i, line in enumerate(lines) if line.startswith("try"))
        curls = [line.strip() for line in lines[tried + 1 :] if line.strip().startswith("curl ")]
        assert curls, running.banner
        # As a user pastes them into one shell; each command's status code printed after it.
        script = "\n".join(f"{line} -o /dev/null -w '%{{http_code}}\\n'" for line in curls)
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert result.stdout.split() == ["201"] * len(curls), (running.banner, result.stdout, result.stderr)
    finally:
        stopped(running)


# ---- 2. docs/ci.md's scripts fail when the tests fail ---------------------------------------------
@pytest.mark.skipif(shutil.which("curl") is None, reason="the script waits with curl")
@pytest.mark.parametrize("tests_pass", [True, False])
def test_the_ci_script_without_docker_fails_when_the_tests_fail(tests_pass: bool, tmp_path: Path) -> None:
    """Run as a plain script (no `bash -e`), a failing test step went on to `mock-sprinto report`,
    whose 0 became the script's: the CI job passed."""
    strict, install, *lines = block("other-ci-no-docker").strip().splitlines()
    assert strict.startswith("set -e") and install.startswith("pipx install"), install  # here, this checkout
    script = "\n".join([strict, *lines]).replace("tests/exam/clients/", f"{ROOT}/tests/exam/clients/")
    if not tests_pass:
        # the tests ran (the client called) and one failed
        script = re.sub(r"^(timeout \d+ python3 \S+careful\.py)", r"\1; false", script, flags=re.M)
        assert "; false" in script
    bin_dir = Path(sys.executable).parent  # mock-sprinto on the PATH, as pipx puts it there
    result = subprocess.run(
        ["bash", "-c", script],  # a plain script: no -e but the one it sets itself
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    if tests_pass:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "integration ci: 0 error(s), 0 warning(s)" in result.stdout
    else:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "integration ci" not in result.stdout  # the report never ran


def test_the_ci_script_with_docker_stops_at_a_failing_step() -> None:
    first = next(line for line in block("other-ci").splitlines() if line.strip())
    assert re.match(r"set -e\b", first), first


# ---- 3. a report of nothing is no pass ------------------------------------------------------------
def test_report_exits_1_when_no_integration_received_a_sprinto_api_request(server: Server) -> None:
    """An integration a scenario PUT made (no client called) was judged "0 error(s)... met: nothing
    documented" and exited 0: a CI step passed a client that never called the server."""
    scenario = {"name": "quiet", "rules": []}
    assert server.call("PUT", "/_mock/integrations/hr/scenario", scenario)[0] == 200
    for args in ((), ("--integration", "hr"), ("--json",)):
        result = run("report", "--url", server.origin, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        said = result.stderr if "--json" in args else result.stdout
        assert "Sprinto API request: nothing to judge" in said, (args, said)
    assert "  no Sprinto API request reached it: nothing to judge" in run("report", "--url", server.origin).stdout

    # A client that calls one integration is judged; the untouched one is said to be so.
    status, session = server.call("POST", ACME + "/sessions", headers=KEY)
    assert status == 201
    assert server.call("POST", f"{ACME}/sessions/{session['id']}/close", {"status": "discard"}, KEY)[0] == 202
    judged = run("report", "--url", server.origin)
    assert judged.returncode == 0, judged.stdout + judged.stderr
    texts = {text.split(":", 1)[0]: text for text in judged.stdout.split("\n\n")}  # "integration ID: ..."
    assert "nothing to judge" not in texts["integration acme"]
    assert texts["integration hr"].rstrip().endswith("no Sprinto API request reached it: nothing to judge")
    assert run("report", "--url", server.origin, "--integration", "acme").returncode == 0


def test_a_report_of_nothing_names_a_wrong_key_and_one_whose_requests_left_the_journal_was_judged() -> None:
    """A review of the fixes: every request refused 401 (a wrong key) was said to be "is the
    client's base URL this server's?", though the requests reached it; and an integration whose
    requests the journal's ring let go of, its report still holding findings, was said to have
    received none ("nothing to judge" under its own findings)."""
    running = start("--journal-size", "5")
    try:
        assert running.call("POST", ACME + "/sessions", headers=KEY)[0] == 201  # acme's key is "k"
        for _ in range(6):  # a wrong key: 401, journaled to no integration; acme's start leaves the ring
            assert running.call("POST", ACME + "/sessions", headers={"api-key": "wrong"})[0] == 401
        judged = run("report", "--url", running.origin)
        assert "session_left_active" in judged.stdout, judged.stdout
        assert "nothing to judge" not in judged.stdout, judged.stdout
        assert running.call("DELETE", "/_mock/integrations/acme")[0] == 204
        assert running.call("PUT", "/_mock/integrations/hr/scenario", {"name": "quiet", "rules": []})[0] == 200
        nothing = run("report", "--url", running.origin)
        assert nothing.returncode == 1
        assert "its api-key the integration's? A request with a wrong key is answered 401" in nothing.stdout
        assert "GET /_mock/journal?status=401" in nothing.stdout
    finally:
        stopped(running)


def test_the_docs_say_the_same_of_a_report_of_nothing() -> None:
    said = "when no integration received a Sprinto API request (nothing to judge"
    for name in ("docs/getting-started.md", "docs/ci.md", "docs/judge.md"):
        assert said in " ".join(page(name).split()), name
        assert "no client called the server at all" not in page(name)


# ---- 5. the exam: a --scenario's trial, by its name ---------------------------------------------
@pytest.fixture
def my_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "my-scenario.yaml"
    rules = [{"match": {"operation": "push_page", "page": 2}, "times": 1, "respond": {"status": 503}}]
    path.write_text(yaml.safe_dump({"name": "my-fault", "description": "page 2 gets one 503", "rules": rules}))
    return path


def test_trials_selects_a_scenario_trial_by_its_scenarios_name(my_scenario: Path, tmp_path: Path) -> None:
    """`--scenario FILE` added a trial that `--trials <its name>` refused ("no trial named")."""
    listed = run("exam", "--list", "--scenario", str(my_scenario))
    assert listed.returncode == 0 and "\nmy-fault  [my-fault; recoverable]" in listed.stdout, listed.stderr
    client = ROOT / "tests" / "exam" / "clients" / "careful.py"
    ran = run(
        "exam", "--quiet", "--trials", "my-fault", "--scenario", str(my_scenario),
        "--artifacts", str(tmp_path / "evidence"), "--", sys.executable, str(client),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.findall(r"^(\S+) +pass ", ran.stdout, re.M) == ["baseline", "my-fault"], ran.stdout
    typo = run("exam", "--trials", "my-faul", "--scenario", str(my_scenario), "--", sys.executable, str(client))
    assert typo.returncode == 2 and "no trial named 'my-faul'" in typo.stderr and "my-fault" in typo.stderr


def test_the_exams_scenarios_table_lists_every_scenario_a_trial_uses() -> None:
    table = page("docs/exam.md").split("## The exam's scenarios", 1)[1].split("\n## ", 1)[0]
    for trial in CATALOGUE:
        if trial.scenario is not None:
            assert f"| `{trial.scenario}` |" in table, trial.name


# ---- 9. --schemas-dir, and the closest flag --------------------------------------------------------
def test_serve_takes_schemas_dir_as_the_setting_is_named(tmp_path: Path) -> None:
    """The setting is schemas_dir: `serve --schemas-dir X` was 'unrecognized arguments' with no hint."""
    (tmp_path / "Device.json").write_text('{"type": "objekt"}')  # refused at start: the folder was read
    result = run("serve", "--port", "0", "--schemas-dir", str(tmp_path))
    assert result.returncode == 2 and "Device.json" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        (["serve", "--procesing-seconds", "1"], "; did you mean --processing-seconds?"),
        (["report", "--urll", "http://127.0.0.1:9"], "; did you mean --url?"),
        (["state", "export", "--integraton", "x"], "; did you mean --integration?"),
        (["exam", "--jbos", "2", "--", "true"], "; did you mean --jobs?"),
    ],
)
def test_an_unrecognized_flag_is_answered_with_the_closest_one(command: list[str], hint: str) -> None:
    result = run(*command)
    assert result.returncode == 2 and "unrecognized arguments: " in result.stderr, result.stderr
    assert hint in result.stderr, result.stderr


# ---- 11. state and report: one code for "no emulator answered", sentences ------------------------
@pytest.mark.parametrize("command", [("state", "export"), ("state", "save"), ("report",)])
def test_no_emulator_answering_is_exit_3_for_every_command_that_asks_one(command: tuple[str, ...]) -> None:
    result = run(*command, "--url", f"http://127.0.0.1:{a_free_port()}")
    assert result.returncode == 3 and "nothing listens at 127.0.0.1:" in result.stderr, result.stderr


def test_state_import_and_save_say_what_was_done_in_a_sentence(tmp_path: Path) -> None:
    """`state export -o` said what it wrote; `state import` and `state save` printed raw JSON."""
    running = start("--persist", str(tmp_path / "kept.json"))
    try:
        assert running.call("POST", ACME + "/sessions", headers=KEY)[0] == 201
        url = ("--url", running.origin)
        assert run("state", "export", *url, "--integration", "acme", "-o", "acme.json", cwd=tmp_path).returncode == 0
        imported = run("state", "import", "acme.json", *url, cwd=tmp_path)
        assert (imported.returncode, imported.stdout) == (
            0,
            "mock-sprinto state: imported acme.json into integration acme (1 journal entry)\n",
        ), imported.stderr
        as_json = run("state", "import", "acme.json", *url, "--json", cwd=tmp_path)
        assert json.loads(as_json.stdout) == {
            "scope": "integration",
            "integrations": ["acme"],
            "journal_entries": 1,
            "journal_entries_kept": 1,
        }
        saved = run("state", "save", *url)
        assert saved.returncode == 0 and re.fullmatch(
            rf"mock-sprinto state: the server saved its state to {re.escape(str(tmp_path / 'kept.json'))} "
            r"\(\d+ bytes, 1 integration, \d+ journal entr(y|ies)\)\n",
            saved.stdout,
        ), saved.stdout
        assert json.loads(run("state", "save", *url, "--json").stdout)["integrations"] == 1
    finally:
        stopped(running)


def test_the_bundles_page_quotes_the_import_sentence_and_the_exit_codes() -> None:
    said = " ".join(page("docs/bundles.md").split())
    assert "`mock-sprinto state: imported demo.state.json.gz into integration demo (2 journal entries)`" in said
    assert "and 3 when no emulator answered at `--url`" in said


# ---- 6. the README --------------------------------------------------------------------------------
def test_the_quickstart_names_the_origin_once_and_the_readme_says_how_to_change_the_port() -> None:
    quickstart = block("quickstart")
    assert quickstart.count("127.0.0.1:8080") == 1 and quickstart.startswith("ORIGIN=http://127.0.0.1:8080\n")
    assert 'make serve ARGS="--port 9000"' in page("README.md")


def test_the_readme_names_the_handle_attribute_its_example_uses() -> None:
    readme = page("README.md")
    shown = re.search(
        r"<!-- example:tests/examples/test_first_test.py -->\n```python\n(.*?)^```\n(.*?)\n## ", readme, re.S | re.M
    )
    assert shown
    example, after = shown.groups()
    for attribute in sorted(set(re.findall(r"mock_sprinto\.(\w+_url)\b", example))):
        assert f"`mock_sprinto.{attribute}`" in after, attribute


# ---- 12. the README's exam leaves the checkout clean -----------------------------------------------
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="a git checkout")
def test_what_the_readmes_exam_writes_is_ignored_by_git() -> None:
    words = block("exam").split()
    written = [words[words.index("--json") + 1], words[words.index("--junit-xml") + 1], "mock-sprinto-exam/x.har"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert ignored.stdout.split() == written, ignored.stdout + ignored.stderr
