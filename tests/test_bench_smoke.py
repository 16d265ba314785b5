"""The benchmark harness still runs: tiny counts, no timing asserted (benchmarks are not tests)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from benchmarks import controlreads, fixture
from benchmarks.common import health_port, page_bytes, percentile
from benchmarks.harness import Row, Section, render

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_prints_every_figure(tmp_path: Path) -> None:
    # Start-up (3) and the pytest fixture run (4) start whole interpreters; `make bench ARGS=--quick`
    # covers them. Everything else runs end to end here: servers, load client, bomb, in-process.
    output = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "1,2,5,6,7,8", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    for figure in (
        "ratio emulator / bare",
        "p50 / p99",
        "RSS after applying",
        "push_page, pages",
        "time to answer the bomb (64 MiB",
        "check_page (jsonschema-rs",
        "the emulator against the app that also validates",
    ):
        assert figure in text, figure
    assert "ERROR" not in text
    assert "(413;" in text  # the emulator refused the bomb


def test_pages_are_the_documented_size_and_valid_json() -> None:
    import orjson

    raw = page_bytes(1)
    body = orjson.loads(raw)
    assert 29_000 < len(raw) < 33_000
    assert [r["employeeId"] for r in body["entities"]["User"]][:2] == ["E1", "E2"]
    assert len({r["workEmail"] for r in body["entities"]["User"]}) == 100


def test_small_pieces() -> None:
    assert health_port("  control    http://127.0.0.1:43121/_mock/health") == 43121
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0
    assert fixture.plugin_arguments() is not None  # the plugin is installed in the test environment
    section = Section(9, "demo", rows=[Row("a figure", "1 ms", "2 ms", "< 5 ms", "met")], notes=["a note"])
    text = render(
        [section],
        {
            "date": "d",
            "nproc": "2",
            "cpu": "c",
            "memory": "m",
            "os": "o",
            "python": "p",
            "packages": "x 1",
            "commit": "abc",
        },
        "0 / 0 / 0",
        "0 / 0 / 0",
        1.0,
        quick=True,
    )
    assert "| 9 | a figure | 1 ms | 2 ms | < 5 ms | met |" in text


def test_the_soak_holds_rss_to_the_factor_the_docs_state() -> None:
    """Issue 22: RSS stays within a stated factor of the memory budget; the soak fails past the
    factor docs/robustness.md states, so the two cannot drift apart."""
    from benchmarks import soak  # here: importing it builds nothing, but only this test needs it

    text = (ROOT / "docs" / "robustness.md").read_text(encoding="utf-8")
    stated = re.search(r"within about \*\*([\d.]+)× the budget\*\*", text)
    assert stated is not None
    assert float(stated.group(1)) == soak.RSS_FACTOR


def _watched(main: Callable[[], Coroutine[Any, Any, None]]) -> dict[str, Any]:
    """What the loop watch reports of ``asyncio.run(main())``, the loop put back after."""
    from benchmarks.loopwatch import Watch

    watch = Watch()
    uninstall = watch.install()
    try:
        asyncio.run(main())
    finally:
        uninstall()
    return watch.report()


def test_the_loop_watch_times_each_step_by_its_cpu() -> None:
    """The soak's verdict on "no step over 100 ms" rests on this: a step that spins ~30 ms of CPU
    is reported as such, with what it ran; a step that sleeps in a thread is not work."""
    import time

    def spin() -> None:
        until = time.thread_time() + 0.03
        while time.thread_time() < until:
            pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(spin)
        await asyncio.sleep(0.01)
        await loop.run_in_executor(None, time.sleep, 0.05)  # the loop waits, its thread does nothing

    report = _watched(main)
    longest = report["longest"][0]
    assert 25 <= longest["cpu_ms"] <= longest["wall_ms"] + 1
    assert "spin" in longest["what"]
    assert all(step["cpu_ms"] < 20 for step in report["longest"][1:])
    text = (ROOT / "docs" / "robustness.md").read_text(encoding="utf-8")
    from benchmarks import soak

    assert f"more than {soak.SLOW_STEP_MS:.0f} ms of CPU" in " ".join(text.split())  # the soak's bound, as stated


def test_the_loop_watch_says_how_much_of_a_step_the_collector_took() -> None:
    """A long step may be a collection landing in it, not the code it names: the soak's longest
    steps show the collector's share, and its passes are counted by generation."""
    import gc

    def collect_a_large_heap() -> None:
        held = [[index] for index in range(300_000)]  # tracked objects a full pass walks
        gc.disable()  # so that no younger pass frees them first
        for _ in range(1_000):  # and garbage only a collection frees: lists that hold themselves
            cycle: list[object] = []
            cycle.append(cycle)
        del cycle  # the last one too
        gc.enable()
        gc.collect()
        del held

    async def main() -> None:
        asyncio.get_running_loop().call_soon(collect_a_large_heap)
        await asyncio.sleep(0.01)

    callbacks = list(gc.callbacks)
    report = _watched(main)
    assert gc.callbacks == callbacks  # put back
    step = next(each for each in report["longest"] if "collect_a_large_heap" in each["what"])
    assert 0 < step["gc_ms"] <= step["wall_ms"]
    collections = report["collections"]
    assert collections["by_generation"][2] >= 1
    full = [each for each in collections["longest"] if each["generation"] == 2]
    assert full and full[0]["ms"] <= step["wall_ms"]
    assert max(each["collected"] for each in full) >= 1_000  # what it freed, apart from what it walked


