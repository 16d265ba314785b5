"""The emulator for tests: a server on a background thread, and handles on one tenant of it.

The pytest plugin (``mock_sprinto.pytest_plugin``) is a thin layer over this module; nothing
here imports pytest, so a ``unittest`` suite can use it too::

    with MockSprintoServer() as server:
        mock = server.new_integration("nightly-sync")
        run_my_sync(mock.base_url, mock.integration_id, mock.api_key)
        mock.clock.advance(seconds=2)
        mock.assert_session_processed(records=250)

Two handles share one API: ``MockSprinto`` (blocking, for a server on its own thread; usable
from sync and async tests alike) and ``AsyncMockSprinto`` (awaitable, for an emulator served
in-process on the test's own event loop, where a blocking call would deadlock).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar, Union

import orjson
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from .clock import parse_time
from .control import ControlPlane
from .http import API_PREFIX, CONTROL_PREFIX, RUNNER_KWARGS, create_app
from .service import Emulator
from .settings import Config, Settings, SettingsError, coerce
from .validation import SchemaRegistry

__all__ = [
    "AsyncMockClock",
    "AsyncMockSprinto",
    "MockClock",
    "MockSprinto",
    "MockSprintoError",
    "MockSprintoServer",
    "ScenarioSpec",
    "load_registry",
    "load_scenario_file",
    "new_integration_id",
    "sample_user",
    "scenario_body",
]

T = TypeVar("T")

# A shipped scenario's name, a path to a YAML/JSON scenario file, or an inline scenario object.
ScenarioSpec = Union[str, "os.PathLike[str]", Mapping[str, Any]]

_PATH_SUFFIXES = (".yaml", ".yml", ".json")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
# A request still in flight at shutdown (a scenario delay, a hung client) gets this long, not
# aiohttp's default minute, so the end of a test session is never held up by the emulator.
_SHUTDOWN_GRACE = 2.0
PAGES_SHOWN = 20
ERRORS_SHOWN = 10
JOURNAL_SHOWN = 20


class MockSprintoError(Exception):
    """The control plane refused a call: the HTTP status and the problem object it sent."""

    def __init__(self, method: str, path: str, status: int, problem: Any) -> None:
        self.status = status
        self.problem = problem
        self.code = problem.get("code") if isinstance(problem, dict) else None
        super().__init__(f"{method} {path} answered {status}: {_problem_text(problem)}")


def _problem_text(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)[:500]
    text = f"{problem.get('code', 'error')}: {problem.get('detail', '')}".rstrip(": ")
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:  # e.g. an invalid scenario lists every problem
        text += "".join(f"\n  - {_one_line(error)}" for error in errors[:50])
    return text


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        where = value.get("path") or value.get("pointer") or value.get("location") or ""
        message = value.get("message") or value.get("issue") or value.get("detail") or json.dumps(value)
        return f"{where}: {message}" if where else str(message)
    return str(value)


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


# ---- ids, settings, scenarios ------------------------------------------------------------------
def new_integration_id(hint: str = "test") -> str:
    """A readable, unique integration id: the test's name plus random bits (for the dashboard)."""
    slug = _ID_UNSAFE.sub("-", hint).strip("-._")[:80] or "test"
    return f"{slug}-{secrets.token_hex(4)}"


def _new_api_key() -> str:
    return "key-" + secrets.token_hex(12)


def sample_user(i: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid ``User`` record shaped like Sprinto's documented example; ``fields`` override."""
    return {
        "employeeId": f"E{i}",
        "firstName": "Alice",
        "lastName": "Johnson",
        "fullName": "Alice Johnson",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentEndDate": None,
        "workEmail": f"alice{i}@example.com",
        "managerId": "E0",
        "role": "ENG01",
        "roleDescription": "Software Engineer",
        "employmentType": "EMPLOYEE",
        **fields,
    }


def checked_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Setting overrides checked here, so a typo fails in the test that made it, by name."""
    checked: dict[str, Any] = {}
    for name, value in (settings or {}).items():
        try:
            checked[name] = coerce(str(name), value)
        except SettingsError as exc:
            raise ValueError(str(exc)) from None
    return checked


def _looks_like_path(value: str) -> bool:
    # Shipped scenario names never contain a separator or a file suffix ("a name is never a path").
    return value.endswith(_PATH_SUFFIXES) or "/" in value or "\\" in value or os.sep in value


def load_scenario_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A scenario file read client-side (relative paths are from the working directory)."""
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"scenario file {str(where)!r}: {exc.strerror or exc} (relative paths start at {os.getcwd()!r})"
        ) from None
    try:
        data = json.loads(text) if where.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"scenario file {str(where)!r} is not valid {where.suffix[1:] or 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"scenario file {str(where)!r} must hold a mapping (name, settings, rules)")
    return data


