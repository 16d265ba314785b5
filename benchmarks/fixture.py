"""Section 4, pytest fixture overhead: an empty test with and without the plugin's ``mock_sprinto`` fixture.

One pytest run (a child process, in a scratch folder) holds N pairs of empty tests, one without
and one with the fixture, interleaved so both see the same machine, and beside each pair the
one-request test three ways: with the fixture, with pytest-httpserver (a canned answer), and
against a bare aiohttp app served from a thread as the plugin serves (the floor of an emulator on
aiohttp). The first test that uses the fixture also starts the shared server; it is reported on
its own and left out of the medians. The times are pytest's own (each phase's
``report.duration``: setup + call + teardown, and the whole protocol for the one-request tests),
collected by a conftest.py in the scratch folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .common import median, percentile
from .harness import Context, Part, Section, verdict

PLUGIN_MODULE = "mock_sprinto.pytest_plugin"
TARGET_MS = 0.3  # issue 15's target
PER_TEST_RATIO_TARGET = 1.0  # issue 21: a one-request test costs no more than with pytest-httpserver

# Sums each test's phase durations (float seconds, unlike junitxml's rounded milliseconds).
_CONFTEST = """
import json, os

_times = {}
_problems = []


import resource
import time

import pytest


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    # The whole test as the run pays for it: phases, fixtures, every plugin's report hooks; and the
    # CPU the process spent meanwhile, on every thread (the server's included), read outside the timing.
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    yield
    _whole[item.nodeid] = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    _cpu[item.nodeid] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


_whole = {}
_cpu = {}


def pytest_runtest_logreport(report):
    _times[report.nodeid] = _times.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        _problems.append(report.nodeid + ": " + str(report.longrepr)[-300:])


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_TIMES_FILE"], "w") as handle:
        json.dump({"times": _times, "whole": _whole, "cpu": _cpu, "problems": _problems}, handle)


@pytest.fixture(scope="session")
def bare_aiohttp_server():
    # The floor of an emulator built on aiohttp, as the plugin serves: an aiohttp app on a loop in a
    # thread of the test process, its one route answering a constant.
    import asyncio
    import threading

    from aiohttp import web

    async def start_session(request):
        await request.read()
        return web.json_response({"id": "ses_1", "state": "active"}, status=201)

    loop, ready, state = asyncio.new_event_loop(), threading.Event(), {}

    async def serve():
        app = web.Application()
        app.router.add_post("/sessions", start_session)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        state["url"], state["stop"] = f"http://127.0.0.1:{runner.addresses[0][1]}", asyncio.Event()
        ready.set()
        await state["stop"].wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(30)
    yield state["url"]
    loop.call_soon_threadsafe(state["stop"].set)
    thread.join(30)


@pytest.fixture
def bare_aiohttp(bare_aiohttp_server):
    return bare_aiohttp_server
"""


def plugin_arguments() -> list[str] | None:
    """pytest arguments that load the plugin, or None while it is not installed."""
    if importlib.util.find_spec(PLUGIN_MODULE) is None:
        return None
    registered = any(ep.value.split(":")[0] == PLUGIN_MODULE for ep in entry_points(group="pytest11"))
    return [] if registered else ["-p", PLUGIN_MODULE]


# One request a test: start a session. The same test with pytest-httpserver answers a canned
# 201; with the fixture the emulator answers it (checks, state, journal) and judges the test.
_ONE_REQUEST = """
import json
import urllib.request


def start(url, headers):
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201
        return json.loads(answer.read())
"""
_CANNED = {"id": "ses_1", "state": "active"}


def mock_goes_first(group: int) -> bool:
    """Whether group ``group`` of ``_test_file`` runs the fixture's one-request test before
    pytest-httpserver's (half the groups each way)."""
    return group % 2 == 0


