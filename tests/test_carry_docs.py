"""docs/bundles.md, docs/verify.md and docs/judge-har.md stay true: every block is run or compared."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_sprinto.cli import build_parser
from mock_sprinto.testing import sample_user

from .carrydocs import PAGES, ROOT, block, fenced
from .e2e.test_cli import Server, start

KEY = {"api-key": "demo-key"}
DEMO = "/api/external/push/v1/integrations/demo"
TAGS = re.compile(r"(test:[a-z0-9-]+|example:tests/examples/[\w/]+\.py)\Z")


@pytest.fixture
def server() -> Iterator[Server]:
    running = start()
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)


def here(text: str, server: Server) -> str:
    return text.replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")


def shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], capture_output=True, text=True, cwd=cwd)


def cli(line: str, cwd: Path, *more: str) -> subprocess.CompletedProcess[str]:
    words = [*shlex.split(re.sub(r"\s+#.*$", "", line))[1:], *more]
    return subprocess.run([sys.executable, "-m", "mock_sprinto", *words], capture_output=True, text=True, cwd=cwd)


def test_every_block_of_the_pages_is_tested() -> None:
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("*.py"))
    for page in PAGES:
        for tag, body in fenced(page):
            assert tag is not None and TAGS.match(tag), f"{page}: an untagged block: {body[:60]}"
            if tag.startswith("test:"):
                assert f'block("{tag[5:]}")' in sources, tag
            else:
                source = (ROOT / tag.removeprefix("example:")).read_text(encoding="utf-8")
                assert body in source, f"{page}: the example from {tag} differs from the file"


def test_every_relative_link_of_the_pages_resolves() -> None:
    for page in PAGES:
        text = re.sub(r"^```.*?^```", "", (ROOT / page).read_text(encoding="utf-8"), flags=re.S | re.M)
        for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s#]+)[^)]*\)", text):
            if not re.match(r"[a-z]+:", target):
                assert (ROOT / page).parent.joinpath(target).resolve().exists(), (page, target)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example uses curl")
def test_bundles_curl(server: Server, tmp_path: Path) -> None:
    status, session = server.call("POST", DEMO + "/sessions", headers=KEY)
    assert status == 201
    result = shell(here(block("bundles-curl"), server), tmp_path)
    assert result.returncode == 0, result.stderr
    decoder, text, answers = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        answer, end = decoder.raw_decode(text)
        answers.append(answer)
        text = text[end:].strip()
    assert answers == [
        {"scope": "integration", "integrations": ["demo"], "journal_entries": 1, "journal_entries_kept": 1},
        # the journal keeps the request as first answered, and the copy the first import added
        {"scope": "server", "integrations": ["demo"], "journal_entries": 2, "journal_entries_kept": 2},
    ]
    assert (
        json.loads((tmp_path / "demo.state.json").read_text())["integrations"][0]["sessions"][0]["id"] == session["id"]
    )
    assert server.call("POST", DEMO + "/sessions", headers=KEY)[1]["active_session_id"] == session["id"]


def test_bundles_commands_parse_and_run(server: Server, tmp_path: Path) -> None:
    assert server.call("POST", DEMO + "/sessions", headers=KEY)[0] == 201
    lines = [line for line in block("bundles-commands").splitlines() if line.startswith("mock-sprinto ")]
    assert len(lines) == 5
    for line in lines:
        build_parser().parse_args(shlex.split(re.sub(r"\s+#.*$", "", line))[1:])
    for line in lines[:2]:  # export, import: against the server
        result = cli(line, tmp_path, "--url", server.origin)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo.state.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    saved = cli(lines[4], tmp_path, "--url", server.origin)
    assert saved.returncode == 1 and "persistence_off" in saved.stderr  # this server has no --persist


def sync(server: Server, *, wrong_close: bool = False) -> str:
    status, session = server.call("POST", DEMO + "/sessions", headers=KEY)
    assert status == 201
    page = {"entities": {"User": [sample_user(1)]}, "page_hint": 1}
    assert server.call("POST", f"{DEMO}/sessions/{session['id']}/entities", page, KEY)[0] == 202
    if wrong_close:
        assert server.call("POST", f"{DEMO}/sessions/{session['id']}/close", {"action": "apply"}, KEY)[0] == 400
    assert server.call("POST", f"{DEMO}/sessions/{session['id']}/close", {"status": "apply"}, KEY)[0] == 202
    return str(session["id"])


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example uses curl")
def test_verify_curl(server: Server, tmp_path: Path) -> None:
    session = sync(server)
    server.call("GET", f"{DEMO}/sessions/{session}", headers=KEY)
    result = shell(here(block("verify-curl"), server), tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["ok"] is True, result.stdout
    server.call("GET", f"{DEMO}/status", headers=KEY)  # not allowed by the example: 422
    result = shell(here(block("verify-curl"), server), tmp_path)
    assert result.returncode == 22  # curl's exit on an HTTP error: a CI step fails
    assert json.loads(result.stdout)["code"] == "expectations_not_met"


def test_verify_diff(server: Server) -> None:
    session = sync(server, wrong_close=True)
    page = {"entities": {"User": [sample_user(2)]}, "page_hint": 2}
    assert server.call("POST", f"{DEMO}/sessions/{session}/entities", page, KEY)[0] == 409
    expectations = json.loads(block("verify-diff-expectations"))  # the page shows what it checked
    status, answer = server.call("POST", "/_mock/integrations/demo/verify", expectations)
    assert status == 422 and answer["diff"] + "\n" == block("verify-diff")


@pytest.mark.skipif(shutil.which("node") is None, reason="the example is a Node script")
def test_verify_node(server: Server, tmp_path: Path) -> None:
    script = tmp_path / "verify.mjs"
    script.write_text(block("verify-node"))
    env = {**os.environ, "MOCK_SPRINTO": server.origin}
    for _ in range(2):  # run again against the same server, as a developer does: it passes again
        result = subprocess.run(["node", str(script)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "every expectation met" in result.stdout
    broken = re.sub(r'workEmail: "ada@example.com",\s*', "", block("verify-node"))  # a page rejected: 422
    script.write_text(broken.replace('"node-demo"', '"node-demo-2"'))
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0 and "push_page 400 validation_failed" in result.stderr


def test_judge_output_and_commands(tmp_path: Path) -> None:
    data = ROOT / "tests" / "data"
    shown = subprocess.run(
        [sys.executable, "-m", "mock_sprinto", "judge", "browser-capture.har"], capture_output=True, text=True, cwd=data
    )
    assert shown.returncode == 1 and shown.stdout == block("judge-output")
    shutil.copy(data / "browser-capture.har", tmp_path / "traffic.har")
    for line in block("judge-commands").splitlines():
        result = cli(line, tmp_path)
        assert result.returncode == 1 and "retry_too_soon" in result.stdout, (line, result.stderr)
    assert json.loads(cli(block("judge-commands").splitlines()[1], tmp_path).stdout)["judged_entries"] == 4


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example uses curl")
def test_judge_curl(server: Server, tmp_path: Path) -> None:
    shutil.copy(ROOT / "tests" / "data" / "browser-capture.har", tmp_path / "traffic.har")
    result = shell(here(block("judge-curl"), server), tmp_path)
    (judged,) = json.loads(result.stdout)["integrations"]
    assert [f["id"] for f in judged["findings"]] == ["retry_too_soon", "outcome_not_read"]


def test_judge_says_the_flag_that_raises_its_bound(tmp_path: Path) -> None:
    """Over its bound, judge named the setting max_har_bytes, which nothing on its command line set."""
    shutil.copy(ROOT / "tests" / "data" / "browser-capture.har", tmp_path / "traffic.har")
    over = cli("mock-sprinto judge traffic.har --max-har-bytes 100", tmp_path)
    assert over.returncode == 2 and "traffic.har is over 100 bytes (--max-har-bytes)" in over.stderr, over.stderr
    assert cli("mock-sprinto judge traffic.har --max-har-bytes 0", tmp_path).returncode == 2
    huge = cli("mock-sprinto judge traffic.har --max-har-bytes 99999999999999999999", tmp_path)
    assert huge.returncode == 2 and "Traceback" not in huge.stderr, huge.stderr
    assert "--max-har-bytes: setting 'max_har_bytes' must be at most" in huge.stderr
