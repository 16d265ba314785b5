"""Benchmarks that drive an ``Emulator`` directly, in-process, with no socket.

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
import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import orjson

from mock_sprinto.clock import ManualClock
from mock_sprinto.payload import parse_json
from mock_sprinto.service import Emulator, Wire
from mock_sprinto.settings import Config, Settings
from mock_sprinto.store import Tenant
from mock_sprinto.validation import SchemaRegistry, check_page

from .common import PAGE_SIZE, median, memory_kib, page_bytes, percentile, user_record

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def make_emulator(**overrides: Any) -> Emulator:
    registry = SchemaRegistry.shipped()
    settings = Settings().with_overrides({"processing_seconds": 0, **overrides})
    return Emulator(Config(settings), registry, ManualClock(START))


def push(emulator: Emulator, tenant: Tenant, session_id: str, raw: bytes) -> float:
    """Push one page; return the seconds ``Emulator.push_page`` took."""
    wire = Wire("req_bench", len(raw), len(raw), "identity", time.perf_counter())
    start = time.perf_counter()
    emulator.sessions.push_page(tenant, session_id, raw, wire)
    return time.perf_counter() - start


def _mib(kib: int) -> float:
    return kib / 1024


def memory(pages: int, window: int) -> dict[str, Any]:
    """Stage ``pages`` pages (100 records each, all distinct keys) in one session, then apply it.

    The session's last ``window`` pages are pushed in turn with the first ``window`` pages
    of a second, new session (another integration), so "page 9,901 of a big session" and
    "page 1 of a new one" are timed in the same process, heap and moment; that second session
    is discarded before the memory figures are read.
    """
    emulator = make_emulator(max_staged_bytes=None)
    tenant = emulator.authenticate("bench-memory", "bench-key")
    fresh_tenant = emulator.authenticate("bench-fresh", "bench-key")
    gc.collect()
    rss_start = memory_kib()
    session = emulator.sessions.start_session(tenant, None)
    fresh = emulator.sessions.start_session(fresh_tenant, None)
    times: list[float] = []
    fresh_times: list[float] = []
    payload_bytes = 0
    started = time.perf_counter()
    for n in range(pages):
        raw = page_bytes(1 + n * PAGE_SIZE)
        payload_bytes += len(raw)
        if n < pages - window:
            times.append(push(emulator, tenant, session.id, raw))
        elif n % 2:  # alternate which goes first: the second push finds the page warm in the caches
            times.append(push(emulator, tenant, session.id, raw))
            fresh_times.append(push(emulator, fresh_tenant, fresh.id, raw))
        else:
            fresh_times.append(push(emulator, fresh_tenant, fresh.id, raw))
            times.append(push(emulator, tenant, session.id, raw))
    stage_seconds = time.perf_counter() - started
    del raw
    emulator.sessions.close_session(fresh_tenant, fresh.id, {"status": "discard"})
    gc.collect()
    rss_staged = memory_kib()
    started = time.perf_counter()
    closed = emulator.sessions.close_session(tenant, session.id, {"status": "apply"})
    apply_seconds = time.perf_counter() - started
    gc.collect()
    rss_applied = memory_kib()
    rss_peak = memory_kib("VmHWM")
    trimmed = _malloc_trim()
    rss_trimmed = memory_kib() if trimmed else None
    records = len(tenant.datasets["User"].records) if "User" in tenant.datasets else 0

    def summary(values: list[float]) -> dict[str, float]:
        micros = [v * 1e6 for v in values]
        return {"median": median(micros), "p90": percentile(micros, 90), "mean": sum(micros) / len(micros)}

    return {
        "pages": pages,
        "records_applied": records,
        "state": closed.state.value,
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


def _fill(emulator: Emulator, tenant: Tenant, sessions: int) -> None:
    """Leave ``sessions`` finished (applied) sessions on the tenant, one 1-record page each."""
    for n in range(sessions):
        session = emulator.sessions.start_session(tenant, None)
        push(emulator, tenant, session.id, page_bytes(1 + n, 1))
        emulator.sessions.close_session(tenant, session.id, {"status": "apply"})


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1e6


def _session_status(emulator: Emulator, tenant: Tenant, session_id: str) -> dict[str, Any]:
    return emulator.sessions.addressed_session(tenant, session_id).public()


def sessions(few: int, many: int, pages: int, rounds: int) -> dict[str, Any]:
    """Costs in an integration holding ``few`` finished sessions vs one holding ``many``."""
    emulator = make_emulator(max_sessions_kept=many + 10 * rounds, max_staged_bytes=None)
    tenants = {"few": emulator.authenticate("bench-few", "k"), "many": emulator.authenticate("bench-many", "k")}
    started = time.perf_counter()
    _fill(emulator, tenants["few"], few)
    _fill(emulator, tenants["many"], many)
    fill_seconds = time.perf_counter() - started
    bodies = [page_bytes(1 + n * PAGE_SIZE) for n in range(pages)]
    samples: dict[str, dict[str, list[float]]] = {
        name: {"push": [], "start": [], "close_apply": [], "get_session": [], "status": [], "activity": []}
        for name in tenants
    }
    for _ in range(rounds):
        for name, tenant in tenants.items():  # alternate, so both see the same machine
            got = samples[name]
            clock = time.perf_counter()
            session_id = emulator.sessions.start_session(tenant, None).id
            got["start"].append((time.perf_counter() - clock) * 1e6)
            got["push"].extend(push(emulator, tenant, session_id, raw) * 1e6 for raw in bodies)
            got["get_session"].append(_timed(partial(_session_status, emulator, tenant, session_id)))
            got["status"].append(_timed(partial(emulator.sessions.status_counts, tenant)))
            got["activity"].append(_timed(partial(emulator.sessions.activity_page, tenant, None, None, None)))
            got["close_apply"].append(_timed(partial(emulator.sessions.close_session, tenant, session_id, None)))
    held = {name: len(tenant.sessions) for name, tenant in tenants.items()}
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


def validation(budget: float) -> dict[str, Any]:
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
    tenant = emulator.authenticate("bench-validation", "bench-key")
    session_id = emulator.sessions.start_session(tenant, None).id
    pushed = 0

    def push_once() -> None:
        nonlocal session_id, pushed
        if pushed >= 5_000:  # keep the session (and memory) small; a new session costs ~nothing
            emulator.sessions.close_session(tenant, session_id, {"status": "discard"})
            session_id = emulator.sessions.start_session(tenant, None).id
            pushed = 0
        pushed += 1
        emulator.sessions.push_page(tenant, session_id, raw, Wire("req_bench", len(raw), len(raw), "identity", 0.0))

    def verdict() -> Any:
        return check_page(
            body,
            registry,
            max_items=settings.max_page_items,
            max_errors=settings.max_validation_errors,
            reject_unknown_types=False,
        )

    assert verdict().code is None, "the benchmark page must be valid"
    assert all(py_validator.is_valid(r) for r in records), "jsonschema must accept the page too"
    steps: dict[str, Callable[[], Any]] = {
        "orjson.loads (the bare handler's only work)": lambda: orjson.loads(raw),
        "json.loads (stdlib, for scale)": lambda: json.loads(raw),
        "parse_json, duplicate names allowed": lambda: parse_json(
            raw, settings.max_json_depth, reject_repeated_names=False, flat_types=flat
        ),
        "parse_json, duplicate names refused (default)": lambda: parse_json(
            raw, settings.max_json_depth, flat_types=flat
        ),
        "check_page (jsonschema-rs, shipped)": verdict,
        "jsonschema-rs is_valid, record by record": lambda: all(rs_validator.is_valid(r) for r in records),
        "jsonschema (cached validator) is_valid, record by record": lambda: all(
            py_validator.is_valid(r) for r in records
        ),
        "Emulator.push_page (parse + validate + stage)": push_once,
    }
    per_step = budget / len(steps)
    return {
        "page_bytes": len(raw),
        "records": len(records),
        "us_per_page": {name: _per_call_us(action, per_step, 20_000) for name, action in steps.items()},
        "versions": {"jsonschema": _version("jsonschema"), "jsonschema-rs": _version("jsonschema-rs")},
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


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


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
    if args.kind == "memory":
        result = memory(args.pages, min(args.window, args.pages))
    elif args.kind == "sessions":
        result = sessions(args.few, args.many, args.pages, args.rounds)
    elif args.kind == "retention":
        result = retention(args.count)
    else:
        result = validation(args.budget)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
