"""Sections 1 and 2: ingest throughput and push latency over HTTP, the emulator beside a bare
aiohttp handler (``benchmarks/servers.py``), loaded by ``benchmarks/load.py``; when the
throughput target is missed (or ``--profile``), a py-spy profile of the emulator under that load.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import ServerProcess, run_json, start_server
from .harness import Context, Part, Scale, Section, us, verdict

LAST_WINS = "emulator, duplicate_names=last_wins"
VALIDATING = "bare + check_page"
RATIO_TARGET = 0.6
CPU_TARGET_US = 240  # issue 15: server CPU per plain page
# Issue 21: the fair ceiling is a bare handler that also validates every record (check_page,
# jsonschema-rs) against the same schema; the emulator, every check on, at this share of it.
VALIDATING_RATIO_TARGET = 0.7


def load_command(verb: str, server: ServerProcess, kind: str) -> list[str]:
    """The load client's arguments every run shares: which load, against which server."""
    return ["-m", "benchmarks.load", verb, "--base", server.base, "--kind", kind, "--server-pid", str(server.pid)]


def _load(
    server: ServerProcess, kind: str, concurrency: int, encoding: str, duration: float, warmup: float
) -> dict[str, Any]:
    result: dict[str, Any] = run_json(
        [
            *load_command("throughput", server, kind),
            "--concurrency",
            str(concurrency),
            "--encoding",
            encoding,
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
        ],
        timeout=120 + duration * 4,
    )
    if result["errors"]:
        raise RuntimeError(f"{kind} answered {result['errors']} pushes with an error, e.g. {result['first_error']}")
    return result


def http_benchmarks(scale: Scale) -> tuple[Section, Section, dict[str, float]]:
    """Emulator and bare server side by side; each configuration alternates between them.

    Returns sections 1 and 2 and the emulator / bare throughput ratio per encoding."""
    tput = Section(1, f"Ingest throughput, 100-record User pages, {scale.throughput_clients} concurrent clients")
    lat = Section(2, "Push latency (plain 100-record pages, closed loop)")
    configs = [(scale.throughput_clients, "plain"), (scale.throughput_clients, "gzip")]
    configs += [(c, "plain") for c in scale.concurrencies if c != scale.throughput_clients]
    best: dict[tuple[str, int, str], dict[str, Any]] = {}
    per_round: dict[tuple[str, int, str], list[float]] = {}
    servers = {kind: start_server(kind) for kind in ("emulator", "bare")}
    if not scale.quick:  # what the duplicate-name proof costs end to end: the same emulator without it
        servers[LAST_WINS] = start_server("emulator", settings={"duplicate_names": "last_wins"})
        servers[VALIDATING] = start_server("validating")
    try:
        for _ in range(scale.rounds):
            for concurrency, encoding in configs:
                for name, server in servers.items():
                    if name in (LAST_WINS, VALIDATING) and (concurrency, encoding) != configs[0]:
                        continue
                    kind = "emulator" if name.startswith("emulator") else "bare"
                    result = _load(server, kind, concurrency, encoding, scale.duration, scale.warmup)
                    key = (name, concurrency, encoding)
                    per_round.setdefault(key, []).append(result["pages_per_s"])
                    if key not in best or result["pages_per_s"] > best[key]["pages_per_s"]:
                        best[key] = result
    finally:
        for server in servers.values():
            server.stop()
    ratios: dict[str, float] = {}
    c = scale.throughput_clients
    for encoding in ("plain", "gzip"):
        emu, bare = best[("emulator", c, encoding)], best[("bare", c, encoding)]
        ratio = emu["pages_per_s"] / bare["pages_per_s"]
        ratios[encoding] = ratio
        rounds = ", ".join(
            f"{e / b:.2f}"
            for e, b in zip(per_round[("emulator", c, encoding)], per_round[("bare", c, encoding)], strict=True)
        )
        tput.add(
            f"{encoding} ({emu['bytes_per_page']:,} B on the wire): emulator",
            f"{emu['pages_per_s']:,.0f} pages/s",
            f"bare aiohttp {bare['pages_per_s']:,.0f} pages/s",
        )
        tput.add(
            f"{encoding}: ratio emulator / bare (best vs best)",
            f"{ratio:.2f} (round by round: {rounds})",
            "1.00 = as fast as the bare handler",
            f"≥ {RATIO_TARGET}",
            verdict(ratio >= RATIO_TARGET),
        )
        tput.add(
            f"{encoding}: server CPU per page (of which kernel)",
            f"emulator {us(emu['server_cpu_us_per_page'])} ({us(emu['server_sys_us_per_page'])})",
            f"bare {us(bare['server_cpu_us_per_page'])} ({us(bare['server_sys_us_per_page'])})",
            f"≤ {CPU_TARGET_US} µs" if encoding == "plain" else "-",
            verdict(emu["server_cpu_us_per_page"] <= CPU_TARGET_US) if encoding == "plain" else "-",
        )
        tput.add(
            f"{encoding}: CPU busy (server / client)",
            f"emulator {emu['server_cpu_share']:.0%} / {emu['client_cpu_share']:.0%}",
            f"bare {bare['server_cpu_share']:.0%} / {bare['client_cpu_share']:.0%}",
        )
    if (VALIDATING, c, "plain") in best:
        checked, emulator = best[(VALIDATING, c, "plain")], best[("emulator", c, "plain")]
        share = emulator["pages_per_s"] / checked["pages_per_s"]
        tput.add(
            "plain: ratio emulator / bare handler that also validates (check_page, jsonschema-rs)",
            f"{share:.2f} (server CPU a page {us(emulator['server_cpu_us_per_page'])} against "
            f"{us(checked['server_cpu_us_per_page'])}: "
            f"{checked['server_cpu_us_per_page'] / emulator['server_cpu_us_per_page']:.2f})",
            f"validating bare handler {checked['pages_per_s']:,.0f} pages/s",
            f"≥ {VALIDATING_RATIO_TARGET}",
            verdict(share >= VALIDATING_RATIO_TARGET),
        )
    if (LAST_WINS, c, "plain") in best:
        ablated, bare = best[(LAST_WINS, c, "plain")], best[("bare", c, "plain")]
        tput.add(
            "plain: emulator with duplicate_names=last_wins (no duplicate-name proof)",
            f"{ablated['pages_per_s']:,.0f} pages/s, ratio {ablated['pages_per_s'] / bare['pages_per_s']:.2f}, "
            f"server CPU {us(ablated['server_cpu_us_per_page'])}/page",
            f"default emulator {best[('emulator', c, 'plain')]['pages_per_s']:,.0f} pages/s",
        )
    tput.notes.append(
        f"best of {scale.rounds} alternating rounds of {scale.duration:g} s (after {scale.warmup:g} s warm-up) per "
        "server; one load-client process (aiohttp, one connection per client) beside one server process, on the "
        "same machine. A client near 100% CPU means the figure is the client's limit, not the server's."
    )
    tput.notes.append(
        "The emulator runs with its defaults (every page parsed, checked for duplicate member names and "
        "validated against schemas/entities/User.json, then staged); each client discards its session and "
        "starts another every 250 pages, outside the counted pushes."
    )
    for concurrency in sorted({c for c, e in configs if e == "plain"}):
        emu, bare = best[("emulator", concurrency, "plain")], best[("bare", concurrency, "plain")]
        lat.add(
            f"{concurrency} client{'s' if concurrency > 1 else ''}: p50 / p99",
            f"emulator {emu['p50_ms']:.1f} / {emu['p99_ms']:.1f} ms",
            f"bare {bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} ms",
        )
    lat.notes.append(
        "client-side, from sending the request to reading the whole answer, in the run of section 1 "
        "with the best throughput for that concurrency."
    )
    return tput, lat, ratios