def test_the_garbage_census_names_what_the_collector_freed(tmp_path: Path) -> None:
    """``soak --garbage``: what each generation's passes found unreachable, an exception by its
    message and a frame by its function (how issue 21 found the body deadline's cycle)."""
    import gc

    from benchmarks.loopwatch import GarbageCensus

    def held_by_its_own_frame() -> None:
        try:
            raise ValueError("kept by its traceback")
        except ValueError as error:
            kept = error  # the frame holds the error, the error's traceback the frame: a cycle
            assert kept

    census = GarbageCensus()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.callbacks.append(census)
    try:
        held_by_its_own_frame()
        gc.collect()
    finally:
        gc.callbacks.remove(census)
        gc.set_debug(0)
        gc.garbage.clear()
    census.write(str(tmp_path / "census.txt"))
    text = (tmp_path / "census.txt").read_text(encoding="utf-8")
    assert "generation 2: 1 passes" in text
    assert "ValueError: 'kept by its traceback'" in text
    assert "frame held_by_its_own_frame (test_bench_smoke.py:" in text


def test_the_gc_log_keeps_no_python_object_per_collection() -> None:
    """Section 9 compares an aged server's RSS after a reset with a fresh one's. A tuple and two
    floats kept per collection, made all through the runs, held nearly every pymalloc arena the
    aged server had used (issue 21): the log keeps C doubles instead, in the same JSON shape."""
    import gc

    from benchmarks.servers import GcLog

    log = GcLog()
    gc.collect()
    before = sys.getallocatedblocks()
    for number in range(3_000):
        log("start", {"generation": number % 3})
        log("stop", {"generation": number % 3, "collected": number})
    assert sys.getallocatedblocks() - before < 20
    pauses = log.pauses()
    assert len(pauses) == 3_000 and pauses[4][1] == 1 and pauses[4][2] >= 0.0


