"""The harness of ``python -m benchmarks``: what a section and a figure are, the run's scale, running
the sections, printing them and writing the run (with the machine and the date) to a Markdown file.

It knows no benchmark: each section's own module (``throughput``, ``startup``, ``fixture``,
``memory``, ``bomb``, ``validation``, ``drift``, ``controlreads``) measures and reads its figures and
hands back ``Section`` values through a ``Part``; ``benchmarks/__main__.py`` lists the parts in order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .common import ROOT, cleanup_on_sigterm, load_average, package_version

DESCRIPTION = (
    "run every benchmark once, print each figure beside its baseline, and write the run to benchmarks/RESULTS.md"
)
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
# A quick run checks the harness; its figures are meaningless, so it never replaces the committed ones.
QUICK_RESULTS = ROOT / ".venv" / "bench-quick" / "RESULTS.md"
PACKAGES = ("mock-sprinto", "aiohttp", "orjson", "jsonschema_rs", "jsonschema", "pytest", "py-spy", "pyinstrument")


@dataclass(frozen=True)
class Scale:
    """How much of each benchmark to run: ``full`` for ``make bench``, ``quick`` for the smoke test."""

    duration: float = 3.0
    warmup: float = 0.5
    rounds: int = 2
    concurrencies: tuple[int, ...] = (1, 16, 64)
    throughput_clients: int = 16
    startup_trials: int = 5
    fixture_pairs: int = 200
    fixture_rounds: int = 3  # pytest processes; the per-test ratio is their median
    fixture_block: int = 50  # one fixture's one-request tests in a row (section 4's blocks)
    fixture_blocks: int = 8  # such blocks of each fixture, alternating, in one pytest process
    memory_pages: int = 10_000
    memory_window: int = 100
    sessions_few: int = 10
    sessions_many: int = 10_000
    sessions_pages: int = 50
    sessions_rounds: int = 5
    bomb_decoded: int = 2**30
    bombs: int = 10
    bare_bombs: int = 2
    validation_budget: float = 8.0
    profile_seconds: float = 3.0
    drift_runs: int = 12
    drift_duration: float = 4.0
    drift_pairs: int = 3  # the aged server's last runs, each beside a new server's first run (section 9)
    busy_requests: int = 10_000  # section 10: a full journal (journal_size's default)
    quick: bool = False  # a harness check: some extra runs are left out


QUICK = Scale(
    duration=0.2,
    warmup=0.05,
    rounds=1,
    concurrencies=(2,),
    throughput_clients=2,
    startup_trials=1,
    fixture_pairs=3,
    fixture_rounds=1,
    fixture_block=3,
    fixture_blocks=2,
    memory_pages=40,
    memory_window=10,
    sessions_few=2,
    sessions_many=20,
    sessions_pages=3,
    sessions_rounds=1,
    bomb_decoded=64 * 2**20,
    bombs=1,
    bare_bombs=0,
    validation_budget=0.4,
    profile_seconds=0.5,
    drift_runs=2,
    drift_duration=0.3,
    drift_pairs=1,
    busy_requests=90,
    quick=True,
)


@dataclass
class Row:
    figure: str
    value: str
    baseline: str
    target: str = "-"
    verdict: str = "-"


@dataclass
class Section:
    number: int
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)  # markdown blocks: profiles, breakdowns
    error: str | None = None

    def add(self, figure: str, value: str, baseline: str, target: str = "-", verdict: str = "-") -> None:
        self.rows.append(Row(figure, value, baseline, target, verdict))


@dataclass(frozen=True)
class Context:
    """What every part of a run is given."""

    scale: Scale
    scratch: Path  # a folder removed when the run ends
    profile: bool = False  # profile the emulator under load even if its target is met


@dataclass(frozen=True)
class Part:
    """One step of the run and the sections it produces (numbers and short titles, for the error
    row it leaves when it fails)."""

    numbers: tuple[int, ...]
    titles: tuple[str, ...]
    run: Callable[[Context], Sequence[Section]]


# ---- figures ---------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def flat(late: float, early: float) -> tuple[str, bool]:
    """The change from ``early`` to ``late``, and whether it is within ±15% ("flat")."""
    change = late / early - 1
    return f"{change:+.0%}", abs(change) <= 0.15


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def us(micros: float) -> str:
    return f"{micros:,.0f} µs" if micros >= 100 else f"{micros:.1f} µs"


def mib(value: float) -> str:
    return f"{value:,.0f} MiB"


# ---- the run ---------------------------------------------------------------------------------
def print_section(section: Section) -> None:
    print(f"\n== {section.number}. {section.title}", flush=True)
    if section.error:
        print(f"   ERROR: {section.error}")
    for row in section.rows:
        target = "" if row.target == "-" else f"   [target {row.target}: {row.verdict.strip('*')}]"
        print(f"   {row.figure}: {row.value}   (baseline: {row.baseline}){target}")
    for note in section.notes:
        print(f"   note: {note}")
    for block in section.detail:
        print("   " + block.replace("\n", "\n   "))
    sys.stdout.flush()


def run_part(part: Part, context: Context, wanted: set[int]) -> list[Section]:
    """The part's wanted sections, printed; one broken benchmark must not hide the others' figures."""
    if not wanted & set(part.numbers):
        return []
    try:
        produced = list(part.run(context))
    except Exception as exc:
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
        produced = [Section(n, t, error=error) for n, t in zip(part.numbers, part.titles, strict=True)]
    kept = [section for section in produced if section.number in wanted]
    for section in kept:
        print_section(section)
    return kept


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text(encoding="utf-8").split()[1])
        memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    commit = (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        or "unknown"
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "mock_sprinto"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{p} {package_version(p)}" for p in PACKAGES),
        "commit": commit + (" (mock_sprinto/ has uncommitted edits)" if dirty else ""),
    }


def render(
    sections: list[Section], info: dict[str, str], load_before: str, load_after: str, seconds: float, quick: bool
) -> str:
    out = [
        "# mock-sprinto benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`); every figure has its baseline from the same run.",
        "Benchmarks are not tests: nothing asserts a timing. How to read them, the profiles behind the",
        "missed targets and the proposed fixes: [ANALYSIS.md](ANALYSIS.md).",
        "",
        f"- date: {info['date']}{' — QUICK smoke run, figures meaningless' if quick else ''}",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['os']}",
        f"- {info['python']}; {info['packages']}",
        f"- code measured: commit {info['commit']}",
        f"- load average (1/5/15 min) before: {load_before}, after: {load_after}; the run took {seconds:.0f} s",
        "- the machine is shared (other engineers' test suites run on the same 2 CPUs), so absolute figures",
        "  move from run to run; ratios measured side by side in the same run are the figures to trust.",
        "",
        "| # | figure | value | baseline (same run) | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for section in sections:
        if section.error:
            out.append(f"| {section.number} | {section.title} | ERROR: {section.error} | | | |")
        for row in section.rows:
            out.append(
                f"| {section.number} | {row.figure} | {row.value} | {row.baseline} | {row.target} | {row.verdict} |"
            )
    for section in sections:
        out += ["", f"## {section.number}. {section.title}", ""]
        if section.error:
            out.append(f"ERROR: {section.error}")
        out += [f"- {note}" for note in section.notes]
        for block in section.detail:
            out += ["", block]
    return "\n".join(out) + "\n"


def main(parts: Sequence[Part], argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the harness, not the speed")
    parser.add_argument("--only", default="", help="comma-separated section numbers to run, e.g. 1,2,7")
    parser.add_argument(
        "--output",
        type=Path,
        help=f"where to write the results (default {RESULTS.relative_to(ROOT)}; "
        f"with --quick {QUICK_RESULTS.relative_to(ROOT)}, so a smoke run never replaces the committed figures)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--profile", action="store_true", help="profile the emulator under load even if the throughput target is met"
    )
    args = parser.parse_args(argv)
    cleanup_on_sigterm()
    scale = QUICK if args.quick else Scale()
    output: Path = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    everything = {number for part in parts for number in part.numbers}
    wanted = {int(item) for item in args.only.split(",") if item.strip()} or everything
    info = machine()
    load_before = load_average()
    print(f"mock-sprinto benchmarks, {info['date']}: {info['nproc']} CPUs ({info['cpu']}), {info['python']}")
    print(f"  {info['packages']}\n  load average before: {load_before}", flush=True)
    started = time.perf_counter()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="mock-sprinto-bench-") as scratch:
        context = Context(scale, Path(scratch), profile=args.profile)
        for part in parts:
            sections += run_part(part, context, wanted)
    seconds = time.perf_counter() - started
    load_after = load_average()
    print(f"\nload average after: {load_after}; {seconds:.0f} s in all", flush=True)
    sections.sort(key=lambda s: s.number)
    if not args.no_write:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render(sections, info, load_before, load_after, seconds, args.quick), encoding="utf-8")
        print(f"written to {output}")
    return 1 if any(section.error for section in sections) else 0
