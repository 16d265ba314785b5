"""Benchmarks that drive an ``Emulator`` in-process, with no socket, through the vendor plane's
doors: ``Emulator.start``, ``push``, ``close``, ``get_session``, ``integration_status`` and
``activity``, each given a ``Call`` and the body as bytes in memory (``BytesBody``), exactly what
the HTTP layer hands them; one event loop runs every call (``Vendor``).

Each runs in a fresh process (``python -m benchmarks.inproc KIND``) so its memory figures are
its own, and prints one JSON document.

* ``memory``: stage N pages of 100 distinct ``User`` records in one session, then close it
  with ``apply``; RSS before, after staging, after applying, and the peak. The same run times
  every push, so the first pages and the last pages of a 10,000-page session can be compared.
* ``sessions``: one integration holding 10 finished sessions and one holding 10,000; the cost
  of a new session's pushes, start, close and status reads in each, measured alternately.
* ``retention``: RSS kept per applied record, as the store keeps it and as a right-sized copy.
* ``validation``: per-page cost of each step a push goes through, and the shipped validation
  engine (jsonschema-rs via ``check_page``) against a cached pure-Python ``jsonschema`` one.

Going through the HTTP layer would add the same per-request work to every one of these
figures (``benchmarks.load`` measures that layer); here the domain is measured alone.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import orjson

from mock_sprinto.calls import Answer, Call, Outcome
from mock_sprinto.clock import ManualClock
from mock_sprinto.control import ControlPlane
from mock_sprinto.faults.vocabulary import Operation
from mock_sprinto.payload import NO_BODY, BytesBody, parse_json
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.validation import SchemaRegistry

from .common import PAGE_SIZE, check_user_page, median, memory_kib, package_version, page_bytes, percentile, user_record

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
API_KEY = "bench-key"
APPLY = BytesBody(b'{"status": "apply"}')
DISCARD = BytesBody(b'{"status": "discard"}')
# Section 8's step names (benchmarks/validation.py reads them back).
LOADS = "orjson.loads (the bare handler's only work)"
ALLOWING = "parse_json, duplicate names allowed"
REFUSING = "parse_json, duplicate names refused (default)"
SHIPPED = "check_page (jsonschema-rs, shipped)"
PYTHON = "jsonschema (cached validator) is_valid, record by record"
PUSH = "Emulator.push (the push_page use case: auth, checks, parse, validate, stage)"


def make_emulator(**overrides: Any) -> Emulator:
    registry = SchemaRegistry.shipped()
    settings = Settings().with_overrides({"processing_seconds": 0, **overrides})
    return Emulator(Config(settings), registry, ManualClock(START))


class Vendor:
    """One integration's client of the vendor plane's doors (``Emulator.start``, ``push``, ...),
    each call a ``Call`` with bytes in memory, run to completion on one persistent event loop."""

    def __init__(self, emulator: Emulator, loop: asyncio.AbstractEventLoop, integration_id: str) -> None:
        self.emulator = emulator
        self.loop = loop
        self.integration_id = integration_id

    def call(self, operation: Operation, session_id: str | None = None) -> Call:
        return Call(
            operation=operation,
            integration_id=self.integration_id,
            api_key=API_KEY,
            request_id="req_bench",
            started=time.perf_counter(),
            session_id=session_id,
        )

    def run(self, door: Coroutine[Any, Any, Outcome]) -> dict[str, Any]:
        """The answer's JSON body; an ``ApiError`` the door raises propagates (no scenario is
        installed, so the outcome is always the operation's own ``Answer``)."""
        outcome = self.loop.run_until_complete(door)
        assert isinstance(outcome, Answer) and isinstance(outcome.body, dict), outcome
        return outcome.body

    def start(self) -> str:
        return str(self.run(self.emulator.start(self.call("start_session"), NO_BODY))["id"])

    def push(self, session_id: str, raw: bytes) -> float:
        """Push one page; return the seconds ``Emulator.push`` took."""
        call, body = self.call("push_page", session_id), BytesBody(raw)
        start = time.perf_counter()
        self.run(self.emulator.push(call, body))
        return time.perf_counter() - start

    def close(self, session_id: str, body: BytesBody = APPLY) -> dict[str, Any]:
        return self.run(self.emulator.close(self.call("close_session", session_id), body))

    def get_session(self, session_id: str) -> dict[str, Any]:
        return self.run(self.emulator.get_session(self.call("get_session", session_id)))

    def status(self) -> dict[str, Any]:
        return self.run(self.emulator.integration_status(self.call("integration_status")))

    def activity(self) -> dict[str, Any]:
        return self.run(self.emulator.activity(self.call("activity")))


def _mib(kib: int) -> float:
    return kib / 1024


