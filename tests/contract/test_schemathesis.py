"""schemathesis against a live ``mock-sprinto serve``: every operation, every phase (examples,
coverage, fuzzing, stateful), every default check, zero failures.

The run is bounded by time: ``ST_MAX_TIME`` seconds (default 40 in ``make test``; fuzzing and the
stateful phase repeat until it is spent), ``ST_MAX_EXAMPLES`` cases per operation and round
(default 25), and a fixed ``ST_SEED`` so a red run is reproducible (``make fuzz`` runs five fresh
seeds of two minutes each). The only exceptions to "all checks on everything" live in
schemathesis.toml and st_hooks.py beside this file, each with its reason. The examples phase has
nothing to run: the contract carries no examples.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "st_hooks.py"
PHASES = ("Coverage", "Fuzzing", "Stateful")


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


def test_schemathesis_finds_nothing(live_server: str, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    examples = os.environ.get("ST_MAX_EXAMPLES", "25")
    max_time = os.environ.get("ST_MAX_TIME", "40")
    seed = os.environ.get("ST_SEED", "20260101")
    command = [
        str(st),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server}/_mock/openapi.json",
        "--max-examples",
        examples,
        "--max-time",
        max_time,
        "--workers",
        os.environ.get("ST_WORKERS", "1"),
        "--no-color",
        "--request-timeout",
        "10",
    ]
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
    assert result.returncode == 0, output[-12000:]
    tested = re.search(r"Tested:\s+(\d+)", output)
    selected = re.search(r"Selected:\s+(\d+)/(\d+)", output)
    assert selected and selected.group(1) == selected.group(2), output[-3000:]  # no operation left out
    assert tested and int(tested.group(1)) == int(selected.group(2)), output[-3000:]  # every one ran
    summary = output[output.rfind("Test Phases:") :]
    for phase in PHASES:  # each phase ran and passed (not skipped, not errored)
        assert re.search(rf"✅\s+{phase}", summary), (phase, summary[:600])
    cases = re.search(r"(\d+) generated", output)
    used = re.search(r"Seed:\s+(\d+)", output)
    print(
        f"schemathesis: {cases.group(1) if cases else '?'} cases in {max_time}s, phases {', '.join(PHASES)}, "
        f"seed {used.group(1) if used else seed}"
    )
