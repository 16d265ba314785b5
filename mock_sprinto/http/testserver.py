"""``EmulatorTestServer``: the emulator in aiohttp's TestServer, for tests in the caller's event loop.

A module of its own so ``mock-sprinto serve`` never imports ``aiohttp.test_utils`` (and unittest
with it, a noticeable part of start-up): ``mock_sprinto.http`` loads this on first use of the name.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from .server import EmulatorRunner


class EmulatorTestServer(TestServer):
    """aiohttp's TestServer ignores runner options given to its constructor; this one serves with
    ``EmulatorRunner``, so an in-process emulator decodes bodies and meets hostile connections
    exactly as ``mock-sprinto serve`` does.
    Use it with pytest-aiohttp as ``await aiohttp_client(EmulatorTestServer(create_app(emulator)))``."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return EmulatorRunner(self.app, **kwargs)