def memory(loop: asyncio.AbstractEventLoop, pages: int, window: int) -> dict[str, Any]:
    """Stage ``pages`` pages (100 records each, all distinct keys) in one session, then apply it.

    The session's last ``window`` pages are pushed in turn with the first ``window`` pages
    of a second, new session (another integration), so "page 9,901 of a big session" and
    "page 1 of a new one" are timed in the same process, heap and moment; that second session
    is discarded before the memory figures are read.
    """
    emulator = make_emulator(max_staged_bytes=None)
    big, other = Vendor(emulator, loop, "bench-memory"), Vendor(emulator, loop, "bench-fresh")
    big.status()  # the first request creates the integration (auto_create_integrations)
    other.status()
    gc.collect()
    rss_start = memory_kib()
    session = big.start()
    fresh = other.start()
    times: list[float] = []
    fresh_times: list[float] = []
    payload_bytes = 0
    started = time.perf_counter()
    for n in range(pages):
        raw = page_bytes(1 + n * PAGE_SIZE)
        payload_bytes += len(raw)
        if n < pages - window:
            times.append(big.push(session, raw))
        elif n % 2:  # alternate which goes first: the second push finds the page warm in the caches
            times.append(big.push(session, raw))
            fresh_times.append(other.push(fresh, raw))
        else:
            fresh_times.append(other.push(fresh, raw))
            times.append(big.push(session, raw))
    stage_seconds = time.perf_counter() - started
    del raw
    other.close(fresh, DISCARD)
    gc.collect()
    rss_staged = memory_kib()
    started = time.perf_counter()
    closed = big.close(session)
    apply_seconds = time.perf_counter() - started
    gc.collect()
    rss_applied = memory_kib()
    rss_peak = memory_kib("VmHWM")
    trimmed = _malloc_trim()
    rss_trimmed = memory_kib() if trimmed else None
    records = ControlPlane(emulator).datasets(big.integration_id)["datasets"].get("User", 0)

    def summary(values: list[float]) -> dict[str, float]:
        micros = [v * 1e6 for v in values]
        return {"median": median(micros), "p90": percentile(micros, 90), "mean": sum(micros) / len(micros)}

    return {
        "pages": pages,
        "records_applied": records,
        "state": closed["state"],
        "payload_mib": payload_bytes / 2**20,
        "rss_start_mib": _mib(rss_start),
        "rss_staged_mib": _mib(rss_staged),
        "rss_applied_mib": _mib(rss_applied),
        "rss_peak_mib": _mib(rss_peak),
        "rss_applied_trimmed_mib": None if rss_trimmed is None else _mib(rss_trimmed),
        "stage_seconds": stage_seconds,
        "apply_seconds": apply_seconds,
        "window": window,
        "first_pages_us": summary(times[:window]),
        "last_pages_us": summary(times[-window:]),
        "fresh_session_pages_us": summary(fresh_times),
    }