def profile_emulator(scale: Scale, profile_dir: Path) -> list[str]:
    """Where the emulator's server process spends its CPU under the section-1 load."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    server = start_server("emulator")
    folded = profile_dir / "emulator.folded"
    try:
        recorder = None
        if spy:
            recorder = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(max(1, round(scale.profile_seconds))),
                    "--rate",
                    "400",
                    "--format",
                    "raw",
                    "--output",
                    str(folded),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.3)
        loaded = _load(server, "emulator", scale.throughput_clients, "plain", scale.profile_seconds, 0.2)
        if recorder is not None:
            try:
                recorder.wait(30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait(5)
    finally:
        server.stop()
    if not folded.exists() or folded.stat().st_size == 0:
        return [
            "(no profile: py-spy is not installed or may not attach here; run `make bench` as a user "
            "allowed to ptrace, or see ANALYSIS.md for a pyinstrument run)"
        ]
    return [summarize_folded(folded, loaded["server_cpu_us_per_page"])]


_INTERESTING = (
    "mock_sprinto/",
    "_SelectorSocketTransport.write",
    "RequestHandler._handle_request",
    "RequestHandler.finish_response",
    "_read_ready",
    "EpollSelector.select",
)


def summarize_folded(path: Path, cpu_us_per_page: float, top: int = 24) -> str:
    """py-spy's folded stacks as a table: share of on-CPU samples in each frame (inclusive, self)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_frame_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    if not total:
        return "(empty profile)"
    rows = [(n, name) for name, n in inclusive.items() if any(key in name for key in _INTERESTING)]
    rows.sort(reverse=True)
    lines = [
        f"py-spy, {total} samples of the emulator's server thread while runnable, under the section-1 load "
        f"(server CPU {cpu_us_per_page:,.0f} µs per page, user + kernel, from /proc). Native code (orjson, "
        "jsonschema-rs, regex) counts as its caller's self time. `_SelectorSocketTransport.write` also holds "
        "the time the server spends preempted right after its send() wakes the client; the kernel CPU per page "
        "in the table above is the CPU part of it. Paths outside `mock_sprinto/` are those of the installed "
        "aiohttp and of Python's standard library, not of this repository.",
        "",
        "| frame | inclusive | self |",
        "|---|---:|---:|",
    ]
    for n, name in rows[:top]:
        lines.append(f"| `{name}` | {n / total:.1%} | {own.get(name, 0) / total:.1%} |")
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (path/to/file.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def sections(context: Context) -> Sequence[Section]:
    tput, lat, ratios = http_benchmarks(context.scale)
    if context.profile or (min(ratios.values()) < RATIO_TARGET and not context.scale.quick):
        tput.detail.extend(profile_emulator(context.scale, context.scratch))
    return tput, lat


PART = Part((1, 2), ("Ingest throughput", "Push latency"), sections)