def scenario_body(scenario: ScenarioSpec | None) -> Any:
    """The JSON body of ``PUT …/scenario``: a shipped name (a JSON string) or a scenario object.

    A path is read here and sent inline, because the server never reads paths a client names.
    None: nothing to send.
    """
    if isinstance(scenario, os.PathLike) or (isinstance(scenario, str) and _looks_like_path(scenario)):
        scenario = load_scenario_file(scenario)
    if scenario is not None and not isinstance(scenario, (str, Mapping)):
        raise TypeError(f"a scenario is a shipped name, a path or a dict, not {type(scenario).__name__}")
    return dict(scenario) if isinstance(scenario, Mapping) else scenario


def load_registry(settings: Settings) -> SchemaRegistry:
    return SchemaRegistry.shipped(settings.schemas_dir)


# ---- readable verdicts --------------------------------------------------------------------------
def _format_error(error: Mapping[str, Any]) -> str:
    entity, index, field = error.get("entity_type"), error.get("index"), error.get("field")
    where = f"{entity}[{index}]" if entity is not None and index is not None else (entity or "page")
    if field:
        where += f".{field}"
    tail = ", ".join(str(p) for p in (error.get("code"), error.get("pointer")) if p)
    return f"{where}: {error.get('issue', '?')}" + (f"  ({tail})" if tail else "")


