"""Fixtures: an emulator on a manual clock, served in-process by pytest-aiohttp."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from mock_sprinto.clock import ManualClock
from mock_sprinto.http import EmulatorTestServer, create_app
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Integration, Settings
from mock_sprinto.validation import SchemaRegistry

from .contract.checker import Watch
from .contract.checker import watch as watch_contract
from .helpers import Control, Vendor

# pytester runs the pytest plugin's own tests (tests/plugin); only a root conftest may load it.
pytest_plugins = ["pytester"]

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: every test starts at the same instant

# HYPOTHESIS_PROFILE=ci (the default) keeps `make test` fast; `make fuzz` runs the same property
# tests with the fuzz profile. No deadline: a slow CI machine is not a failure.
hypothesis_settings.register_profile("ci", deadline=None, max_examples=100, stateful_step_count=60)
hypothesis_settings.register_profile(
    "fuzz", deadline=None, max_examples=3000, stateful_step_count=150, suppress_health_check=list(HealthCheck)
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.shipped()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_emulator(registry: SchemaRegistry, clock: ManualClock) -> Callable[..., Emulator]:
    def make(integrations: tuple[Integration, ...] = (), **overrides: Any) -> Emulator:
        settings = Settings().with_overrides(overrides)
        return Emulator(Config(settings, integrations), registry, clock)

    return make


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


class _Crashes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(self.format(record))


@pytest.fixture
def serve(aiohttp_client: Any) -> Callable[[Emulator], Awaitable[TestClient[Any, Any]]]:
    """Serve an emulator in-process; after the test, fail if any request produced a 500 or any
    response broke the contract in schemas/openapi.yaml (tests/contract/checker.py)."""
    served: list[Emulator] = []
    watches: list[Watch] = []
    # A real crash is what the envelope logs with its traceback, on the control plane too (which
    # has no journal); a 500 a scenario rule injects is not one.
    crashes = _Crashes()
    logging.getLogger("mock_sprinto").addHandler(crashes)

    async def start(emulator: Emulator) -> TestClient[Any, Any]:
        served.append(emulator)
        app = create_app(emulator)
        watches.append(watch_contract(app))
        client: TestClient[Any, Any] = await aiohttp_client(EmulatorTestServer(app))
        return client

    try:
        yield start  # type: ignore[misc]
    finally:
        logging.getLogger("mock_sprinto").removeHandler(crashes)
    assert not crashes.seen, "the emulator crashed (500):\n" + "\n\n".join(crashes.seen[:3])
    for emulator in served:
        errors = [e for e in emulator.journal.entries if e.status >= 500 and e.code == "internal_error" and not e.rule]
        assert not errors, f"requests answered 500: {errors}"
    violations = [v for seen in watches for v in seen.violations]
    assert not violations, "responses broke schemas/openapi.yaml:\n" + "\n".join(violations[:20])


@pytest.fixture
async def client(
    serve: Callable[[Emulator], Awaitable[TestClient[Any, Any]]], emulator: Emulator
) -> TestClient[Any, Any]:
    return await serve(emulator)


@pytest.fixture
def vendor(client: TestClient[Any, Any]) -> Vendor:
    return Vendor(client)


@pytest.fixture
def control(client: TestClient[Any, Any]) -> Control:
    return Control(client)
