"""Instructions per push, counted by valgrind (``python -m benchmarks.instructions``): the one
figure of the hot path that other work on a shared 2-core machine cannot move.

Each configuration runs ``benchmarks.stack`` (a push through the whole HTTP stack, no socket)
under callgrind twice, with two different numbers of pushes; the difference of the two totals,
divided by the difference of the pushes, is what one more push costs, start-up and warm-up
cancelled out. Instructions are not time (a cache miss costs many), so this complements the
timed sections rather than replacing them; it is how ``benchmarks/ANALYSIS.md`` splits a push
into its parts. Needs ``valgrind`` on the PATH; one to two minutes per configuration.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--pushes", type=int, default=200, help="the extra pushes of the longer run")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
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
