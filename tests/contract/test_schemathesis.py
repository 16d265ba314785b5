"""schemathesis against a live ``mock-sprinto serve``: every operation, every phase (examples,
coverage, fuzzing, stateful), every default check, zero failures.

The run is bounded by count, not by time, so it sends the same cases on every machine however fast:
the coverage phase's whole enumeration, ``ST_MAX_EXAMPLES`` cases per operation in fuzzing (default
15; the stateful phase's scenarios scale with it), and a fixed ``ST_SEED``. A red run is reproduced by running
the test again with the seed its message names. ``ST_MAX_TIME`` (``make fuzz``: fresh seeds of
two minutes each) switches to schemathesis's time-bounded mode instead, in which fuzzing and the
stateful phase repeat until the time is spent: more cases, but which ones depends on the machine.

A failure explains itself: the message holds each failing case as schemathesis reports it (the
check that failed, the response, the curl that reproduces it, and the steps before it in a
stateful scenario), read from schemathesis's JUnit report; the report, schemathesis's whole output
and the server's log stay under the test's tmp_path. The only exceptions to "all checks on
everything" live in schemathesis.toml and st_hooks.py beside this file, each with its reason.
The examples phase has nothing to run: the contract carries no examples.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "st_hooks.py"
PHASES = ("Coverage", "Fuzzing", "Stateful")
MESSAGE_CHARS = 12000


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """``mock-sprinto serve`` in its own process on a free loopback port; stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_sprinto", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "server.err").open("w"),
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        origin = None
        for line in process.stdout:
            found = re.search(r"base URL\s+(http://127\.0\.0\.1:\d+)/", line)
            if found:
                origin = found.group(1)
                break
        assert origin, "the server printed no base URL"
        yield origin
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    server_log = (tmp_path / "server.err").read_text()
    assert "internal error" not in server_log, server_log[-3000:]


def failures_in(junit: Path) -> list[str]:
    """Each failure and error schemathesis's JUnit report holds, as ``METHOD /path`` and its text
    (the check, the response, the reproducing curl)."""
    if not junit.exists():
        return []
    found = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        for outcome in (*case.iter("failure"), *case.iter("error")):
            text = (outcome.text or outcome.get("message") or "").strip()
            found.append(f"{case.get('name')} ({outcome.tag}):\n{text}")
    return found


def explain(output: str, junit: Path, rerun: str) -> str:
    """The assertion message of a red run: how to run it again, then the failing cases."""
    cases = failures_in(junit)
    used = re.search(r"Seed:\s+(\d+)", output)
    head = [
        f"schemathesis failed (seed {used.group(1) if used else '?'}); run it again with: {rerun}",
        f"reports: {junit.parent} (JUnit), {junit.parent.parent / 'st-output.txt'} (the whole output); "
        "a curl below names the test's own server: against `mock-sprinto serve`, change its port",
    ]
    if cases:
        body = "\n\n".join(cases)
    else:  # no case to show (schemathesis itself stopped): its last words
        start = max(output.rfind("=== FAILURES"), output.rfind("=== ERRORS"))
        body = output[start:] if start >= 0 else output[-MESSAGE_CHARS:]
    return "\n".join(head) + "\n\n" + body[:MESSAGE_CHARS]


def test_schemathesis_finds_nothing(live_server: str, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    examples = os.environ.get("ST_MAX_EXAMPLES", "15")
    max_time = os.environ.get("ST_MAX_TIME")  # unset: bounded by count, the same cases everywhere
    seed = os.environ.get("ST_SEED", "20260101")
    junit = tmp_path / "report" / "junit.xml"
    command = [
        str(st),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server}/_mock/openapi.json",
        "--max-examples",
        examples,
        "--workers",
        os.environ.get("ST_WORKERS", "1"),
        "--no-color",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    if max_time:
        command += ["--max-time", max_time]
    if seed != "random":
        command += ["--seed", seed]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=int(os.environ.get("ST_TIMEOUT", "300")),
    )
    output = result.stdout + result.stderr
    (tmp_path / "st-output.txt").write_text(output)
    used = re.search(r"Seed:\s+(\d+)", output)
    used_seed = used.group(1) if used else seed
    rerun = (
        f"ST_SEED={used_seed} ST_MAX_EXAMPLES={examples}"
        + (f" ST_MAX_TIME={max_time}" if max_time else "")
        + " .venv/bin/python -m pytest -p no:cacheprovider tests/contract/test_schemathesis.py"
        + ("" if not max_time else "  (time-bounded: the same seed may not reach the same case)")
    )
    if result.returncode != 0:
        pytest.fail(explain(output, junit, rerun), pytrace=False)
    tested = re.search(r"Tested:\s+(\d+)", output)
    selected = re.search(r"Selected:\s+(\d+)/(\d+)", output)
    assert selected and selected.group(1) == selected.group(2), output[-3000:]  # no operation left out
    assert tested and int(tested.group(1)) == int(selected.group(2)), output[-3000:]  # every one ran
    summary = output[output.rfind("Test Phases:") :]
    for phase in PHASES:  # each phase ran and passed (not skipped, not errored)
        assert re.search(rf"✅\s+{phase}", summary), (phase, summary[:600])
    cases = re.search(r"(\d+) generated", output)
    scenarios = re.search(r"Scenarios:\s+(\d+)", output)
    bound = f"in {max_time}s" if max_time else f"{examples} per operation"
    print(
        f"schemathesis: {cases.group(1) if cases else '?'} cases ({bound}; "
        f"{scenarios.group(1) if scenarios else '?'} stateful scenarios), phases {', '.join(PHASES)}, seed {used_seed}"
    )


def test_a_red_run_names_its_failing_case(tmp_path: Path) -> None:
    """The message of a red run is the failing case as schemathesis's JUnit report has it, not the
    tail of a console that may have scrolled it away."""
    junit = tmp_path / "report" / "junit.xml"
    junit.parent.mkdir()
    junit.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="schemathesis">'
        '<testcase name="GET /_mock/health" time="0.1" />'
        '<testcase name="GET /_mock/journal.har" time="0.2"><failure type="failure" message="ST201">'
        "- ST201 Schema-violating request accepted\n\nReproduce with:\n\n"
        "    curl -X GET 'http://127.0.0.1:1/_mock/journal.har?status=&amp;limit=1'</failure></testcase>"
        '<testcase name="Stateful tests" time="0.3"><error type="error" message="boom">tool error</error>'
        "</testcase></testsuite></testsuites>"
    )
    message = explain("...\nSeed: 42\n", junit, "ST_SEED=42 ...")
    assert message.startswith("schemathesis failed (seed 42); run it again with: ST_SEED=42 ...")
    assert "GET /_mock/journal.har (failure):\n- ST201" in message
    assert "curl -X GET 'http://127.0.0.1:1/_mock/journal.har?status=&limit=1'" in message
    assert "Stateful tests (error):\ntool error" in message and "health" not in message
    assert "=== FAILURES ===\nthe console" in explain("tail\n=== FAILURES ===\nthe console", tmp_path / "none", "x")