def format_rejected_pages(sessions: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """(number of rejected pages, a listing of them with their errors)."""
    lines: list[str] = []
    rejected = 0
    for session in sessions:
        for page in session.get("pages", []):
            if page.get("accepted"):
                continue
            rejected += 1
            if rejected > PAGES_SHOWN:
                continue
            hint = "" if page.get("page_hint") is None else f", page_hint {page['page_hint']!r}"
            records = f", {page['record_count']} records" if page.get("record_count") else ""
            lines.append(
                f"  session {session['id']} (#{session.get('ordinal', '?')}), page {page['ordinal']}"
                f"{hint}{records}: {page.get('code')}: {page.get('detail')}"
            )
            errors = page.get("errors") or []
            lines.extend(f"      {_format_error(error)}" for error in errors[:ERRORS_SHOWN])
            more = len(errors) - ERRORS_SHOWN + (1 if page.get("errors_truncated") else 0)
            if more > 0:
                lines.append(
                    f"      … and {'more than ' if page.get('errors_truncated') else ''}{max(more, 1)} more errors"
                )
    if rejected > PAGES_SHOWN:
        lines.append(f"  … and {rejected - PAGES_SHOWN} more rejected pages")
    return rejected, "\n".join(lines)


def _state_hint(session: Mapping[str, Any]) -> str:
    state = session.get("state")
    if state == "active":
        return (
            "it is still active: the client never closed it "
            f'(POST …/sessions/{session["id"]}/close with {{"status": "apply"}})'
        )
    if state == "processing":
        return (
            "it is still processing: processing takes `processing_seconds` of emulator time "
            "(2 s by default); move the clock first, e.g. mock_sprinto.clock.advance(seconds=2)"
        )
    if state == "expired":
        return (
            f"it expired at {session.get('expires_at')} after {session.get('inactivity_timeout_seconds')} s "
            "without a request; an expired session can still be closed with apply"
        )
    if state == "cancelled":
        return "it was closed with discard, so nothing was applied"
    if state == "failed":
        return f"processing failed (retry_count {session.get('retry_count')}); last_error: {session.get('last_error')}"
    return f"its state is {state!r}"


def _pages_line(session: Mapping[str, Any]) -> str:
    counts = session.get("accepted_records_by_entity") or {}
    by_entity = ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"
    return (
        f"{session.get('accepted_batches', 0)} pages accepted ({session.get('accepted_records_total', 0)} "
        f"records: {by_entity}), {session.get('rejected_batches', 0)} rejected"
    )


def processed_failure(
    session: Mapping[str, Any], records: int | None, by_entity: Mapping[str, int] | None
) -> str | None:
    """Why ``session`` is not 'processed with these counts', or None when it is."""
    problems: list[str] = []
    if session.get("state") != "processed":
        problems.append(f"session {session['id']} is {session.get('state')!r}, not 'processed': {_state_hint(session)}")
    if records is not None and session.get("accepted_records_total") != records:
        problems.append(
            f"session {session['id']} has {session.get('accepted_records_total')} accepted records, expected {records}"
        )
    if by_entity is not None and dict(session.get("accepted_records_by_entity") or {}) != dict(by_entity):
        problems.append(
            f"session {session['id']} accepted {dict(session.get('accepted_records_by_entity') or {})} "
            f"by entity type, expected {dict(by_entity)}"
        )
    if not problems:
        return None
    problems.append(f"  {_pages_line(session)}")
    rejected, listing = format_rejected_pages([session])
    if rejected:
        problems.append(f"  rejected pages:\n{listing}")
    return "\n".join(problems)


def _pick_session(sessions: Sequence[Mapping[str, Any]], session_id: str | None) -> Mapping[str, Any]:
    if not sessions:
        raise AssertionError("no session was started on this integration")
    if session_id is None:
        return max(sessions, key=lambda s: s.get("ordinal", 0))
    for session in sessions:
        if session["id"] == session_id:
            return session
    known = ", ".join(s["id"] for s in sessions)
    raise AssertionError(f"no session {session_id!r} on this integration (sessions: {known})")


def no_rejected_failure(sessions: Sequence[Mapping[str, Any]]) -> str | None:
    rejected, listing = format_rejected_pages(sessions)
    if not rejected:
        return None
    received = sum(len(s.get("pages", [])) for s in sessions)
    return f"{rejected} of {received} pages were rejected:\n{listing}"


def describe_integration(
    integration_id: str, base_url: str, sessions: Sequence[Mapping[str, Any]], journal: Sequence[Mapping[str, Any]]
) -> str:
    """What the emulator saw of one integration: added to a failing test's report."""
    lines = [f"integration {integration_id} at {base_url}"]
    if not sessions:
        lines.append("no sessions")
    for session in sorted(sessions, key=lambda s: s.get("ordinal", 0)):
        lines.append(
            f"session #{session.get('ordinal')} {session['id']} {session.get('state')}: {_pages_line(session)}"
        )
    rejected, listing = format_rejected_pages(sessions)
    if rejected:
        lines.append(f"rejected pages:\n{listing}")
    if journal:
        shown = journal[-JOURNAL_SHOWN:]
        lines.append(
            f"last {len(shown)} of {len(journal)} requests (paths after {base_url}/v1/integrations/{integration_id}):"
        )
        prefix = f"{API_PREFIX}/v1/integrations/{integration_id}"
        for entry in shown:
            path = str(entry["path"])
            path = (path[len(prefix) :] or "/") if path.startswith(prefix) else path
            code = f" {entry['code']}" if entry.get("code") else ""
            rule = f" [rule {entry['rule']}]" if entry.get("rule") else ""
            lines.append(f"  {entry['at']} {entry['method']} {path} -> {entry['status']}{code}{rule}")
    return "\n".join(lines)


def _activity_of(emulator: Emulator, integration_id: str) -> list[dict[str, Any]]:
    return ControlPlane(emulator).activity(integration_id)


def _sessions_of(emulator: Emulator, integration_id: str) -> list[dict[str, Any]]:
    tenant = emulator.tenants.get(integration_id)
    if tenant is None:
        return []
    emulator.settle(tenant)
    return [session.detail() for session in tenant.sessions.values()]


def _clock_body(when: datetime | str) -> dict[str, str]:
    if isinstance(when, datetime):
        # A naive datetime is read as UTC, as freezegun does.
        moment = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
        return {"now": moment.isoformat()}
    return {"now": when}


def _advance_body(seconds: float | timedelta, minutes: float, hours: float, days: float) -> dict[str, float]:
    base = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    return {"seconds": base + minutes * 60 + hours * 3600 + days * 86400}


def _as_datetime(view: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(parse_time(view["now"]), tz=timezone.utc)


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._control: _Control | None = None

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
        loop = _WallTimeLoop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        assert self.emulator is not None
        self._stop = asyncio.Event()
        runner = web.AppRunner(
            create_app(self.emulator), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE, **RUNNER_KWARGS
        )
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

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.port is not None

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
        """Call ``fn(emulator)`` on the server's thread (the emulator is not thread-safe)."""
        loop, emulator = self._loop, self.emulator
        if loop is None or emulator is None or not self.running:
            raise RuntimeError("mock-sprinto: the server is not running")

        async def call() -> T:
            return fn(emulator)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(_START_TIMEOUT)

    def new_integration(
        self, hint: str = "test", *, integration_id: str | None = None, api_key: str | None = None
    ) -> MockSprinto:
        """A fresh tenant (created through the control API) and a handle on it."""
        ident = integration_id or new_integration_id(hint)
        key = api_key or _new_api_key()
        created = self.control.call("POST", "/integrations", {"id": ident, "api_key": key}, expect=201)
        return MockSprinto(self, created["id"], created["api_key"])


class _Control:
    """A blocking client of /_mock on one kept-alive connection (a test makes several calls)."""

    def __init__(self, host: str, port: int, admin_token: str | None) -> None:
        self._host, self._port = host, port
        self._headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def call(
        self, method: str, path: str, body: Any = None, *, expect: int = 200, send_body: bool | None = None
    ) -> Any:
        full = CONTROL_PREFIX + path
        has_body = body is not None if send_body is None else send_body
        payload = orjson.dumps(body) if has_body else None
        headers = {**self._headers, **({"Content-Type": "application/json"} if has_body else {})}
        with self._lock:
            for attempt in (1, 2):
                reused = self._conn is not None
                conn = self._conn or http.client.HTTPConnection(self._host, self._port, timeout=_START_TIMEOUT)
                try:
                    conn.request(method, full, body=payload, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (ConnectionError, http.client.BadStatusLine) as exc:
                    conn.close()
                    self._conn = None
                    if attempt == 1 and reused:  # the server dropped an idle kept-alive connection
                        continue
                    raise MockSprintoError(method, full, 0, f"no answer from the emulator: {exc!r}") from exc
                self._conn = None if response.will_close else conn
                break
        parsed: Any = orjson.loads(data) if data else None
        if response.status != expect:
            raise MockSprintoError(method, full, response.status, parsed)
        return parsed

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# ---- the blocking handle -------------------------------------------------------------------------
class MockClock:
    """One integration's clock: moving it moves only this tenant's time (expiry, processing)."""

    def __init__(self, handle: MockSprinto) -> None:
        self._handle = handle

    def advance(
        self, seconds: float | timedelta = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        """Move forward and settle what became due; returns the new emulator time."""
        view = self._handle._call("POST", "/clock/advance", _advance_body(seconds, minutes, hours, days))
        return _as_datetime(view)

    def set(self, when: datetime | str) -> datetime:
        """Jump to ``when`` (an aware or UTC-naive datetime, or RFC 3339); never backwards."""
        return _as_datetime(self._handle._call("POST", "/clock/set", _clock_body(when)))

    def now(self) -> datetime:
        return _as_datetime(self._handle._call("GET", "/clock"))


class _Integration:
    """What both handles derive from a base URL, an integration id and its key."""

    integration_id: str
    api_key: str

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    @property
    def integration_url(self) -> str:
        return f"{self.base_url}/v1/integrations/{self.integration_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key}


class MockSprinto(_Integration):
    """A test's integration on a shared emulator: where to send requests, and what it saw."""

    def __init__(self, server: MockSprintoServer, integration_id: str, api_key: str) -> None:
        self.server = server
        self.integration_id = integration_id
        self.api_key = api_key
        self.clock = MockClock(self)

    def __repr__(self) -> str:
        return f"<MockSprinto {self.integration_id} at {self.base_url}>"

    @property
    def base_url(self) -> str:
        """The vendor API's base URL: what a client calls ``https://api.sprinto.com/api/external/push``."""
        return self.server.base_url

    @property
    def origin(self) -> str:
        return self.server.origin

    def _call(self, method: str, tail: str, body: Any = None, expect: int = 200, **kwargs: Any) -> Any:
        return self.server.control.call(
            method, f"/integrations/{self.integration_id}{tail}", body, expect=expect, **kwargs
        )

    # configuration
    def use_scenario(self, scenario: ScenarioSpec, *, settings: Mapping[str, Any] | None = None) -> Any:
        """Give this integration a scenario: a shipped name, a YAML/JSON file, or a dict
        (and, with ``settings``, its own setting overrides, which win over the scenario's)."""
        if settings is not None:
            self.use_settings(settings)
        return self._call("PUT", "/scenario", scenario_body(scenario), send_body=True)

    def use_settings(self, settings: Mapping[str, Any]) -> Any:
        """Replace this integration's own setting overrides (they outlast scenario changes)."""
        return self._call("PUT", "/settings", checked_settings(settings), send_body=True)

    def clear_scenario(self) -> None:
        self._call("DELETE", "/scenario", expect=204)

    # observation
    def sessions(self) -> list[dict[str, Any]]:
        """Every session kept, with its pages (accepted and rejected), errors and timings."""
        return list(self._call("GET", "/sessions")["sessions"])

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/sessions/{session_id}"))

    def records(self, entity_type: str) -> list[dict[str, Any]]:
        """The applied dataset of one entity type (empty until a session is processed)."""
        return list(self._call("GET", f"/records/{entity_type}")["records"])

    def activity(self) -> list[dict[str, Any]]:
        """The integration's activity log, oldest first, every item kept.

        Read from the emulator directly rather than through the vendor's activity endpoint,
        which would itself be journaled, rate-limited and subject to the scenario's faults."""
        return self.server.run(lambda emulator: _activity_of(emulator, self.integration_id))

    def journal(self, limit: int | None = None) -> list[dict[str, Any]]:
        """This integration's requests as the emulator answered them, oldest first."""
        size = limit or self.server.config.settings.journal_size
        entries = self.server.control.call("GET", f"/journal?integration_id={self.integration_id}&limit={size}")
        return list(entries["entries"])

    # verdicts
    def assert_session_processed(
        self, session_id: str | None = None, *, records: int | None = None, by_entity: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        """The session (default: the latest) was applied, with these counts; returns it."""
        __tracebackhide__ = True
        session = _pick_session(self.sessions(), session_id)
        failure = processed_failure(session, records, by_entity)
        if failure:
            raise AssertionError(failure)
        return dict(session)

    def assert_no_rejected_pages(self) -> None:
        """No page of any session was rejected; else every rejected page and its errors."""
        __tracebackhide__ = True
        failure = no_rejected_failure(self.sessions())
        if failure:
            raise AssertionError(failure)

    def describe(self) -> str:
        sessions, journal = self.server.run(
            lambda emulator: (
                _sessions_of(emulator, self.integration_id),
                emulator.journal.recent(self.integration_id, JOURNAL_SHOWN * 5),
            )
        )
        return describe_integration(self.integration_id, self.base_url, sessions, journal)

    def delete(self) -> None:
        """Forget the integration (its sessions, data and clock): the end of a test."""
        self.server.control.call("DELETE", f"/integrations/{self.integration_id}", expect=204)


# ---- the in-process handle ------------------------------------------------------------------------
class AsyncMockClock:
    def __init__(self, handle: AsyncMockSprinto) -> None:
        self._handle = handle

    async def advance(
        self, seconds: float | timedelta = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        view = await self._handle._call("POST", "/clock/advance", _advance_body(seconds, minutes, hours, days))
        return _as_datetime(view)

    async def set(self, when: datetime | str) -> datetime:
        return _as_datetime(await self._handle._call("POST", "/clock/set", _clock_body(when)))

    async def now(self) -> datetime:
        return _as_datetime(await self._handle._call("GET", "/clock"))


class AsyncMockSprinto(_Integration):
    """The same handle for an emulator served in-process by pytest-aiohttp: ``client`` is the
    aiohttp TestClient, ``emulator`` the domain object behind it (same thread, same loop)."""

    def __init__(self, client: TestClient[Any, Any], emulator: Emulator, integration_id: str, api_key: str) -> None:
        self.client = client
        self.emulator = emulator
        self.integration_id = integration_id
        self.api_key = api_key
        self.clock = AsyncMockClock(self)
        token = emulator.settings.admin_token
        self._control_headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __repr__(self) -> str:
        return f"<AsyncMockSprinto {self.integration_id} at {self.base_url}>"

    @property
    def app(self) -> web.Application:
        app: web.Application | None = self.client.app
        assert app is not None
        return app

    @property
    def base_url(self) -> str:
        return str(self.client.make_url(API_PREFIX))

    @property
    def integration_path(self) -> str:
        """The integration's path, for ``client.post(mock.integration_path + "/sessions")``."""
        return f"{API_PREFIX}/v1/integrations/{self.integration_id}"

    async def _call(
        self,
        method: str,
        tail: str,
        body: Any = None,
        expect: int = 200,
        send_body: bool | None = None,
        path: str | None = None,
    ) -> Any:
        full = CONTROL_PREFIX + (path or f"/integrations/{self.integration_id}{tail}")
        has_body = body is not None if send_body is None else send_body
        kwargs: dict[str, Any] = (
            {"data": orjson.dumps(body), "headers": {**self._control_headers, "Content-Type": "application/json"}}
            if has_body
            else {"headers": self._control_headers}
        )
        async with self.client.request(method, full, **kwargs) as response:
            data = await response.read()
            parsed: Any = orjson.loads(data) if data else None
            if response.status != expect:
                raise MockSprintoError(method, full, response.status, parsed)
            return parsed

    async def use_scenario(self, scenario: ScenarioSpec, *, settings: Mapping[str, Any] | None = None) -> Any:
        if settings is not None:
            await self.use_settings(settings)
        return await self._call("PUT", "/scenario", scenario_body(scenario), send_body=True)

    async def use_settings(self, settings: Mapping[str, Any]) -> Any:
        return await self._call("PUT", "/settings", checked_settings(settings), send_body=True)

    async def clear_scenario(self) -> None:
        await self._call("DELETE", "/scenario", expect=204)

    async def sessions(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/sessions"))["sessions"])

    async def session(self, session_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/sessions/{session_id}"))

    async def records(self, entity_type: str) -> list[dict[str, Any]]:
        return list((await self._call("GET", f"/records/{entity_type}"))["records"])

    async def activity(self) -> list[dict[str, Any]]:
        return _activity_of(self.emulator, self.integration_id)

    async def journal(self, limit: int | None = None) -> list[dict[str, Any]]:
        size = limit or self.emulator.settings.journal_size
        entries = await self._call("GET", "", path=f"/journal?integration_id={self.integration_id}&limit={size}")
        return list(entries["entries"])

    async def assert_session_processed(
        self, session_id: str | None = None, *, records: int | None = None, by_entity: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        __tracebackhide__ = True
        session = _pick_session(await self.sessions(), session_id)
        failure = processed_failure(session, records, by_entity)
        if failure:
            raise AssertionError(failure)
        return dict(session)

    async def assert_no_rejected_pages(self) -> None:
        __tracebackhide__ = True
        failure = no_rejected_failure(await self.sessions())
        if failure:
            raise AssertionError(failure)

    def describe(self) -> str:
        # Plain reads of in-memory state: callable from a report hook, when no loop runs.
        sessions = _sessions_of(self.emulator, self.integration_id)
        journal = self.emulator.journal.recent(self.integration_id, JOURNAL_SHOWN * 5)
        return describe_integration(self.integration_id, self.base_url, sessions, journal)
