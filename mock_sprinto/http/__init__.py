"""The HTTP layer: the only part of mock-sprinto that imports aiohttp."""

from .app import RUNNER_KWARGS, EMULATOR, create_app

__all__ = ["EMULATOR", "RUNNER_KWARGS", "create_app"]
