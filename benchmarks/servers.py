"""The servers under load, each run in its own process (``python -m benchmarks.servers KIND``).

* ``emulator``: ``mock_sprinto.cli.serve``, the very coroutine ``mock-sprinto serve`` runs (with
  ``RUNNER_KWARGS``), on 127.0.0.1 and a free port, default settings unless ``--setting`` says.
* ``validating``: ``bare`` plus the emulator's page verdict (``check_page``: envelope and every
  record against schemas/entities/User.json with jsonschema-rs), a second baseline: the work
  any validating emulator must do, without the rest of this one.
* ``bare``: the baseline. One aiohttp handler per route that reads the body (aiohttp's own
  gzip decoding, its default ``client_max_size`` of 1 MiB) and parses it with orjson, the
  emulator's parser; nothing else. Start and close answer with constants so one client fits both.

Both print their health URL (``http://127.0.0.1:<port>/_mock/health``, as ``mock-sprinto serve``'s
banner does) once listening, and stop cleanly on SIGTERM or SIGINT.
``--profile FILE`` runs the server under pyinstrument and writes its text report to FILE on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
import time
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web


def _ready(port: int) -> None:
    print(f"  control    http://127.0.0.1:{port}/_mock/health", flush=True)


VALIDATE: web.AppKey[Any] = web.AppKey("validate", object)


async def _push(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
        count = sum(len(records) for records in body["entities"].values())
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return web.Response(body=b'{"code": "malformed_body"}', status=400, content_type="application/json")
    validate = request.app.get(VALIDATE)
    if validate is not None and not validate(body):
        return web.Response(body=b'{"code": "validation_failed"}', status=400, content_type="application/json")
    answer = orjson.dumps({"accepted_count_total": count})
    return web.Response(body=answer, status=202, content_type="application/json")


def _shipped_validation() -> Any:
    """The emulator's own verdict (``check_page``, jsonschema-rs) and nothing else of it."""
    from mock_sprinto.settings import Settings
    from mock_sprinto.validation import SchemaRegistry

    from .common import check_user_page  # imported here: the bare server stays as light as aiohttp

    registry = SchemaRegistry.shipped()
    settings = Settings()

    def validate(body: Any) -> bool:
        return check_user_page(body, registry, settings).code is None

    return validate


async def _start(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=b'{"id": "bare"}', status=201, content_type="application/json")


async def _close(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=b'{"state": "cancelled"}', status=202, content_type="application/json")


async def _health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status": "ok"}', content_type="application/json")


def bare_app(validating: bool = False) -> web.Application:
    app = web.Application()
    if validating:
        app[VALIDATE] = _shipped_validation()
    base = "/api/external/push/v1/integrations/{integration_id}/sessions"
    app.router.add_post(base, _start)
    app.router.add_post(base + "/{session_id}/entities", _push)
    app.router.add_post(base + "/{session_id}/close", _close)
    app.router.add_get("/_mock/health", _health)
    return app


async def serve_bare(validating: bool = False) -> int:
    runner = web.AppRunner(bare_app(validating), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    _ready(runner.addresses[0][1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def emulator_setup(settings: dict[str, str]) -> tuple[Any, Any]:
    """The configuration and schemas ``mock-sprinto serve`` starts with: defaults plus ``settings``,
    on 127.0.0.1 and a free port (``Config``, ``SchemaRegistry``)."""
    from mock_sprinto.settings import load_config
    from mock_sprinto.validation import SchemaRegistry

    config = load_config(env={}, cli={"host": "127.0.0.1", "port": 0, **settings})
    return config, SchemaRegistry.shipped(config.settings.schemas_dir)


def serve_emulator(settings: dict[str, str]) -> int:
    from mock_sprinto.cli import serve

    return asyncio.run(serve(*emulator_setup(settings)))  # its banner names the port


class GcLog:
    """Every collection as (end, generation, seconds, CPU seconds, objects freed), from
    ``gc.callbacks`` (``--gc-log``; the soak's loop watch keeps one too). The CPU seconds are the
    collecting thread's (``time.thread_time``): on a shared machine a pause can last longer than
    the collector's work, the thread waiting for a core. ``seconds`` is all passes' so far.

    Kept as C doubles in one buffer: a tuple and two floats kept per collection, made all through
    the runs, sat in nearly every 1 MiB pymalloc arena the server ever used, so none went back
    after a reset (issue 21: section 9's aged RSS measured this log as much as the server)."""

    FIELDS = 5

    def __init__(self) -> None:
        self.figures = array("d")
        self._began = array("d", [0.0, 0.0, 0.0])  # this pass's start, its CPU start, all passes' seconds

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now, cpu = time.monotonic(), time.thread_time()
        if phase == "start":
            self._began[0], self._began[1] = now, cpu
        else:
            seconds = now - self._began[0]
            self._began[2] += seconds
            self.figures.append(now)
            self.figures.append(info["generation"])
            self.figures.append(seconds)
            self.figures.append(cpu - self._began[1])
            self.figures.append(info["collected"])

    @property
    def seconds(self) -> float:
        return self._began[2]

    def pauses(self) -> list[tuple[float, int, float, float, int]]:
        f, n = self.figures, self.FIELDS
        return [(f[i], int(f[i + 1]), f[i + 2], f[i + 3], int(f[i + 4])) for i in range(0, len(f), n)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers")
    parser.add_argument("kind", choices=["emulator", "bare", "validating"])
    parser.add_argument("--profile", type=Path, help="profile with pyinstrument; write the text report here")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--gc-log", type=Path, help="at exit, write every collection (end time, generation, seconds)")
    args = parser.parse_args(argv)
    gc_log = GcLog()
    if args.gc_log is not None:
        gc.callbacks.append(gc_log)
    settings = dict(item.split("=", 1) for item in args.setting)
    profiler: Any = None
    if args.profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
    try:
        if args.kind == "emulator":
            return serve_emulator(settings)
        return asyncio.run(serve_bare(validating=args.kind == "validating"))
    finally:
        if args.gc_log is not None:
            args.gc_log.write_text(json.dumps(gc_log.pauses()), encoding="utf-8")
        if profiler is not None:
            profiler.stop()
            args.profile.write_text(profiler.output_text(unicode=False, color=False, show_all=False), encoding="utf-8")
            profiler.last_session.save(str(args.profile) + ".pyisession")  # re-render: pyinstrument --load


if __name__ == "__main__":
    sys.exit(main())