def test_the_soak_timeline_shows_cpu_per_answer_window_by_window(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 21 ("steady for hours"): a long soak prints the run in windows, so a server whose CPU
    per answer climbs, or whose RSS grows, shows it between the first window and the last."""
    from benchmarks import soak

    soak.print_timeline(
        [
            soak.Window(ended=600.0, requests=300_000, hostile=0, cpu=150.0, rss_mib=60.0),
            soak.Window(ended=1200.0, requests=300_000, hostile=0, cpu=165.0, rss_mib=61.5),
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert "10:00     500/s (   0/s)    25% of a core     500 µs    60.0 MiB" in lines[1]
    assert "20:00     500/s (   0/s)    28% of a core     550 µs    61.5 MiB" in lines[2]
    assert lines[3].strip() == "CPU per answer, last window against the first: +10.0%"
    soak.print_timeline([])  # a run too short for one window prints none
    assert capsys.readouterr().out == ""


def test_the_soak_refuses_a_run_past_four_hours() -> None:
    from benchmarks import soak

    with pytest.raises(SystemExit) as refused:  # argparse's usage error: nothing was started
        soak.main(["--duration", str(soak.MAX_DURATION + 1)])
    assert refused.value.code == 2


def test_section_4s_blocks_time_each_fixtures_tests_apart() -> None:
    # Two blocks of three tests of each fixture in one pytest process: each block's first two are
    # warm-up (BLOCK_WARMUP is cut to a block's length less one), the third of each counted.
    # pytest-httpserver comes with the bench extra (`make bench`), not with `make test`'s.
    pytest.importorskip("pytest_httpserver")
    result = fixture.run_blocks(3, 2)
    assert set(result) == {"mock_sprinto", "pytest-httpserver", "tests"}, result
    assert result["tests"] == 2
    assert result["mock_sprinto"] > 0 and result["pytest-httpserver"] > 0


def test_section_4_times_the_one_request_test_against_a_bare_aiohttp_floor_too() -> None:
    """The floor beside the two fixtures: what any emulator served by aiohttp from a thread pays
    for the test, so the section can say how much of the mock's cost is its own work."""
    result = fixture.run(3)
    assert "skipped" not in result, result
    one = result["one_request_ms"]
    assert one["mock_sprinto"]["median"] > 0 and one["bare aiohttp"]["median"] > 0, one
    cpu = result["one_request_cpu_ms"]["mock_sprinto"]  # every thread's CPU, the server's included
    assert cpu is not None and 0 < cpu["median"], result["one_request_cpu_ms"]


def test_a_soak_stopped_by_sigterm_leaves_no_server_or_prober_behind() -> None:
    """``kill`` (or a cancelled CI job) on a soak: its server, under load, and its health prober
    outlived it before (Python's default SIGTERM skips every ``finally``)."""
    soak = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.soak", "--duration", "60", "--clients", "2", "--no-hostile"],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its children share its process group, which outlives it
    )
    group = soak.pid
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _started(_group_members(group)):
            time.sleep(0.2)
        assert _started(_group_members(group)), "the soak did not start its server and its health prober"
        soak.send_signal(signal.SIGTERM)
        assert soak.wait(timeout=30) == 143
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _group_members(group):
            time.sleep(0.2)
        assert _group_members(group) == {}, "left running after the soak ended"
        assert "stopped by SIGTERM" in (soak.stderr.read() if soak.stderr else "")
    finally:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        soak.wait(timeout=10)


def _started(members: dict[int, str]) -> bool:
    """The soak's server (run under its loop watch) and its health prober are both up."""
    return any("benchmarks.loopwatch" in line for line in members.values()) and any(
        "/_mock/health" in line for line in members.values()
    )


def _group_members(group: int) -> dict[int, str]:
    """The live processes of a process group and their command lines (read from /proc: pgrep is
    not everywhere)."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # (state, ppid, pgrp, ...); zombies are gone
            try:
                members[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
    return members


def test_a_health_prober_that_dies_is_a_problem_of_the_run_not_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prober killed half-way (it was, by a too-broad ``pkill``) ended a 110-minute soak with a
    traceback and none of its figures; the run now goes on and fails on the problem it names."""
    from benchmarks import soak

    monkeypatch.setattr(soak, "PROBER", "import sys; sys.exit(3)")
    hostile = soak.Hostile()
    asyncio.run(soak.health_prober("http://127.0.0.1:9", hostile, time.monotonic() + 1))
    assert hostile.health_failures == 1
    assert hostile.problems == ["the health prober ended without its figures (exit 3)"]


def test_section_4_alternates_which_one_request_test_goes_first() -> None:
    """The second of the two runs with the client's code just warmed by the first: a fixed order
    favoured one fixture (benchmarks/ANALYSIS.md, 2026-12-06), so each order has half the groups."""
    names = re.findall(r"^def (test_\w+)\(", fixture._test_file(4, True), re.M)
    requests = [name.split("_")[-1] for name in names if name.endswith(("_mockreq", "_httpserverreq"))]
    assert requests == ["mockreq", "httpserverreq", "httpserverreq", "mockreq"] * 2
    assert len(names) == 4 * 5  # each group: both empty tests, both one-request tests, the bare floor


def test_the_per_test_count_reads_callgrinds_dumps_and_splits_them_by_kind_and_order(tmp_path: Path) -> None:
    from benchmarks import instructions

    events = "Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim"
    dumps = {  # a dump's totals stop at its last non-zero figure
        1: ("test_00006_mockreq", "1000 0 0 10 0 0 1"),  # an even group: the fixture's test first
        2: ("test_00006_httpserverreq", "900"),
        3: ("test_00007_httpserverreq", "800"),
        4: ("test_00007_mockreq", "1200 0 0 0 0 0 0 0 0 0 2 0 3"),
        5: ("test_00000_mockreq", "99999"),  # a warm-up group: left out
        6: ("start", "5"),
    }
    for number, (label, totals) in dumps.items():
        (tmp_path / f"counts.{number}").write_text(
            f"version: 1\ndesc: Trigger: Client Request: {label}\nevents: {events}\nsummary: {totals}\n"
        )
    figures = instructions.per_test_figures(instructions._dump_totals(tmp_path))
    assert figures["mockreq"] == {"tests": 2, "Ir": 1100, "cycles": (1000 + 100 + 100 + 1200 + 20 + 30) / 2}
    assert figures["mockreq first"]["Ir"] == 1000 and figures["mockreq second"]["Ir"] == 1200
    assert figures["httpserverreq first"]["Ir"] == 800 and figures["httpserverreq second"]["Ir"] == 900
    assert figures["httpserverreq"]["cycles"] == 850
    assert set(figures) == {"mockreq", "mockreq first", "mockreq second"} | {
        "httpserverreq",
        "httpserverreq first",
        "httpserverreq second",
    }


