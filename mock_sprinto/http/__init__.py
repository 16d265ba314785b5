"""The HTTP layer: the only part of mock-sprinto that imports aiohttp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .app import RUNNER_KWARGS, create_app
from .common import API_PREFIX, CONTROL, CONTROL_PREFIX, EMULATOR
from .server import EmulatorRunner

if TYPE_CHECKING:
    from .testserver import EmulatorTestServer

__all__ = [
    "API_PREFIX",
    "CONTROL",
    "CONTROL_PREFIX",
    "EMULATOR",
    "RUNNER_KWARGS",
    "EmulatorRunner",
    "EmulatorTestServer",
    "create_app",
]


def __getattr__(name: str) -> Any:
    # EmulatorTestServer is loaded on first use: it needs aiohttp.test_utils (and unittest), which
    # `mock-sprinto serve` never does (tests/unit/test_startup.py keeps it off the start path).
    if name == "EmulatorTestServer":
        from .testserver import EmulatorTestServer

        return EmulatorTestServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
