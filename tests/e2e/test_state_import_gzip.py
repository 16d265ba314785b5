"""``mock-sprinto state import FILE.gz`` with a damaged .gz: the server refuses the bundle it cannot read
as it refuses any other (400 ``invalid_state``, saying the gzip stream is damaged), the command
says so and exits 1 (the server refused the bundle), and nothing changed."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

from mock_sprinto.exitcodes import FAILED

from .test_cli import CLI, Server


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def test_a_truncated_gz_bundle_is_refused_as_a_damaged_bundle(server: Server, tmp_path: Path) -> None:
    assert server.call("POST", "/_mock/integrations", {"id": "acme"})[0] == 201
    whole = tmp_path / "acme.state.json.gz"
    exported = run("state", "export", "--url", server.origin, "--integration", "acme", "-o", str(whole))
    assert exported.returncode == 0, exported.stderr
    cut = tmp_path / "cut.state.json.gz"
    cut.write_bytes(whole.read_bytes()[:-12])  # a half-copied file: its stream ends too soon
    before = server.call("GET", "/_mock/state")

    result = run("state", "import", str(cut), "--url", server.origin)

    assert result.returncode == FAILED, (result.stdout, result.stderr)
    said = "the state bundle is refused, nothing was changed: damaged gzip: the compressed data ends too soon"
    assert result.stderr == (
        f"mock-sprinto state: PUT /_mock/state answered 400: invalid_state: {said}\n"
        "  - damaged gzip: the compressed data ends too soon\n"
    )
    after = server.call("GET", "/_mock/state")  # the clock moved on; what the server holds did not
    assert [(i["id"], i["api_key"], i["created_at"]) for i in after[1]["integrations"]] == [
        (i["id"], i["api_key"], i["created_at"]) for i in before[1]["integrations"]
    ]
    assert gzip.decompress(whole.read_bytes())  # the whole file is a bundle: only the cut one is refused
    assert run("state", "import", str(whole), "--url", server.origin).returncode == 0