def _malloc_trim() -> bool:
    """Hand freed heap pages back to the OS (glibc), to tell retained memory from free-but-held."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def _fill(vendor: Vendor, sessions: int) -> None:
    """Leave ``sessions`` finished (applied) sessions on the integration, one 1-record page each."""
    for n in range(sessions):
        session_id = vendor.start()
        vendor.push(session_id, page_bytes(1 + n, 1))
        vendor.close(session_id)


def _timed(action: Callable[[], Any]) -> float:
    """Microseconds ``action`` took."""
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1e6


def sessions(loop: asyncio.AbstractEventLoop, few: int, many: int, pages: int, rounds: int) -> dict[str, Any]:
    """Costs in an integration holding ``few`` finished sessions vs one holding ``many``."""
    emulator = make_emulator(max_sessions_kept=many + 10 * rounds, max_staged_bytes=None)
    vendors = {"few": Vendor(emulator, loop, "bench-few"), "many": Vendor(emulator, loop, "bench-many")}
    started = time.perf_counter()
    _fill(vendors["few"], few)
    _fill(vendors["many"], many)
    fill_seconds = time.perf_counter() - started
    bodies = [page_bytes(1 + n * PAGE_SIZE) for n in range(pages)]
    samples: dict[str, dict[str, list[float]]] = {
        name: {"push": [], "start": [], "close_apply": [], "get_session": [], "status": [], "activity": []}
        for name in vendors
    }
    for _ in range(rounds):
        for name, vendor in vendors.items():  # alternate, so both see the same machine
            got = samples[name]
            clock = time.perf_counter()
            session_id = vendor.start()
            got["start"].append((time.perf_counter() - clock) * 1e6)
            got["push"].extend(vendor.push(session_id, raw) * 1e6 for raw in bodies)
            got["get_session"].append(_timed(partial(vendor.get_session, session_id)))
            got["status"].append(_timed(vendor.status))
            got["activity"].append(_timed(vendor.activity))
            got["close_apply"].append(_timed(partial(vendor.close, session_id)))
    held = {name: len(emulator.tenant(vendor.integration_id).sessions) for name, vendor in vendors.items()}
    return {
        "held": held,
        "fill_seconds": fill_seconds,
        "pages_per_round": pages,
        "rounds": rounds,
        "median_us": {name: {op: median(values) for op, values in ops.items()} for name, ops in samples.items()},
    }


def _per_call_us(action: Callable[[], Any], budget: float, max_calls: int) -> float:
    """Best of 5 batches: the least-disturbed estimate of one call's cost on a shared machine."""
    calls = 1
    start = time.perf_counter()
    action()
    one = time.perf_counter() - start
    calls = max(1, min(max_calls, int(budget / 5 / max(one, 1e-7))))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            action()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def validation(loop: asyncio.AbstractEventLoop, budget: float) -> dict[str, Any]:
    """Per-page cost of each step of a push, and the two validation engines, on one 100-record page."""
    import jsonschema

    emulator = make_emulator(max_staged_bytes=None)
    registry = emulator.registry
    raw = page_bytes(1)
    body = orjson.loads(raw)
    records = body["entities"]["User"]
    flat = registry.flat_types
    settings = emulator.settings
    user = registry.types["User"]
    rs_validator = user.validator
    format_checker = jsonschema.FormatChecker()
    py_validator = jsonschema.validators.validator_for(user.schema)(user.schema, format_checker=format_checker)
    vendor = Vendor(emulator, loop, "bench-validation")
    session_id = vendor.start()
    pushed = 0

    def push_once() -> None:
        nonlocal session_id, pushed
        if pushed >= 5_000:  # keep the session (and memory) small; a new session costs ~nothing
            vendor.close(session_id, DISCARD)
            session_id = vendor.start()
            pushed = 0
        pushed += 1
        vendor.push(session_id, raw)

    def verdict() -> Any:
        return check_user_page(body, registry, settings)

    assert verdict().code is None, "the benchmark page must be valid"
    assert all(py_validator.is_valid(r) for r in records), "jsonschema must accept the page too"
    steps: dict[str, Callable[[], Any]] = {
        LOADS: lambda: orjson.loads(raw),
        "json.loads (stdlib, for scale)": lambda: json.loads(raw),
        ALLOWING: lambda: parse_json(raw, settings.max_json_depth, reject_repeated_names=False, flat_types=flat),
        REFUSING: lambda: parse_json(raw, settings.max_json_depth, flat_types=flat),
        SHIPPED: verdict,
        "jsonschema-rs is_valid, record by record": lambda: all(rs_validator.is_valid(r) for r in records),
        PYTHON: lambda: all(py_validator.is_valid(r) for r in records),
        PUSH: push_once,
    }
    per_step = budget / len(steps)
    return {
        "page_bytes": len(raw),
        "records": len(records),
        "us_per_page": {name: _per_call_us(action, per_step, 20_000) for name, action in steps.items()},
        "versions": {"jsonschema": package_version("jsonschema"), "jsonschema-rs": package_version("jsonschema-rs")},
        "jsonschema_formats_checked": sorted({"date-time", "email"} & set(format_checker.checkers)),
    }


def retention(count: int) -> dict[str, Any]:
    """RSS kept per stored record: ``orjson.dumps(record)`` as returned vs a right-sized copy.

    This is how ``store.Dataset.put`` keeps applied records; the copies are measured first so
    their heap holds none of the other variant's free fragments.
    """
    records = [user_record(i) for i in range(count)]
    gc.collect()
    before = memory_kib()
    copies = [memoryview(orjson.dumps(record)).tobytes() for record in records]
    middle = memory_kib()
    kept = [orjson.dumps(record) for record in records]
    after = memory_kib()
    assert copies == kept
    return {
        "count": count,
        "json_bytes": len(kept[0]),
        "copy_bytes_each": (middle - before) * 1024 / count,
        "dumps_bytes_each": (after - middle) * 1024 / count,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inproc")
    sub = parser.add_subparsers(dest="kind", required=True)
    mem = sub.add_parser("memory")
    mem.add_argument("--pages", type=int, default=10_000)
    mem.add_argument("--window", type=int, default=100)
    ses = sub.add_parser("sessions")
    ses.add_argument("--few", type=int, default=10)
    ses.add_argument("--many", type=int, default=10_000)
    ses.add_argument("--pages", type=int, default=50)
    ses.add_argument("--rounds", type=int, default=5)
    ret = sub.add_parser("retention")
    ret.add_argument("--count", type=int, default=100_000)
    val = sub.add_parser("validation")
    val.add_argument("--budget", type=float, default=8.0, help="seconds to spend in all")
    args = parser.parse_args(argv)
    loop = asyncio.new_event_loop()  # one loop for every door call of the run, not one per call
    try:
        if args.kind == "memory":
            result = memory(loop, args.pages, min(args.window, args.pages))
        elif args.kind == "sessions":
            result = sessions(loop, args.few, args.many, args.pages, args.rounds)
        elif args.kind == "retention":
            result = retention(args.count)
        else:
            result = validation(loop, args.budget)
    finally:
        loop.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
