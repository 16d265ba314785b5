"""A real ``mock-sprinto serve`` process for the end-to-end tests, always stopped; and, for the
dashboard's modules, a headless Chromium."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from .test_cli import Server, start


@pytest.fixture
def server() -> Iterator[Server]:
    running = start()
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium (``test_dashboard.headless_chromium``), imported here only when a test
    asks for it: the modules that need none never import selenium."""
    from .test_dashboard import headless_chromium

    with headless_chromium() as driver:
        yield driver
