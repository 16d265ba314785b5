"""The domain without a socket: lazy time, retention, limits, isolation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from mock_sprinto.calls import Answer, Call
from mock_sprinto.clock import ManualClock
from mock_sprinto.errors import ApiError
from mock_sprinto.payload import BytesBody
from mock_sprinto.service import Emulator
from mock_sprinto.sessions import Wire
from mock_sprinto.settings import Settings, SettingsError, load_config

from ..helpers import user


def push(emulator: Emulator, tenant: Any, session_id: str, records: list[Any]) -> dict[str, Any]:
    """A push through the vendor plane's door, as the HTTP handler makes it."""
    raw = orjson.dumps({"entities": {"User": records}})
    call = Call("push_page", tenant.id, tenant.api_key, "req", time.perf_counter(), session_id=session_id)
    outcome = asyncio.run(emulator.push(call, BytesBody(raw)))
    assert isinstance(outcome, Answer)
    body: dict[str, Any] = outcome.body
    return body


def test_events_are_replayed_in_time_order_when_the_clock_jumps(emulator: Emulator, clock: ManualClock) -> None:
    tenant = emulator.authenticate("acme", "k")
    first = emulator.sessions.start_session(tenant, None)
    push(emulator, tenant, first.id, [user(1)])
    emulator.sessions.close_session(tenant, first.id, {"status": "apply"})  # processing due in 2 s
    second = emulator.sessions.start_session(tenant, None)  # expires in 3600 s
    clock.advance(100_000)
    emulator.settle(tenant)
    kinds = [(item.type, item.at - tenant.activity[0].at) for item in tenant.activity]
    assert kinds[-3:] == [("session_processed", 2.0), ("session_expired", 3600.0), ("expired_data_purged", 90000.0)]
    assert second.data_purged


def test_finished_sessions_beyond_the_bound_are_forgotten_oldest_first(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(max_sessions_kept=3)
    tenant = emulator.authenticate("acme", "k")
    ids = []
    for _ in range(5):
        session = emulator.sessions.start_session(tenant, None)
        emulator.sessions.close_session(tenant, session.id, {"status": "discard"})
        ids.append(session.id)
    assert list(tenant.sessions) == ids[2:]
    assert emulator.sessions.status_counts(tenant)["sessions"]["cancelled"] == 5  # counts are history


def test_staged_bytes_are_bounded_per_integration_and_freed_on_close(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(max_staged_bytes=2000)
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    push(emulator, tenant, session.id, [user(1), user(2), user(3)])
    with pytest.raises(ApiError) as refused:
        push(emulator, tenant, session.id, [user(i) for i in range(4, 10)])
    assert (refused.value.status, refused.value.code) == (507, "staging_limit_reached")
    emulator.sessions.close_session(tenant, session.id, {"status": "discard"})
    assert tenant.staged_bytes == 0


def test_integrations_are_bounded(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator(max_integrations=2)
    emulator.authenticate("a", "k")
    emulator.authenticate("b", "k")
    with pytest.raises(ApiError) as refused:
        emulator.authenticate("c", "k")
    assert (refused.value.status, refused.value.code) == (403, "integration_limit_reached")


def test_applied_records_are_stored_compactly_and_keys_stay_distinct(emulator: Emulator, clock: ManualClock) -> None:
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    raw = orjson.dumps({"entities": {"Thing": [{"id": 1}, {"id": "1"}, {"id": 1.5}, {"no_id": True}]}})
    emulator.sessions.push_page(tenant, session.id, raw, Wire("r", len(raw), len(raw), "identity", time.perf_counter()))
    emulator.sessions.close_session(tenant, session.id, {"status": "apply"})
    clock.advance(2)
    emulator.settle(tenant)
    assert tenant.datasets["Thing"].key_field is None
    assert len(tenant.datasets["Thing"].records) == 4
    assert all(isinstance(v, bytes) for v in tenant.datasets["Thing"].records.values())


def test_settings_layering_and_errors() -> None:
    config = load_config(
        None,
        env={"MOCK_SPRINTO_MAX_PAGE_ITEMS": "null", "MOCK_SPRINTO_RATE_LIMIT": "2.5"},
        cli={"apply_mode": "upsert"},
    )
    assert config.settings.max_page_items is None and config.settings.rate_limit == 2.5
    assert config.settings.apply_mode == "upsert"
    for bad in (
        {"port": "x"},
        {"max_page_items": 0},
        {"apply_mode": "merge"},
        {"frozen_clock": "maybe"},
        {"inactivity_timeout_seconds": "nan"},
        {"nope": 1},
    ):
        with pytest.raises(SettingsError):
            Settings().with_overrides(bad)


def test_dropping_a_big_session_gives_the_free_heap_back(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freed page buffers go back to the OS once a session of at least TRIM_AFTER_BYTES is dropped
    (RSS with 1,000,000 applied records: ~765 -> ~480 MiB); a small session never pays for it."""
    from mock_sprinto import budget, timeline

    trims: list[int] = []
    monkeypatch.setattr(timeline, "give_back_free_heap", lambda: trims.append(1))
    emulator = make_emulator(max_staged_bytes=None)
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    push(emulator, tenant, session.id, [user(1)])
    emulator.sessions.close_session(tenant, session.id, {"status": "discard"})
    assert trims == []
    monkeypatch.setattr(timeline, "TRIM_AFTER_BYTES", 100)
    session = emulator.sessions.start_session(tenant, None)
    push(emulator, tenant, session.id, [user(2)])
    emulator.sessions.close_session(tenant, session.id, {"status": "discard"})
    assert trims == [1] and tenant.staged_bytes == 0
    budget.give_back_free_heap()  # the real one: harmless wherever the C library lacks it


def test_start_up_does_not_import_python_jsonschema() -> None:
    """~90 ms of start-up: only an invalid scenario's wording (or a schema of a draft jsonschema-rs
    lacks) needs it; serve loads the default scenario at every start."""
    import subprocess
    import sys

    code = (
        "import sys; from mock_sprinto import cli, http; from mock_sprinto.validation import SchemaRegistry; "
        "SchemaRegistry.shipped(); from mock_sprinto.faults.scenario import resolve_scenario; "
        "resolve_scenario('default'); print('jsonschema' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert found.stdout.strip() == "False"
