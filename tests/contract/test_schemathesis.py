"""schemathesis against a live ``mock-sprinto serve``: every default check, zero failures.

The run is bounded: ``ST_MAX_EXAMPLES`` examples per operation (default 12, ``make fuzz`` raises
it) and a fixed ``ST_SEED`` so a red run is reproducible (``make fuzz`` draws a fresh one).
The only exceptions to "all checks on everything" live in schemathesis.toml beside this file,
each with its reason.
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
    examples = os.environ.get("ST_MAX_EXAMPLES", "12")
    seed = os.environ.get("ST_SEED", "20260101")
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
    ]
    if seed != "random":
        command += ["--seed", seed]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=int(os.environ.get("ST_TIMEOUT", "300"))
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested and int(tested.group(1)) >= 30, output[-3000:]  # every operation ran, none silently skipped
