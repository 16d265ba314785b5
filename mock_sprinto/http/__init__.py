"""The HTTP layer: the only part of mock-sprinto that imports aiohttp."""

from .app import EMULATOR, RUNNER_KWARGS, EmulatorTestServer, create_app

__all__ = ["EMULATOR", "RUNNER_KWARGS", "EmulatorTestServer", "create_app"]
