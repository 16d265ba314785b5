"""Running the user's sync once: a command in its own process group, or a Python callable on a
worker thread, each under a wall-clock limit, never leaving a process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# The user's sync: a command line, or a function given the environment a command would get.
SyncCallable = Callable[[Mapping[str, str]], None]
Target = Sequence[str] | SyncCallable

KILL_GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Ran:
    exit_code: int | None  # None: it timed out, or never started
    timed_out: bool
    seconds: float
    start_error: str | None = None


def run_command(
    command: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
    stdout: Path,
    stderr: Path,
    *,
    tail_bytes: int,
    live: Callable[[subprocess.Popen[bytes], bool], None] | None = None,
) -> Ran:
    """The command with stdin closed and its output in files (cut to their last ``tail_bytes``).

    ``live(process, running)`` is told when it starts and when it (and its group) ended, so an
    interrupted exam can end every command still running."""
    started = time.monotonic()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        try:
            # Its own session, so a timeout can end the command and every process it started.
            process = subprocess.Popen(
                list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
        except OSError as exc:
            return Ran(None, False, time.monotonic() - started, start_error=f"{command[0]!r}: {exc.strerror or exc}")
        if live is not None:
            live(process, True)
        timed_out = False
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BaseException:  # Ctrl-C while waiting: the command must not outlive the exam
            end_group(process)
            raise
        seconds = time.monotonic() - started
        # Also after a normal exit: a child it left running in its group is ended with it.
        end_group(process)
        if live is not None:
            live(process, False)
    for path in (stdout, stderr):
        keep_tail(path, tail_bytes)
    return Ran(None if timed_out else process.returncode, timed_out, seconds)


def end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's process group, SIGKILL to what is left after a grace period."""
    group = process.pid  # start_new_session: the leader's pid is the group's id
    if not _signal_group(group, signal.SIGTERM):
        process.wait()
        return
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_alive(group):
            return
        time.sleep(_POLL_SECONDS)
    _signal_group(group, signal.SIGKILL)
    process.wait()


def _signal_group(group: int, signum: int) -> bool:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False  # nobody left in the group
    except PermissionError:  # a member changed its credentials: nothing more we can do
        return False
    return True


def _group_alive(group: int) -> bool:
    """Whether a member of the group still runs (zombies waiting for a parent's wait do not)."""
    if not _signal_group(group, 0):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command name: state, ppid, pgrp
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            return True
    return False


def keep_tail(path: Path, limit: int) -> None:
    """Cut a captured output file to its last ``limit`` bytes, saying how much was cut."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size <= limit:
        return
    with path.open("rb") as source:
        source.seek(size - limit)
        tail = source.read()
    path.write_bytes(f"[... the first {size - limit} bytes were cut ...]\n".encode() + tail)


def read_tail(path: Path | None, limit: int) -> str:
    """The last ``limit`` bytes of a captured output, as text (for JUnit's system-out)."""
    if path is None:
        return ""
    try:
        with path.open("rb") as source:
            size = source.seek(0, os.SEEK_END)
            source.seek(max(0, size - limit))
            return source.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_callable(target: SyncCallable, env: Mapping[str, str], timeout: float, stderr: Path) -> Ran:
    """``target(env)`` on a daemon thread: returning is exit 0, raising is exit 1 (its traceback
    goes to ``stderr``). A thread still running at the limit is reported timed out and abandoned:
    Python cannot stop a thread, and a daemon one does not keep the process alive."""
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            target(dict(env))
        except BaseException as exc:  # reported as exit 1, never raised on the worker thread
            outcome.append(exc)
        else:
            outcome.append(None)

    started = time.monotonic()
    worker = threading.Thread(target=call, name=f"mock-sprinto-exam-{env.get('MOCK_SPRINTO_TRIAL', 'trial')}")
    worker.daemon = True
    worker.start()
    worker.join(timeout)
    seconds = time.monotonic() - started
    if worker.is_alive() or not outcome:
        return Ran(None, True, seconds)
    error = outcome[0]
    if error is None:
        return Ran(0, False, seconds)
    if isinstance(error, SystemExit):  # sys.exit(n) in a sync written as a script: its code counts
        code = error.code
        if code is None or isinstance(code, int):
            return Ran(code or 0, False, seconds)
    with stderr.open("w", encoding="utf-8") as err:
        _write_traceback(err, error)
    return Ran(1, False, seconds)


def _write_traceback(stream: IO[str], error: BaseException) -> None:
    stream.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
