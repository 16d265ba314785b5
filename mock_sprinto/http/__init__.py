"""The HTTP layer: the only part of mock-sprinto that imports aiohttp."""

from .app import RUNNER_KWARGS, EmulatorTestServer, create_app
from .common import API_PREFIX, CONTROL, CONTROL_PREFIX, EMULATOR
from .server import EmulatorRunner

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
