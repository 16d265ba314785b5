"""Instructions per push, counted by valgrind (``python -m benchmarks.instructions``): the one
figure of the hot path that other work on a shared 2-core machine cannot move.

Each configuration runs ``benchmarks.stack`` (a push through the whole HTTP stack, no socket)
under callgrind twice, with two different numbers of pushes; the difference of the two totals,
divided by the difference of the pushes, is what one more push costs, start-up and warm-up
cancelled out. Instructions are not time (a cache miss costs many), so this complements the
timed sections rather than replacing them; it is how ``benchmarks/ANALYSIS.md`` splits a push
into its parts. Needs ``valgrind`` on the PATH; one to two minutes per configuration.

``--per-test`` counts section 4's one-request test instead (``per_test``): the interleaved pytest
file of ``benchmarks.fixture``, run once under callgrind with its caches and branch predictors
simulated, split test by test. Interleaved, what a test costs depends on what ran before it, which
instructions alone miss; the simulated misses give callgrind's cycle estimate, which a shared
machine cannot move either.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from . import fixture
from .common import ROOT

# name: (server kind, emulator settings)
CONFIGURATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "bare aiohttp + orjson app": ("bare", {}),
    "the same app with the emulator's schema verdict (section 1's ceiling)": ("validating", {}),
    "emulator, defaults": ("emulator", {}),
    "emulator, duplicate_names=last_wins": ("emulator", {"duplicate_names": "last_wins"}),
}


def instructions(kind: str, settings: dict[str, str], pushes: int) -> int:
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    argv += ["-m", "benchmarks.stack", kind, "--pushes", str(pushes), "--rounds", "1"]
    for name, value in settings.items():
        argv += ["--setting", f"{name}={value}"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts, run after run
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed: {done.stderr[-1500:]}")
    return int(found.group(1))


# ---- section 4's one-request test, split test by test ------------------------------------------
# callgrind dumps its counts when the program asks (a client request, which only C can make: a
# one-function library built here from valgrind's own header). Every test's start dumps what ran
# since the previous test's start, labelled with that test, so each test is counted with whatever
# its threads did until the next one began (the server's lingering work on its connection
# included), and with the cache and predictor state the previous test left.
_DUMP_SHIM = """#include <valgrind/callgrind.h>
void dump_counts(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""
_DUMP_HOOK = """

import ctypes as _ctypes
import os as _os

_shim = _ctypes.CDLL(_os.environ["BENCH_CALLGRIND_SHIM"])
_counted = [b"start"]


def pytest_runtest_logstart(nodeid, location):
    _shim.dump_counts(_counted[0])
    _counted[0] = nodeid.rsplit("::", 1)[-1].encode()
"""
PER_TEST_WARMUP_GROUPS = 5  # the first groups of the file, while every kind's code comes into the caches
# KCachegrind's cycle estimate: an instruction a cycle, 10 for a first-level miss or a mispredicted
# branch, 100 for a last-level miss.
_CYCLES = {"Ir": 1, "I1mr": 10, "D1mr": 10, "D1mw": 10, "ILmr": 100, "DLmr": 100, "DLmw": 100, "Bcm": 10, "Bim": 10}
PER_TEST_KINDS = {
    "without": "the empty test",
    "with": "the empty test with the fixture",
    "mockreq": "one request, `mock_sprinto`",
    "httpserverreq": "one request, pytest-httpserver (a canned 201)",
    "barereq": "one request, a bare aiohttp app in a thread",
}


def _dump_totals(folder: Path) -> dict[str, list[dict[str, int]]]:
    """Each dump's totals by the label it was taken with."""
    found: dict[str, list[dict[str, int]]] = defaultdict(list)
    for path in sorted(folder.glob("counts.*"), key=lambda each: int(each.suffix[1:])):
        text = path.read_text(encoding="utf-8", errors="replace")
        label = re.search(r"^desc: Trigger: Client Request: (\S+)$", text, re.M)
        events = re.search(r"^events: (.+)$", text, re.M)
        totals = re.search(r"^(?:totals|summary): (.+)$", text, re.M)
        if label and events and totals:
            # A totals line may stop early: the events after its last figure are zero.
            counts = zip(events.group(1).split(), map(int, totals.group(1).split()), strict=False)
            found[label.group(1)].append(dict(counts))
    return found


def per_test(pairs: int, timeout: float = 3600.0) -> dict[str, dict[str, float]] | str:
    """Section 4's file under callgrind: for each kind of test (and for the two one-request tests,
    each order), its mean instructions and cycle estimate; or why it could not run."""
    loader = fixture.plugin_arguments()
    compiler = shutil.which("cc") or shutil.which("gcc")
    if loader is None or compiler is None:
        return "needs the plugin installed and a C compiler (for the dump shim)"
    with tempfile.TemporaryDirectory(prefix="mock-sprinto-counts-") as scratch:
        folder = Path(scratch)
        (folder / "shim.c").write_text(_DUMP_SHIM, encoding="utf-8")
        built = subprocess.run(
            [compiler, "-O2", "-shared", "-fPIC", "-o", str(folder / "shim.so"), str(folder / "shim.c")],
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            return f"the dump shim did not build (valgrind's header missing?): {built.stderr[-300:]}"
        prefix = ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--branch-sim=yes"]
        prefix += [f"--callgrind-out-file={folder / 'counts'}"]
        found = fixture._pytest_times(
            fixture._test_file(pairs, True),
            loader,
            timeout,
            prefix=prefix,
            conftest_extra=_DUMP_HOOK,
            env_extra={"BENCH_CALLGRIND_SHIM": str(folder / "shim.so"), "PYTHONHASHSEED": "0"},
        )
        if "skipped" in found:
            return str(found["skipped"])
        dumps = _dump_totals(folder)
    return per_test_figures(dumps)


def per_test_figures(dumps: dict[str, list[dict[str, int]]]) -> dict[str, dict[str, float]]:
    """Mean instructions and cycle estimate of each kind of test (named as ``test_GROUP_KIND``),
    the first ``PER_TEST_WARMUP_GROUPS`` groups left out; the two one-request tests also by order."""
    figures: dict[str, dict[str, float]] = {}
    for label, rows in dumps.items():
        group, _, kind = label.partition("_")[2].partition("_")
        if not group.isdigit() or int(group) < PER_TEST_WARMUP_GROUPS:
            continue
        keys = [kind]
        if kind in ("mockreq", "httpserverreq"):
            first = fixture.mock_goes_first(int(group)) == (kind == "mockreq")
            keys.append(f"{kind} {'first' if first else 'second'}")
        for key in keys:
            for row in rows:
                sums = figures.setdefault(key, {"tests": 0.0, "Ir": 0.0, "cycles": 0.0})
                sums["tests"] += 1
                sums["Ir"] += row.get("Ir", 0)
                sums["cycles"] += sum(row.get(event, 0) * weight for event, weight in _CYCLES.items())
    return {
        key: {"tests": sums["tests"], "Ir": sums["Ir"] / sums["tests"], "cycles": sums["cycles"] / sums["tests"]}
        for key, sums in figures.items()
    }


def print_per_test(pairs: int) -> int:
    figures = per_test(pairs)
    if isinstance(figures, str):
        print(f"per-test count skipped: {figures}", file=sys.stderr)
        return 2
    print(f"section 4's file, {pairs} groups ({PER_TEST_WARMUP_GROUPS} left out), a test from its start to the next's:")
    for kind, name in PER_TEST_KINDS.items():
        for key in (kind, f"{kind} first", f"{kind} second"):
            if key in figures:
                each = figures[key]
                label = name + (f", {key.split()[1]} of the two" if " " in key else "")
                instructions, cycles = each["Ir"] / 1000, each["cycles"] / 1000
                print(f"  {label}: {instructions:,.0f} k instructions, {cycles:,.0f} k cycles (estimated)")
    mock, canned = figures.get("mockreq"), figures.get("httpserverreq")
    if mock and canned:
        print(
            f"  per-test ratio, mock_sprinto / pytest-httpserver: {mock['Ir'] / canned['Ir']:.3f} in instructions, "
            f"{mock['cycles'] / canned['cycles']:.3f} in estimated cycles"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--pushes", type=int, default=200, help="the extra pushes of the longer run")
    parser.add_argument(
        "--per-test",
        type=int,
        metavar="GROUPS",
        help="count section 4's one-request test instead, in a file of GROUPS groups (40 is enough)",
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    if args.per_test:
        return print_per_test(args.per_test)
    base: int | None = None
    for name, (kind, settings) in CONFIGURATIONS.items():
        # With --rounds 1 a run pushes its count twice (a warm-up round, then the measured one), so
        # the longer run makes 2 * pushes more pushes than the shorter.
        extra = instructions(kind, settings, 20 + args.pushes) - instructions(kind, settings, 20)
        per_push = extra / (2 * args.pushes)
        base = base or int(per_push)
        print(f"{name}: {per_push / 1000:,.0f} k instructions per push (× {per_push / base:.2f} of the first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