def _test_file(pairs: int, httpserver: bool) -> str:
    """``pairs`` groups: the empty test without and with the fixture, the one-request test with the
    fixture and with pytest-httpserver, which of the two goes first alternating from group to group,
    then the one against the bare aiohttp app. The one-request test that comes second runs with the
    client's code (urllib, http.client, the socket) just warmed by the first: in a fixed order that
    favours the second by ~5 % (callgrind's cycle estimate, benchmarks/ANALYSIS.md, 2026-12-06)."""
    blocks = []
    for n in range(pairs):
        requests = [_one_request_test("mock_sprinto", f"test_{n:05d}_mockreq")]
        if httpserver:
            requests.append(_one_request_test("pytest-httpserver", f"test_{n:05d}_httpserverreq"))
        blocks.append(
            f"def test_{n:05d}_without():\n    pass\n\n\ndef test_{n:05d}_with(mock_sprinto):\n    pass\n\n\n"
            + "\n\n".join(requests[:: 1 if mock_goes_first(n) else -1])
            + "\n\n"
            + _one_request_test("bare aiohttp", f"test_{n:05d}_barereq")
        )
    return _ONE_REQUEST + "\n\n" + "\n\n".join(blocks)


def _one_request_test(kind: str, name: str) -> str:
    """The one-request test with ``kind``'s fixture (``mock_sprinto``, ``pytest-httpserver`` or
    ``bare aiohttp``: the timing conftest's)."""
    if kind == "mock_sprinto":
        return (
            f"def {name}(mock_sprinto):\n    start(mock_sprinto.integration_url + '/sessions', mock_sprinto.headers)\n"
        )
    if kind == "bare aiohttp":
        return f"def {name}(bare_aiohttp):\n    start(bare_aiohttp + '/sessions', {{'api-key': 'k'}})\n"
    return (
        f"def {name}(httpserver):\n"
        f"    httpserver.expect_request('/sessions', method='POST').respond_with_json({_CANNED!r}, status=201)\n"
        f"    start(httpserver.url_for('/sessions'), {{'api-key': 'k'}})\n"
    )


