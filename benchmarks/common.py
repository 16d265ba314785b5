"""Small shared pieces: pages, statistics, process CPU and memory readings, server processes."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mock_sprinto.settings import Settings
from mock_sprinto.testing import sample_user
from mock_sprinto.validation import PageVerdict, SchemaRegistry, check_page

ROOT = Path(__file__).resolve().parent.parent
API = "/api/external/push/v1/integrations"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = 100


def user_record(i: int) -> dict[str, Any]:
    """A valid ``User`` record: the one the package's testing helpers give tests too."""
    return sample_user(i)


# The same record as JSON text with two holes, so a million records cost string formatting only.
# json.dumps' default separators (", " and ": ") are what Python clients (requests, aiohttp) send.
_RECORD_TEMPLATE = json.dumps(user_record(0)).replace('"E0"', '"E%d"', 1).replace("alice0@", "alice%d@")


def page_bytes(first: int, count: int = PAGE_SIZE) -> bytes:
    """A push body of ``count`` distinct valid User records (100 records: about 31 KB)."""
    records = ", ".join(_RECORD_TEMPLATE % (i, i) for i in range(first, first + count))
    return f'{{"entities": {{"User": [{records}]}}}}'.encode()


def check_user_page(body: Any, registry: SchemaRegistry, settings: Settings) -> PageVerdict:
    """The emulator's verdict on a parsed page (``check_page``, jsonschema-rs) with its limits."""
    return check_page(
        body,
        registry,
        max_items=settings.max_page_items,
        max_errors=settings.max_validation_errors,
        reject_unknown_types=False,
    )


def gzipped(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=6, mtime=0)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    return sum(process_cpu_split(pid))


def process_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def memory_kib(field: str = "VmRSS", pid: int | str = "self", missing: int | None = None) -> int:
    """A /proc/<pid>/status memory figure in KiB (VmRSS: resident now; VmHWM: resident peak).

    A process that has exited but not been waited for has no such figure: ``missing`` if given,
    else KeyError."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    if missing is not None:
        return missing
    raise KeyError(field)


def package_version(name: str) -> str:
    """An installed distribution's version, or "not installed"."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def cleanup_on_sigterm() -> None:
    """A SIGTERM (``kill``, a CI job cancelled, ``timeout``) ends the run as Ctrl-C does: the
    ``finally`` blocks stop the servers it started. Python's default for SIGTERM ends the process
    at once and left them running (a soak's server, still under load, outlived its soak)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def cancel_on_sigterm() -> None:
    """``cleanup_on_sigterm`` for a run that is one asyncio task: a SIGTERM cancels the task, whose
    ``finally`` blocks then stop its servers. (An exception raised by a signal handler can land in
    a destructor, which swallows it: a cancellation reaches the task at its next await.)"""
    task = asyncio.current_task()
    assert task is not None, "called from the run's task"
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


@dataclass
class ServerProcess:
    """A server started in its own process; ``stop()`` always ends it."""

    kind: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()


def read_line_until(process: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """The first stdout line containing ``marker``; kills the process if it dies or time runs out.

    Reads the pipe with ``os.read`` (no Python-side buffer), so ``select`` stays truthful and
    the rest of the output can still be read afterwards.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    pending = b""
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            seen.append(line)
            if marker in line:
                return line
    process.kill()
    process.wait(5)
    raise RuntimeError(f"no {marker!r} line within {timeout}s; output was: {seen[-10:]}")


def start_server(
    kind: str,
    *,
    profile: Path | None = None,
    settings: dict[str, str] | None = None,
    timeout: float = 30.0,
    extra: Sequence[str] = (),
) -> ServerProcess:
    """Start ``python -m benchmarks.servers KIND`` and wait for the health URL it prints."""
    argv = [sys.executable, "-m", "benchmarks.servers", kind]
    if profile is not None:
        argv += ["--profile", str(profile)]
    for name, value in (settings or {}).items():
        argv += ["--setting", f"{name}={value}"]
    argv += extra
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, bufsize=0)
    return ServerProcess(kind, process, health_port(read_line_until(process, "/_mock/health", timeout)))


def health_port(banner_line: str) -> int:
    """The port in a banner line such as ``control    http://127.0.0.1:8080/_mock/health``."""
    match = re.search(r"http://127\.0\.0\.1:(\d+)/_mock/health", banner_line)
    if match is None:
        raise RuntimeError(f"no loopback health URL in {banner_line!r}")
    return int(match.group(1))


def run_json(argv: Sequence[str], timeout: float) -> Any:
    """Run a helper process that prints one JSON document as its last stdout line."""
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_inproc(kind: str, timeout: float, **options: object) -> Any:
    """``python -m benchmarks.inproc KIND --name value ...`` in a fresh process: its JSON document."""
    argv = ["-m", "benchmarks.inproc", kind]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return run_json(argv, timeout)