def test_section_10_finds_each_control_reads_longest_step_and_a_pushs(tmp_path: Path) -> None:
    found = controlreads.run(90, tmp_path)
    assert found["requests"] >= 90 and found["push_ms"] > 0
    assert set(found["reads"]) == {what for what, *_ in controlreads.READS}
    assert all(ms > 0 for ms in found["reads"].values()), found["reads"]  # each read's own steps, found by path
    assert set(found["jobs"]) == {what for what, *_ in controlreads.JOBS}
    assert all(ms > 0 for ms in found["jobs"].values()), found["jobs"]
    assert set(found["waits"]) == set(found["reads"]) | set(found["jobs"])
    # the bystander was in flight during the reads (a read of 90 requests may fall between two of its own)
    assert all(ms >= 0 for ms in found["waits"].values()) and max(found["waits"].values()) > 0, found["waits"]
    assert 0 < found["wait_median_ms"] < 1_000 and all(size > 0 for size in found["document_bytes"].values())


def test_section_9_sets_the_aged_servers_last_runs_beside_a_new_servers_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21's drift: on this shared machine one run's CPU per page moves by about the target's
    5 % within minutes, so the first run against the last measured the machine. The verdict is the
    aged server's last runs, each beside a newly started server's first run in the same minute."""
    import json
    from dataclasses import replace

    from benchmarks import drift
    from benchmarks.harness import QUICK, Context

    order: list[str] = []
    started: list[str] = []
    cpu = {"aged": iter([400.0, 405.0, 412.0, 430.0, 440.0]), "new": iter([400.0, 450.0, 400.0])}

    class Server:
        def __init__(self, name: str) -> None:
            self.name, self.pid, self.base = name, 1, "http://127.0.0.1:9"

        def stop(self) -> None:
            order.append(f"stop {self.name}")

    def start_server(kind: str, extra: Any = ()) -> Server:
        name = {"emulator": "aged" if "aged" not in started else "new", "bare": "bare"}[kind]
        if extra:  # the aged server and the bare one, each with its collection log
            Path(extra[-1]).write_text(json.dumps([]), encoding="utf-8")
        started.append(name)
        return Server(name)

    def run(server: Server, kind: str, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
        if concurrency == 1:
            return {"p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 3.0}
        order.append(server.name)
        figure = 130.0 if server.name == "bare" else next(cpu[server.name])
        return {"server_cpu_us_per_page": figure, "pages_per_s": 1000.0, "pages": 10}

    monkeypatch.setattr(drift, "start_server", start_server)
    monkeypatch.setattr(drift, "_run", run)
    monkeypatch.setattr(drift, "_reset_rss", lambda server: 60.0)
    monkeypatch.setattr(drift, "memory_kib", lambda pid: 50 * 1024)
    monkeypatch.setattr(drift.time, "sleep", lambda seconds: None)
    section = drift.drift(Context(replace(QUICK, drift_runs=5, drift_pairs=3), tmp_path))

    # Only the last three runs are paired, the new server after the aged one, then before it, then
    # after; each new server is stopped after its one run.
    assert order[:4] == ["aged", "bare", "aged", "bare"]
    assert order[4:8] == ["aged", "new", "stop new", "bare"]
    assert order[8:12] == ["new", "stop new", "aged", "bare"]
    assert order[12:16] == ["aged", "new", "stop new", "bare"]
    rows = {row.figure: row for row in section.rows}
    paired = next(row for figure, row in rows.items() if "against a new server's first run" in figure)
    assert paired.value.startswith("+3.0% (aged / new, µs: 412 / 400, 430 / 450, 440 / 400)")  # the median ratio
    assert paired.verdict == "met"
    first_last = next(row for figure, row in rows.items() if figure.startswith("server CPU per page, first run"))
    assert "400 → 440 µs (+10.0%)" in first_last.value and first_last.verdict == "-"
