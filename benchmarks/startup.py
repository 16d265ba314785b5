"""Section 3, start-up: ``mock-sprinto serve --port 0`` from exec to its first healthy answer.

Baselines from the same run: the interpreter alone (``python -c pass``) and a bare aiohttp
server measured the same way (exec, read the port from its output, ``GET /_mock/health``).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import ROOT, health_port, median, read_line_until
from .harness import Context, Part, Section, ms, verdict

HEALTH_TIMEOUT = 10.0
TARGET_SECONDS = 0.25  # issue 15's target


def _env() -> dict[str, str]:
    """The caller's environment without MOCK_SPRINTO_* settings, so defaults are measured."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}


def _first_healthy(port: int, deadline: float) -> None:
    while time.perf_counter() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        try:
            connection.request("GET", "/_mock/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.002)
        finally:
            connection.close()
    raise RuntimeError(f"no healthy answer on port {port} within {HEALTH_TIMEOUT}s")


def time_to_healthy(argv: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Seconds from exec to the banner's health URL, and to the first 200 from it."""
    start = time.perf_counter()
    process = subprocess.Popen(list(argv), cwd=cwd, env=_env(), stdout=subprocess.PIPE, bufsize=0)
    try:
        port = health_port(read_line_until(process, "/_mock/health", HEALTH_TIMEOUT))
        banner = time.perf_counter() - start
        _first_healthy(port, start + HEALTH_TIMEOUT)
        return banner, time.perf_counter() - start
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def time_to_exit(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(list(argv), env=_env(), check=True, timeout=60, capture_output=True)
    return time.perf_counter() - start


def serve_command() -> list[str]:
    script = Path(sys.executable).parent / "mock-sprinto"
    if script.exists():
        return [str(script), "serve", "--port", "0"]
    return [sys.executable, "-m", "mock_sprinto", "serve", "--port", "0"]  # not installed as a script


def run(trials: int) -> dict[str, Any]:
    """Alternate the three measurements ``trials`` times; medians and bests."""
    command = serve_command()
    emulator: list[float] = []
    banner: list[float] = []
    bare: list[float] = []
    interpreter: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mock-sprinto-bench-") as empty:
        for _ in range(trials):
            shown, healthy = time_to_healthy(command, Path(empty))
            banner.append(shown)
            emulator.append(healthy)
            bare.append(time_to_healthy([sys.executable, "-m", "benchmarks.servers", "bare"], ROOT)[1])
            interpreter.append(time_to_exit([sys.executable, "-c", "pass"]))
    return {
        "command": " ".join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command)),
        "trials": trials,
        "emulator_s": {"median": median(emulator), "best": min(emulator), "worst": max(emulator)},
        "emulator_banner_s": {"median": median(banner)},
        "bare_aiohttp_s": {"median": median(bare), "best": min(bare)},
        "python_pass_s": {"median": median(interpreter), "best": min(interpreter)},
    }


def import_profile(top: int = 12) -> list[tuple[float, str]]:
    """The slowest imports of ``mock-sprinto serve`` (``-X importtime``), cumulative ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mock_sprinto.cli, mock_sprinto.http, mock_sprinto.service"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    rows: list[tuple[float, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if not name.startswith(" "):
            rows.append((int(cumulative) / 1000, name.strip()))
    rows.sort(reverse=True)
    return rows[:top]


def section(context: Context) -> Section:
    scale = context.scale
    result = run(scale.startup_trials)
    healthy = result["emulator_s"]["median"]
    out = Section(3, "`mock-sprinto serve --port 0`: start to first healthy answer")
    out.add(
        "exec to first 200 from GET /_mock/health (median)",
        ms(healthy),
        f"bare aiohttp server {ms(result['bare_aiohttp_s']['median'])}; `python -c pass` "
        f"{ms(result['python_pass_s']['median'])}",
        f"≤ {TARGET_SECONDS} s",
        verdict(healthy <= TARGET_SECONDS),
    )
    out.add("exec to banner (median)", ms(result["emulator_banner_s"]["median"]), "-")
    out.notes.append(
        f"{result['trials']} alternating trials; best {ms(result['emulator_s']['best'])}, "
        f"worst {ms(result['emulator_s']['worst'])}; default settings, no config file."
    )
    if healthy > TARGET_SECONDS or not scale.quick:
        imports = import_profile()
        out.detail.append(
            "slowest imports (`python -X importtime`, cumulative): "
            + ", ".join(f"{name} {cost:.0f} ms" for cost, name in imports[:8])
        )
    return out


PART = Part((3,), ("Start-up",), lambda context: [section(context)])
