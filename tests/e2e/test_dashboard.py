"""The dashboard as a person sees it: headless Chromium renders /_mock/ and runs its script."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .test_cli import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]

# CI installs Chromium (.ci/run) and sets REQUIRE_CHROMIUM, so there a missing browser fails.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("REQUIRE_CHROMIUM"),
    reason="Chromium is not installed (apt-get install chromium)",
)


def render(url: str, *extra: str) -> str:
    assert CHROMIUM is not None, "REQUIRE_CHROMIUM is set but Chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_dashboard_lists_integrations_and_latest_requests(server: Server, tmp_path: Path) -> None:
    base = "/api/external/push/v1/integrations/dash-demo"
    key = {"api-key": "k"}
    _, session = server.call("POST", base + "/sessions", headers=key)
    status, _ = server.call("POST", f"{base}/sessions/{session['id']}/entities", {"entities": {"User": [{}]}}, key)
    assert status == 400

    dom = render(f"{server.origin}/_mock/", "--dump-dom")
    assert f"{server.origin}/api/external/push" in dom  # the base URL to point a client at
    integrations = dom.split('id="integrations"')[1].split("</table>")[0]
    assert "dash-demo" in integrations and session["id"] in integrations
    assert "active 1" in integrations  # counts read as words, zeros left out
    journal = dom.split('id="journal"')[1].split("</table>")[0]
    assert "push_page" in journal and "validation_failed" in journal and 'class="err">400' in journal
    assert "unknown" not in journal  # opening the page in a browser adds nothing to the journal

    shot = tmp_path / "dashboard.png"
    render(f"{server.origin}/_mock/", f"--screenshot={shot}", "--window-size=1200,700")
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