def _pytest_times(
    test_file: str,
    loader: list[str],
    timeout: float,
    *,
    prefix: Sequence[str] = (),
    conftest_extra: str = "",
    env_extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``test_file`` in a pytest process of its own (a scratch folder with the timing conftest,
    and ``conftest_extra`` after it; the process run under ``prefix``, e.g. valgrind): what the
    conftest recorded, or ``{"skipped": why}``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCK_SPRINTO_", "PYTEST_"))}
    env.update(env_extra or {})
    with tempfile.TemporaryDirectory(prefix="mock-sprinto-bench-") as scratch:
        folder = Path(scratch)
        (folder / "pytest.ini").write_text(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
        )
        (folder / "conftest.py").write_text(_CONFTEST + conftest_extra, encoding="utf-8")
        (folder / "test_overhead.py").write_text(test_file, encoding="utf-8")
        env["BENCH_TIMES_FILE"] = str(folder / "times.json")
        argv = [
            *prefix,
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *loader,
            "--rootdir",
            str(folder),
            "-c",
            str(folder / "pytest.ini"),
            str(folder / "test_overhead.py"),
        ]
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        try:
            found: dict[str, Any] = json.loads((folder / "times.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"skipped": f"pytest recorded no times (exit {done.returncode}): {done.stdout[-500:]}"}
    if found["problems"]:
        return {"skipped": f"the fixture did not work here: {found['problems'][:2]}"}
    return found


BLOCK_WARMUP = 5  # the first tests of a block, while its fixture's code comes back into the caches


def run_blocks(block: int, blocks: int, timeout: float = 300.0) -> dict[str, Any]:
    """The one-request test as a suite holds it: ``blocks`` runs of ``block`` tests of one fixture,
    the two fixtures alternating (which goes first alternates too), in one pytest process. The
    median whole-test time of each (ms), each block's first ``BLOCK_WARMUP`` tests left out."""
    loader = plugin_arguments()
    if loader is None or importlib.util.find_spec("pytest_httpserver") is None:
        return {"skipped": "the plugin or pytest-httpserver is not installed"}
    tests = []
    for number in range(blocks):
        for kind in ("mock_sprinto", "pytest-httpserver")[:: 1 if number % 2 == 0 else -1]:
            tag = "m" if kind == "mock_sprinto" else "h"
            tests += [_one_request_test(kind, f"test_{number:03d}_{tag}{each:04d}") for each in range(block)]
    found = _pytest_times(_ONE_REQUEST + "\n\n" + "\n\n".join(tests), loader, timeout)
    if "skipped" in found:
        return found
    times: dict[str, list[float]] = {"m": [], "h": []}
    for name, seconds in found["whole"].items():
        tag, each = name[-5], int(name[-4:])
        if each >= min(BLOCK_WARMUP, block - 1):
            times[tag].append(seconds * 1000)
    if not times["m"] or not times["h"]:
        return {"skipped": "no tests ran"}
    return {"mock_sprinto": median(times["m"]), "pytest-httpserver": median(times["h"]), "tests": len(times["m"])}


def run(pairs: int, timeout: float = 300.0) -> dict[str, Any]:
    loader = plugin_arguments()
    if loader is None:
        return {"skipped": "plugin not installed"}
    httpserver = importlib.util.find_spec("pytest_httpserver") is not None
    found = _pytest_times(_test_file(pairs, httpserver), loader, timeout)
    if "skipped" in found:
        return found
    with_fixture = [t * 1000 for name, t in found["times"].items() if name.endswith("_with")]
    without = [t * 1000 for name, t in found["times"].items() if name.endswith("_without")]
    if not with_fixture or not without:
        return {"skipped": "no tests ran"}
    first, rest = with_fixture[0], with_fixture[1:] or with_fixture

    def medians(suffix: str, measure: str = "whole") -> dict[str, float] | None:
        times = [t * 1000 for name, t in found[measure].items() if name.endswith(suffix)][1:]
        return {"median": median(times), "p90": percentile(times, 90)} if times else None

    return {
        "one_request_ms": {
            "empty test": medians("_without"),
            "mock_sprinto": medians("_mockreq"),
            "pytest-httpserver": medians("_httpserverreq"),
            "bare aiohttp": medians("_barereq"),
        },
        "one_request_cpu_ms": {
            "mock_sprinto": medians("_mockreq", "cpu"),
            "pytest-httpserver": medians("_httpserverreq", "cpu"),
        },
        "pairs": pairs,
        "first_with_ms": first,
        "with_ms": {"median": median(rest), "p90": percentile(rest, 90)},
        "without_ms": {"median": median(without), "p90": percentile(without, 90)},
        "overhead_ms": median(rest) - median(without),
        "how": " ".join(["python -m pytest", *loader]) + " (interleaved pairs; setup + call + teardown)",
    }


def _ratio(result: dict[str, Any]) -> float | None:
    one = result.get("one_request_ms") or {}
    mock, canned = one.get("mock_sprinto"), one.get("pytest-httpserver")
    return None if mock is None or canned is None else float(mock["median"] / canned["median"])


def section(context: Context) -> Section:
    out = Section(4, "pytest fixture overhead per test (`mock_sprinto`)")
    # One pytest process's ratio moves with the machine by more than the gap it measures (1.06-1.14
    # within an hour): several processes, and the figures of the one whose ratio is the median.
    results = [run(context.scale.fixture_pairs) for _ in range(max(1, context.scale.fixture_rounds))]
    result = (
        next((each for each in results if "skipped" in each), None)
        or sorted(results, key=lambda each: _ratio(each) or 0.0)[len(results) // 2]
    )
    ratios = [ratio for ratio in map(_ratio, results) if ratio is not None]
    if "skipped" in result:
        out.add("overhead per test", f"skipped: {result['skipped']}", "-", f"≤ {TARGET_MS} ms", "-")
        return out
    overhead = result["overhead_ms"]
    out.add(
        "empty test with the fixture (median)",
        f"{result['with_ms']['median']:.2f} ms",
        f"without {result['without_ms']['median']:.2f} ms",
    )
    out.add("overhead per test", f"{overhead:.2f} ms", "0 = free", f"≤ {TARGET_MS} ms", verdict(overhead <= TARGET_MS))
    out.add(
        "first test using it (starts the shared server)",
        f"{result['first_with_ms']:.0f} ms",
        "once per test session (per xdist worker)",
    )
    one = result["one_request_ms"]
    mock, canned, empty = one["mock_sprinto"], one["pytest-httpserver"], one["empty test"]
    if mock is not None and canned is not None and empty is not None:
        ratio = mock["median"] / canned["median"]
        out.add(
            "a test that starts a session (one request), whole test (median)",
            f"{mock['median']:.2f} ms with `mock_sprinto` (p90 {mock['p90']:.2f})",
            f"pytest-httpserver, a canned 201: {canned['median']:.2f} ms (p90 {canned['p90']:.2f}); "
            f"empty test {empty['median']:.2f} ms",
        )
        _ratio_row(out, "per-test cost, both fixtures' tests interleaved in one pytest process", ratio, ratios)
        mock_cpu, canned_cpu = (
            result["one_request_cpu_ms"]["mock_sprinto"],
            result["one_request_cpu_ms"]["pytest-httpserver"],
        )
        if mock_cpu is not None and canned_cpu is not None:
            # The wall time less this CPU is what no thread spent working (waits, hand-overs): the
            # same for both in 2026-12-06's runs, so the gap was CPU for the same instructions.
            out.add(
                "the same tests' CPU, every thread of the process (median)",
                f"{mock_cpu['median']:.2f} ms with `mock_sprinto`, "
                f"{mock_cpu['median'] / canned_cpu['median']:.2f} of pytest-httpserver's",
                f"pytest-httpserver {canned_cpu['median']:.2f} ms",
            )
        floor = one.get("bare aiohttp")
        if floor is not None:
            out.add(
                "the same test against a bare aiohttp app in a thread (the floor of an emulator built on aiohttp)",
                f"{floor['median']:.2f} ms, {floor['median'] / canned['median']:.2f} of pytest-httpserver's",
                f"`mock_sprinto` {mock['median'] / floor['median']:.2f}× the floor: the emulator's own work a test",
            )
        _block_rows(out, context)
    elif canned is None:
        out.add("per-test cost beside pytest-httpserver", "skipped: pytest-httpserver not installed", "-")
    out.notes.append(
        "one-request tests: the whole test as the run pays for it (pytest_runtest_protocol, every "
        "plugin's hooks included), the three kinds interleaved in one pytest process, which of the two fixtures' "
        "tests goes first alternating from group to group; the first of each left out."
    )
    out.notes.append(
        f"{result['pairs']} interleaved pairs in each pytest process (the figures: the median one's); p90 with "
        f"{result['with_ms']['p90']:.2f} ms, without {result['without_ms']['p90']:.2f} ms."
    )
    return out


def _ratio_row(out: Section, figure: str, ratio: float, ratios: list[float]) -> None:
    """The per-test ratio judged against issue 21's target, each pytest process's beside it."""
    by_round = f" (median of {len(ratios)} pytest processes: {', '.join(f'{r:.2f}' for r in ratios)})"
    out.add(
        figure,
        f"{ratio:.2f}" + (by_round if len(ratios) > 1 else ""),
        "1.00 = as cheap as a canned answer",
        f"≤ {PER_TEST_RATIO_TARGET:.1f}",
        verdict(ratio <= PER_TEST_RATIO_TARGET),
    )


def _block_rows(out: Section, context: Context) -> None:
    """The same test as a suite holds it: blocks of one fixture's tests (``run_blocks``)."""
    scale = context.scale
    results = [run_blocks(scale.fixture_block, scale.fixture_blocks) for _ in range(max(1, scale.fixture_rounds))]
    skipped = next((each for each in results if "skipped" in each), None)
    if skipped is not None:
        out.add("per-test cost, in blocks of one fixture's tests", f"skipped: {skipped['skipped']}", "-")
        return
    # The figures of the pytest process whose ratio is the median, as for the interleaved rows.
    ratios = sorted((each["mock_sprinto"] / each["pytest-httpserver"], number) for number, each in enumerate(results))
    ratio, median_one = ratios[len(ratios) // 2]
    mock, canned = results[median_one]["mock_sprinto"], results[median_one]["pytest-httpserver"]
    out.add(
        f"the same test in blocks of {scale.fixture_block} of one fixture's tests, alternating (median)",
        f"{mock:.2f} ms with `mock_sprinto`",
        f"pytest-httpserver {canned:.2f} ms ({results[median_one]['tests']} tests of each)",
    )
    _ratio_row(out, "per-test cost, in blocks of one fixture's tests", ratio, [each for each, _ in ratios])
    out.notes.append(
        "interleaved test by test, each fixture's test runs right after the other's code went through the CPU's "
        "caches; a suite runs one fixture's tests one after another, which the blocks measure, in one pytest "
        "process (separate processes differ by ±15 % from one to the next): benchmarks/ANALYSIS.md, 2026-12-05 noon."
    )


PART = Part((4,), ("pytest fixture overhead",), lambda context: [section(context)])


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100)))
