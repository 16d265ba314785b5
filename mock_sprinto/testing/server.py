"""The emulator on a background thread, and the blocking handle on one tenant of it.

Blocking calls work from sync and async tests alike, because the server runs its own event
loop on its own thread; the handle talks to it over one kept-alive HTTP connection.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import logging
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from ..control import ControlPlane
from ..errors import ApiError
from ..http import API_PREFIX, create_app
from ..http.server import EmulatorRunner
from ..httpclient import connect, exchange
from ..service import Emulator
from ..settings import Config, Settings
from ..validation import SchemaRegistry
from .common import ScenarioSpec, load_registry, new_api_key, stable_integration_id
from .handle import ClockBase, ControlError, Done, HandleBase, Op, Request, admin_headers, expectations_of, step
from .views import (
    ActivityItemView,
    JournalEntryView,
    ReportView,
    ScenarioView,
    SessionView,
    SettingsView,
    VerificationView,
)

T = TypeVar("T")

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
# A request still in flight at shutdown (a scenario delay, a hung client) gets this long, not
# aiohttp's default minute, so the end of a test session is never held up by the emulator.
_SHUTDOWN_GRACE = 2.0


# ---- time that freezegun does not reach -------------------------------------------------------
class _WallClock:
    """Wall time through a function captured at import.

    freezegun rewrites ``time.time`` and every module attribute that refers to it, but not
    attributes of classes; reading through this one keeps the shared server on real time when
    one test freezes it, so that test cannot stall (or, frozen in the future, strand) the clock
    every later test of the session reads. Tests move emulator time with the handle's clock.
    """

    _time = staticmethod(time.time)

    def now(self) -> float:
        return self._time()


class _WallTimeLoop(asyncio.SelectorEventLoop):
    """The server thread's loop, on real monotonic time even while a test freezes time: with
    a frozen ``time.monotonic`` asyncio's timers (keep-alive, shutdown) would never fire."""

    _monotonic = staticmethod(time.monotonic)

    def time(self) -> float:
        return self._monotonic()

    def _accept_connection(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *more: Any,
        **options: Any,
    ) -> None:
        """A plain connection's transport made and started as it is accepted, one connection a
        readiness event.

        asyncio's own accept hands each connection to a task of its own (``_accept_connection2``,
        there to wait for a TLS handshake), then calls ``accept`` again until it fails: a task, a
        turn of the loop and a raised ``BlockingIOError`` on every pytest test's request (~15 us of
        the server's thread, benchmarks/ANALYSIS.md). The plugin's server serves plain HTTP on
        loopback: its transport is made here, and the listening socket, still readable while
        connections wait, is seen again on the next turn. TLS, debug mode and a failing accept
        (out of descriptors: asyncio reports it and backs off) stay asyncio's."""

        def asyncios_own() -> None:
            super(_WallTimeLoop, self)._accept_connection(  # type: ignore[misc]
                protocol_factory, sock, sslcontext, server, backlog, *more, **options
            )

        if sslcontext is not None or self.get_debug():
            asyncios_own()
            return
        try:
            conn, address = sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:
            asyncios_own()
            return
        try:
            conn.setblocking(False)
            ready: deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
            scheduled = len(ready)
            self._make_socket_transport(conn, protocol_factory(), extra={"peername": address}, server=server)  # type: ignore[attr-defined]
            # The transport's start (the protocol's ``connection_made``, then reading) runs now,
            # not on the next turn: the request, once it arrives, is read on the turn it wakes.
            for handle in [ready.pop() for _ in range(len(ready) - scheduled)][::-1]:
                if not handle.cancelled():
                    handle._run()
        except Exception:  # as asyncio's task would: the connection is closed, the server goes on
            conn.close()
            logging.getLogger("mock_sprinto").exception("mock-sprinto: a connection could not be set up")


