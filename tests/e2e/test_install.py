"""Installing outside the checkout, as the README's "Install" section says: the wheel carries the
console script, the pytest plugin, the shipped data and the py.typed marker, and a typed suite
that imports the plugin's handles passes ``mypy --strict``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

USER_SUITE = """\
from mock_sprinto.testing import MockSprinto


def test_my_sync(mock_sprinto: MockSprinto) -> None:
    session = mock_sprinto.sessions()
    assert isinstance(session, list)
    mock_sprinto.clock.advance(seconds=2)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    hatchling = shutil.which("hatchling", path=str(BIN))
    assert hatchling, "hatchling is in the test extra"
    subprocess.run([hatchling, "build", "-t", "wheel", "-d", str(out)], cwd=ROOT, check=True, capture_output=True)
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_carries_the_script_the_plugin_the_data_and_py_typed(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        declared = archive.read(entry_points).decode()
    assert "mock_sprinto/py.typed" in names
    assert {"mock_sprinto/_data/scenarios/default.yaml", "mock_sprinto/_data/schemas/entities/User.json"} <= names
    assert "mock_sprinto/_data/docs/getting-started.md" in names  # served at /_mock/docs/getting-started
    assert "mock-sprinto = mock_sprinto.cli:main" in declared
    assert "[pytest11]" in declared and "mock_sprinto = mock_sprinto.pytest_plugin" in declared


def test_the_unpacked_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel installs by unpacking
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from mock_sprinto.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    listed = subprocess.run(
        [sys.executable, "-c", code, str(site), "scenarios", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "rate-limited" in listed.stdout  # the shipped scenarios are found inside the install


def test_a_typed_suite_that_imports_the_handles_passes_mypy_strict(tmp_path: Path) -> None:
    suite = tmp_path / "test_user.py"
    suite.write_text(USER_SUITE)
    checked = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--no-incremental", str(suite)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
