"""The HTTP layer: the only part of mock-sprinto that imports aiohttp."""

from .app import RUNNER_KWARGS, EmulatorTestServer, create_app
from .common import API_PREFIX, CONTROL, CONTROL_PREFIX, EMULATOR

__all__ = ["API_PREFIX", "CONTROL", "CONTROL_PREFIX", "EMULATOR", "RUNNER_KWARGS", "EmulatorTestServer", "create_app"]