class _TurnSelector(selectors.DefaultSelector):
    """The server loop's selector, which says when the loop waits and runs the jobs queued for it.

    ``turn`` is odd while the server's thread waits in ``select`` (no Python code of the emulator
    runs there) and even while it works: a read made on another thread that starts and ends on
    the same odd turn saw the emulator as the loop leaves it between two callbacks, consistent.
    ``queued`` holds jobs (the integration they touch, the job) handed over without waking the
    loop: each is run as the loop wakes, before anything it woke for, so whatever the server is
    asked after a job was queued (over HTTP or ``run``) comes after it. A job queued while the
    loop worked is run before it next waits (it then only looks for events, without waiting), so
    a job queued on an even turn never waits for a wake-up; one queued on an odd turn may find the
    loop waiting, and its sender wakes it (``MockSprintoServer.run``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.turn = 0
        self.queued: deque[tuple[str, Callable[[], object], bool]] = deque()  # (integration, job, a create?)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.turn += 1  # odd before the queue is looked at: a job queued after the look sees it odd
        if self.queued:
            self.turn += 1
            self._run_queued()
            self.turn += 1
            timeout = 0  # what the jobs scheduled is run before the loop waits
        try:
            events: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        finally:
            self.turn += 1
            self._run_queued()
        return events

    def _run_queued(self) -> None:
        queued = self.queued
        while queued:
            job = queued.popleft()[1]
            try:
                job()
            except Exception:  # a job handles its own failures; a bug in one must not end the loop
                logging.getLogger("mock_sprinto").exception("mock-sprinto: a queued job failed")


_MISSED = object()  # what ``MockSprintoServer._peek`` returns when it could not read


def _nothing() -> None:
    """The callback that wakes the server's loop for a job queued as it may wait (``run``)."""


