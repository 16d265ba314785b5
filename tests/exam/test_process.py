"""Running the command: its own process group, ended whole at the limit or when it exits, and
callables on a worker thread."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from mock_sprinto.exam import process
from mock_sprinto.testing.exam import run_exam


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 5
    while not path.exists() or len(path.read_text().split()) < 2:
        assert time.monotonic() < deadline, "the command never wrote its pids"
        time.sleep(0.02)
    return [int(word) for word in path.read_text().split()]


pytestmark = pytest.mark.skipif(not Path("/proc").is_dir() or os.name != "posix", reason="needs POSIX and /proc")


def test_a_command_past_its_limit_is_killed_with_every_process_it_started(tmp_path: Path) -> None:
    written = tmp_path / "pids"
    # A child that ignores SIGTERM too: the group gets SIGKILL after the grace period.
    script = f"trap '' TERM; sleep 300 & echo $$ $! > {written}; wait"
    result = run_exam(["sh", "-c", script], trials=["baseline"], expect={}, trial_timeout=1, artifacts=tmp_path)
    trial = result.trial("baseline")
    assert trial.timed_out and trial.exit_code is None and trial.reason_ids == ["timed_out"]
    leader, child = pids(written)
    assert not running(leader) and not running(child)


def test_a_child_left_running_after_a_normal_exit_is_ended(tmp_path: Path) -> None:
    written = tmp_path / "pids"
    script = f"sleep 300 & echo $$ $! > {written}; exit 0"
    result = run_exam(["sh", "-c", script], trials=["baseline"], expect={}, artifacts=tmp_path)
    assert result.trial("baseline").exit_code == 0
    leader, child = pids(written)
    assert not running(leader) and not running(child)


def test_a_command_that_cannot_start_is_not_started(tmp_path: Path) -> None:
    result = run_exam([str(tmp_path / "missing")], trials=["baseline"], expect={}, artifacts=tmp_path)
    (reason,) = result.trial("baseline").reasons
    assert reason.id == "not_started" and "missing" in reason.detail


def test_output_is_kept_to_its_tail(tmp_path: Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    ran = process.run_command(
        [sys.executable, "-c", "print('x' * 5000); print('the end')"], os.environ, 10, out, err, tail_bytes=100
    )
    assert ran.exit_code == 0
    text = out.read_text()
    assert text.startswith("[... the first") and text.endswith("the end\n") and len(text) < 200


def test_callables(tmp_path: Path) -> None:
    err = tmp_path / "err"

    def fails(env: Mapping[str, str]) -> None:
        raise ValueError("no luck")

    def exits(env: Mapping[str, str]) -> None:
        sys.exit(3)

    def hangs(env: Mapping[str, str]) -> None:
        time.sleep(5)

    assert process.run_callable(lambda env: None, {}, 1, err).exit_code == 0
    assert process.run_callable(fails, {}, 1, err).exit_code == 1
    assert "ValueError: no luck" in err.read_text()
    assert process.run_callable(exits, {}, 1, err).exit_code == 3
    started = time.monotonic()
    ran = process.run_callable(hangs, {}, 0.2, err)
    assert ran.timed_out and ran.exit_code is None and time.monotonic() - started < 1
