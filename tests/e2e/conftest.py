"""A real ``mock-sprinto serve`` process for the end-to-end tests, always stopped."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from .test_cli import Server, start


@pytest.fixture
def server() -> Iterator[Server]:
    running = start()
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)