# ---- the server on its own thread ----------------------------------------------------------------
class MockSprintoServer:
    """One emulator served on 127.0.0.1 (ephemeral port) by a background thread's event loop.

    Many integrations share it, each with its own sessions, clock offset and scenario, so one
    server serves a whole test session. ``start`` returns once the port is bound.
    """

    def __init__(self, config: Config | None = None, registry: SchemaRegistry | None = None) -> None:
        self.config = config or Config(Settings())
        self._registry = registry
        self.emulator: Emulator | None = None
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        # The server thread's id, and whether it runs ``_main``: what ``on_server_thread`` and
        # ``running`` read, several times a pytest test (Thread.is_alive and .ident are calls).
        self._server_ident: int | None = None
        self._alive = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._control: _Control | None = None
        self._selector: _TurnSelector | None = None
        # How often each stable id was handed out (``new_integration``), keyed by the id's hash: a
        # test run again in this server (pytest-rerunfailures) gets a fresh id, because a deleted
        # integration's journal entries stay in the server's journal under its id. Ints only: the
        # collector never walks it, and a 20,000-test session holds ~1.5 MB of it.
        self._ids_given: dict[int, int] = {}
        self._ids_lock = threading.Lock()

    # lifecycle
    def start(self) -> MockSprintoServer:
        if self._thread is not None:
            return self
        settings = self.config.settings
        registry = self._registry or load_registry(settings)
        self.emulator = Emulator(self.config, registry, None if settings.frozen_clock else _WallClock())
        self._thread = threading.Thread(target=self._main, name="mock-sprinto-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"mock-sprinto: the server did not start within {_START_TIMEOUT:g} s")
        if self._error is not None:
            self._thread.join(_STOP_TIMEOUT)
            raise RuntimeError(f"mock-sprinto: the server failed to start: {self._error}") from self._error
        assert self.port is not None
        self._control = _Control("127.0.0.1", self.port, settings.admin_token)
        return self

    def _main(self) -> None:
        self._server_ident, self._alive = threading.get_ident(), True
        selector = _TurnSelector()
        loop = _WallTimeLoop(selector)
        self._loop, self._selector = loop, selector
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
        finally:
            self._alive = False
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        assert self.emulator is not None
        self._stop = asyncio.Event()
        runner = EmulatorRunner(create_app(self.emulator), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE)
        await runner.setup()
        try:
            # Always loopback: the settings' host and port are for `mock-sprinto serve`.
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice, or after a failed start."""
        if self._control is not None:
            self._control.close()
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in between
                pass
        if thread is not None:
            thread.join(_STOP_TIMEOUT)
        _collect_abandoned_handlers()

    @property
    def running(self) -> bool:
        return self._alive and self.port is not None

    def __enter__(self) -> MockSprintoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # access
    @property
    def origin(self) -> str:
        if self.port is None:
            raise RuntimeError("mock-sprinto: the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + API_PREFIX

    @property
    def control(self) -> _Control:
        if self._control is None:
            raise RuntimeError("mock-sprinto: the server is not started")
        return self._control

    def run(self, fn: Callable[[Emulator], T]) -> T:
        """Call ``fn(emulator)`` on the server's thread (the emulator is not thread-safe) and
        return its result or raise its exception here.

        A job queued for the loop (``queue``) and a lock to wait on: about half the cost of a
        coroutine handed over with ``run_coroutine_threadsafe`` (no task, no futures chained
        across threads), and a fixture or a handle read makes one such hop each. The loop is woken
        only when it may be waiting: while it works (a read that found it busy, ``read``) the job
        runs before it next waits, without the wake-up's write and read of its self-pipe and the
        turn of the loop they cost. Like any job, ``fn`` comes after the jobs queued before it.
        Called on the server's thread itself (from inside another ``run``), ``fn`` runs at once:
        waiting would deadlock.
        """
        loop, emulator, selector = self._loop, self.emulator, self._selector
        if loop is None or emulator is None or selector is None or not self.running or loop.is_closed():
            raise RuntimeError("mock-sprinto: the server is not running")
        if self.on_server_thread():
            return fn(emulator)
        done = threading.Lock()
        done.acquire()
        outcome: list[Any] = []

        def call() -> None:
            try:
                outcome.append((True, fn(emulator)))
            except BaseException as exc:  # handed to the caller, never left to the loop
                outcome.append((False, exc))
            finally:
                done.release()

        selector.queued.append(("", call, False))
        if selector.turn & 1:  # the loop may wait already: woken (on an even turn it runs ``call`` unwoken)
            loop.call_soon_threadsafe(_nothing)
        if not done.acquire(timeout=_START_TIMEOUT):
            raise TimeoutError(f"mock-sprinto: the server did not answer within {_START_TIMEOUT:g} s")
        ok, value = outcome[0]
        if not ok:
            raise value
        result: T = value
        return result

    def on_server_thread(self) -> bool:
        return self._server_ident == threading.get_ident()

    def new_integration(
        self,
        hint: str = "test",
        *,
        integration_id: str | None = None,
        api_key: str | None = None,
        lazy: bool = False,
        identity: str | None = None,
    ) -> MockSprinto:
        """A fresh tenant and a handle on it: the control plane's create, called on the server's
        thread (the same answer as ``POST /_mock/integrations``, without an HTTP round trip).

        Its id (unless ``integration_id`` names one) is the same on every run: ``hint`` and a hash of
        ``identity`` (default: ``hint``; the fixture passes the test's node id), so a seeded
        scenario meets the test with the same faults and session ids each time. The Nth id asked
        for the same ``hint`` and ``identity`` in this server ends in ``-N``: unique, and the same
        on every run too.

        ``lazy``: the id and key are chosen now, the tenant is made when the handle is first used
        (its id, key, headers or URL read, or a method called), so a test that never calls the
        emulator costs it nothing. Nobody can address the integration before that read, so every
        request finds it made and bound to its key; a refusal (e.g. ``max_integrations``) is
        raised there as ``ControlError``."""
        ident = integration_id or self._stable_id(hint, identity)
        handle = MockSprinto(self, ident, api_key or new_api_key(), created=False)
        if not lazy:
            handle._ensure()
        return handle

    def _stable_id(self, hint: str, identity: str | None) -> str:
        base = stable_integration_id(hint, identity)
        # A stable id ends in "-" and 8 hex digits; a repeat's "-N" (N under ten million) does not,
        # so it is never another test's stable id.
        with self._ids_lock:  # the fixture asks from the test's thread, a unittest suite from any
            given = self._ids_given.get(hash(base), 0) + 1
            self._ids_given[hash(base)] = given
        return base if given == 1 else f"{base}-{given}"

    def queue(self, integration_id: str, job: Callable[[Emulator], object], *, creates: bool = False) -> bool:
        """Hand ``job(emulator)`` (about ``integration_id``) to the server's thread without waking
        it: it runs as the loop next wakes, before whatever woke it, so anything the server is
        asked afterwards (over HTTP or ``run``) comes after it. ``job`` must handle its own
        failures. False (nothing queued) when the server is not running."""
        selector, emulator = self._selector, self.emulator
        if selector is None or emulator is None or not self.running:
            return False
        selector.queued.append((integration_id, lambda: job(emulator), creates))
        return True

    def queue_create(self, integration_id: str, api_key: str, refused: Callable[[ApiError], None]) -> bool:
        """Queue the create of a tenant (``queue``) when it is sure to be made: read while the
        server's thread waits (``read``), counting the creates queued before it. False when it
        could be refused (``max_integrations``, the memory budget, a taken id), or the server is
        busy: the caller creates it and waits. ``refused`` is told should it be refused anyway
        (a client filling the server meanwhile)."""
        selector = self._selector
        if selector is None:
            return False
        queued = tuple(selector.queued)
        before = sum(1 for each in queued if each[2])
        sure = self._peek(lambda emulator: ControlPlane(emulator).creatable(integration_id, api_key, before))
        if sure is not True or sum(1 for each in tuple(selector.queued) if each[2]) != before:
            return False

        def create(emulator: Emulator) -> None:
            try:
                ControlPlane(emulator).make_integration(integration_id, api_key)
            except ApiError as error:
                refused(error)

        return self.queue(integration_id, create, creates=True)

    def create_queued(self, integration_id: str) -> bool:
        """Whether the create of ``integration_id`` is still queued: no request has reached it."""
        selector = self._selector
        return selector is not None and any(each[0] == integration_id and each[2] for each in tuple(selector.queued))

    def _peek(self, fn: Callable[[Emulator], T]) -> T | object:
        """``fn(emulator)`` made on this thread while the server's thread waits, or ``_MISSED``."""
        selector, emulator = self._selector, self.emulator
        if selector is None or emulator is None or not self.running or self.on_server_thread():
            return _MISSED
        turn = selector.turn
        if not turn & 1:
            return _MISSED
        try:
            value = fn(emulator)
        except Exception:  # a read torn by the other thread
            return _MISSED
        return value if selector.turn == turn else _MISSED

    def read(self, integration_id: str, fn: Callable[[Emulator], T]) -> T:
        """``fn(emulator)`` for a read that changes nothing, about ``integration_id``: made on this
        thread when the server's thread waits for work with nothing queued about that integration
        (``_peek``), else on the server's thread like ``run``."""
        selector = self._selector
        if selector is not None and not any(each[0] == integration_id for each in tuple(selector.queued)):
            value = self._peek(fn)
            if value is not _MISSED:
                result: T = value  # type: ignore[assignment]
                return result
        return self.run(fn)

    def forget_soon(self, integration_id: str) -> None:
        """Delete a tenant on the server's thread without waiting for it: the end of a fixture.
        Queued (``queue``): whatever the server is asked afterwards (over HTTP or ``run``) comes after it."""

        def forget(emulator: Emulator) -> None:
            try:
                ControlPlane(emulator).delete_integration(integration_id)
            except ApiError:  # an id no integration can have: nothing to forget
                pass

        self.queue(integration_id, forget)


class _Control:
    """A blocking client of /_mock on one kept-alive connection (a test makes several calls)."""

    def __init__(self, host: str, port: int, admin_token: str | None) -> None:
        self._host, self._port = host, port
        # What http.client's request() sent unasked: the wire stays as it was.
        self._headers = {"Accept-Encoding": "identity", **admin_headers(admin_token)}
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def call(
        self, method: str, path: str, body: Any = None, *, expect: int = 200, send_body: bool | None = None
    ) -> Any:
        return self.send(Request(method, path, body, expect, send_body))

    def send(self, request: Request) -> Any:
        payload, headers = request.payload(), request.headers(self._headers)
        with self._lock:
            for attempt in (1, 2):
                reused = self._conn is not None
                conn = self._conn or connect(self._host, self._port, _START_TIMEOUT)
                try:
                    answer = exchange(conn, request.method, request.target, payload, headers)
                except (ConnectionError, http.client.BadStatusLine) as exc:
                    conn.close()
                    self._conn = None
                    if attempt == 1 and reused:  # the server dropped an idle kept-alive connection
                        continue
                    raise ControlError(
                        request.method, request.target, 0, f"no answer from the emulator: {exc!r}"
                    ) from exc
                self._conn = None if answer.will_close else conn
                break
        return request.answer(answer.status, answer.body)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# ---- the blocking handle -------------------------------------------------------------------------
class MockClock(ClockBase["MockSprinto"]):
    """One integration's clock: moving it moves only this tenant's time (expiry, processing)."""

    def advance(
        self, seconds: float | timedelta = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        """Move forward and settle what became due; returns the new emulator time."""
        return self._handle._run(self._advance(seconds, minutes, hours, days))

    def set(self, when: datetime | str) -> datetime:
        """Jump to ``when`` (an aware or UTC-naive datetime, or RFC 3339); never backwards."""
        return self._handle._run(self._set(when))

    def now(self) -> datetime:
        return self._handle._run(self._now())


class MockSprinto(HandleBase):
    """A test's integration on a shared emulator: where to send requests, and what it saw."""

    def __init__(self, server: MockSprintoServer, integration_id: str, api_key: str, *, created: bool = True) -> None:
        super().__init__(integration_id, api_key)
        self.server = server
        self.clock = MockClock(self)
        self._created = created
        self._making = threading.Lock()
        self._refused: ApiError | None = None

    def __repr__(self) -> str:
        return f"<MockSprinto {self._integration_id} at {self.base_url}>"

    @property
    def created(self) -> bool:
        return self._created

    def _ensure(self) -> None:
        if not self._created:
            self._create()

    def _create(self) -> None:
        """Make the tenant. Queued without waiting when it cannot be refused
        (``MockSprintoServer.queue_create``): the first use of a lazy handle is mostly the test
        about to send its first request, and the loop runs the create as that request wakes it, so
        the test waits for no hand-off of its own (two wake-ups of a thread on 2 cores). Else made
        on the server's thread and waited for, so a refusal (``max_integrations``, the memory
        budget) is raised here. Of two threads reading a new handle at once only the first one's
        create makes it: queued by ``_making``'s holder, or made by the server's thread, the only
        one that sets ``_created`` there."""
        refused_late = self.refused
        if refused_late is not None:  # a queued create refused after all: kept, and raised
            raise refused_late
        ident, key, server = self._integration_id, self._api_key, self.server
        if not server.on_server_thread():
            with self._making:
                if self._created:
                    return
                if server.queue_create(ident, key, self._refuse):
                    self._created = True
                    return

        def create(emulator: Emulator) -> ApiError | None:
            if self._created:
                return None
            try:
                ControlPlane(emulator).make_integration(ident, key)
            except ApiError as error:
                return error
            self._created = True
            return None

        refused = server.run(create)
        if refused is not None:
            raise ControlError("POST", "/integrations", refused.status, refused.problem())

    @property
    def unreached(self) -> bool:
        """No request can have reached the integration: not made, or its create still queued."""
        return not self._created or self.server.create_queued(self._integration_id)

    @property
    def met_nothing(self) -> bool:
        """Read on the test's thread without waiting for the loop: ``Tenant.quiet`` is one flag the
        server's thread clears, before the answer that clears it is sent, so once a test has its
        answers the flag says whether any of them (or a session since) can have met a behaviour."""
        emulator = self.server.emulator
        tenant = emulator.tenants.get(self._integration_id) if emulator is not None else None
        return tenant is not None and tenant.quiet

    @property
    def refused(self) -> ControlError | None:
        """Why the emulator refused this handle's queued create after all (``_create``), if it did."""
        error = self._refused
        return None if error is None else ControlError("POST", "/integrations", error.status, error.problem())

    def _refuse(self, error: ApiError) -> None:
        """A queued create the emulator refused after all (another client filled it meanwhile):
        the handle is not made, and its next use raises why."""
        self._refused, self._created = error, False

    @property
    def base_url(self) -> str:
        """The vendor API's base URL: what a client calls ``https://api.sprinto.com/api/external/push``."""
        return self.server.base_url

    @property
    def origin(self) -> str:
        return self.server.origin

    # this door: each request blocks on the server's connection; reads run on its thread
    def _run(self, op: Op[T]) -> T:
        __tracebackhide__ = True
        next_step = step(op, None)
        while not isinstance(next_step, Done):
            next_step = step(op, self.server.control.send(next_step))
        return next_step.value

    @property
    def _settings(self) -> Settings:
        return self.server.config.settings

    def _read(self, fn: Callable[[ControlPlane], T]) -> T:
        self._ensure()  # here, not inside fn on the server's thread
        return self.server.run(lambda emulator: fn(ControlPlane(emulator)))

    def _read_quiet(self, fn: Callable[[ControlPlane], T]) -> T:
        """``_read`` for a read that changes nothing: made on this thread while the server waits
        (``MockSprintoServer.read``), without a hand-off."""
        self._ensure()
        return self.server.read(self._integration_id, lambda emulator: fn(ControlPlane(emulator)))

    # configuration
    def use_scenario(self, scenario: ScenarioSpec, *, settings: Mapping[str, Any] | None = None) -> ScenarioView:
        """Give this integration a scenario: a shipped name, a YAML/JSON file, or a dict
        (and, with ``settings``, its own setting overrides, which win over the scenario's)."""
        return self._run(self._use_scenario(scenario, settings))

    def use_settings(self, settings: Mapping[str, Any]) -> SettingsView:
        """Replace this integration's own setting overrides (they outlast scenario changes)."""
        return self._run(self._use_settings(settings))

    def clear_scenario(self) -> None:
        self._run(self._clear_scenario())

    # observation
    def sessions(self) -> list[SessionView]:
        """Every session kept, with its pages (accepted and rejected), errors and timings."""
        return self._run(self._fetch_sessions())

    def session(self, session_id: str) -> SessionView:
        return self._run(self._fetch_session(session_id))

    def records(self, entity_type: str) -> list[dict[str, Any]]:
        """The applied dataset of one entity type (empty until a session is processed)."""
        return self._run(self._fetch_records(entity_type))

    def activity(self) -> list[ActivityItemView]:
        """The integration's activity log, oldest first, every item kept (no vendor request)."""
        return self._activity_items()

    def journal(self, limit: int | None = None) -> list[JournalEntryView]:
        """This integration's requests as the emulator answered them, oldest first."""
        return self._run(self._fetch_journal(limit))

    # verdicts
    def assert_session_processed(
        self, session_id: str | None = None, *, records: int | None = None, by_entity: Mapping[str, int] | None = None
    ) -> SessionView:
        """The session (default: the latest) was applied, with these counts; returns it."""
        __tracebackhide__ = True
        return self._run(self._processed_session(session_id, records, by_entity))

    def assert_no_rejected_pages(self) -> None:
        """No page of any session was rejected; else every rejected page and its errors."""
        __tracebackhide__ = True
        self._run(self._assert_no_rejected_pages())

    def report(self) -> ReportView:
        """The judge's report on this test's client: findings (with evidence and advice) and the
        Sprinto behaviours the run met (``GET /_mock/integrations/{id}/report``)."""
        return self._run(self._fetch_report())

    def har(self, path: str | os.PathLike[str]) -> Path:
        """This integration's requests as a HAR 1.2 file at ``path`` (``GET /_mock/journal.har``):
        open it in a browser's developer tools (Network, import HAR). Returns the path."""
        return self._run(self._har(path))

    def assert_client_well_behaved(self, allow: Sequence[str] = (), *, allow_no_request: bool = False) -> ReportView:
        """No error or warning finding (but those ``allow`` names) in the report; returns it.
        A failure names each finding with its evidence and advice. An empty report fails too when
        no Sprinto API request reached the integration (nothing was judged), naming the likely
        causes, unless ``allow_no_request``: a test whose client is meant to send none."""
        __tracebackhide__ = True
        return self._run(self._well_behaved_report(allow, allow_no_request))

    # verification (POST /_mock/integrations/{id}/verify; docs/verify.md)
    def verify(
        self,
        expectations: Mapping[str, Any] | None = None,
        *,
        counts: Sequence[Mapping[str, Any]] = (),
        sequence: Sequence[Mapping[str, Any]] | None = None,
        only: bool = False,
        allow: Sequence[Mapping[str, Any]] = (),
    ) -> VerificationView:
        """This integration's requests checked against expectations (a document, or its parts as
        keywords): the verdict, ``ok`` false with the ``diff`` when they are not met (no exception)."""
        return self._run(self._verify(expectations_of(expectations, counts, sequence, only, allow)))

    def assert_verified(
        self,
        expectations: Mapping[str, Any] | None = None,
        *,
        counts: Sequence[Mapping[str, Any]] = (),
        sequence: Sequence[Mapping[str, Any]] | None = None,
        only: bool = False,
        allow: Sequence[Mapping[str, Any]] = (),
    ) -> VerificationView:
        """``verify``, failing with the diff (the requests that arrived, the first mismatch marked)."""
        __tracebackhide__ = True
        return self._run(self._assert_verified(expectations_of(expectations, counts, sequence, only, allow)))

    def assert_requests(
        self, *counts: Mapping[str, Any], only: bool = False, allow: Sequence[Mapping[str, Any]] = ()
    ) -> VerificationView:
        """Each count holds, e.g. ``{"operation": "push_page", "status": 202, "exactly": 3}`` or
        ``{"status": "5xx", "never": True}`` (with ``only``: and nothing else arrived)."""
        __tracebackhide__ = True
        return self._run(self._assert_verified(expectations_of(None, counts, None, only, allow)))

    def assert_sequence(
        self, *steps: Mapping[str, Any], only: bool = False, allow: Sequence[Mapping[str, Any]] = ()
    ) -> VerificationView:
        """The requests these steps match came in this order, e.g. a start, ``{"operation":
        "push_page", "status": 202, "repeat": "+"}``, a close with ``"body": {"status": "apply"}``."""
        __tracebackhide__ = True
        return self._run(self._assert_verified(expectations_of(None, (), steps, only, allow)))

    def assert_no_unexpected_requests(self, *expected: Mapping[str, Any]) -> VerificationView:
        """Every request matches one of ``expected`` (matchers, e.g. ``{"status": "2xx"}``)."""
        __tracebackhide__ = True
        return self._run(self._assert_verified(expectations_of(None, (), None, True, expected)))

    # state bundles (docs/bundles.md)
    def export_state(self, path: str | os.PathLike[str]) -> Path:
        """This integration's state bundle written to ``path`` (``.gz``: gzip); ``mock-sprinto serve
        --state PATH`` starts from it. Returns the path."""
        return self._run(self._export_state(path))

    def import_state(self, bundle: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
        """Replace this integration by a bundle of it (a file or a document)."""
        return self._run(self._import_state(bundle))

    def delete(self) -> None:
        """Forget the integration (its sessions, data and clock): the end of a test."""
        if self._created:  # else there is nothing to forget yet
            self.server.control.send(self._request("DELETE", "", expect=204))

    def forget_soon(self) -> None:
        """``delete`` without waiting for it (the fixture's teardown): later calls come after it."""
        if self._created:
            self.server.forget_soon(self._integration_id)


class _DestroyedTaskNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Task was destroyed but it is pending")


def _collect_abandoned_handlers() -> None:
    """A request still running at the end of the shutdown grace (a body draining after a 413, a
    handler the runner gave up on) is abandoned with the loop; asyncio logs "Task was destroyed
    but it is pending" when it is collected, later, in the middle of the user's output. Nothing
    anyone can act on: collect it now, under a filter for that one message."""
    noise = _DestroyedTaskNoise()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addFilter(noise)
    try:
        gc.collect()
    finally:
        asyncio_log.removeFilter(noise)
