"""The awaitable handle, for an emulator served in-process on the test's own event loop (by
pytest-aiohttp), where a blocking call would deadlock: the same methods as ``MockSprinto``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient

from ..control import ControlPlane
from ..http import API_PREFIX
from ..service import Emulator
from ..settings import Settings
from .common import SERVER_WIDE_IN_PROCESS, ScenarioSpec
from .handle import ClockBase, Done, HandleBase, Op, Request, admin_headers, expectations_of, step
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


class AsyncMockClock(ClockBase["AsyncMockSprinto"]):
    async def advance(
        self, seconds: float | timedelta = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        return await self._handle._run(self._advance(seconds, minutes, hours, days))

    async def set(self, when: datetime | str) -> datetime:
        return await self._handle._run(self._set(when))

    async def now(self) -> datetime:
        return await self._handle._run(self._now())


class AsyncMockSprinto(HandleBase):
    """The same handle for an emulator served in-process by pytest-aiohttp: ``client`` is the
    aiohttp TestClient, ``emulator`` the domain object behind it (same thread, same loop)."""

    def __init__(self, client: TestClient[Any, Any], emulator: Emulator, integration_id: str, api_key: str) -> None:
        super().__init__(integration_id, api_key)
        self.client = client
        self.emulator = emulator
        self.clock = AsyncMockClock(self)
        self._control_headers = admin_headers(emulator.settings.admin_token)

    # Where a server-wide setting goes: this emulator is the test's own, configured by the call.
    _SERVER_WIDE_ADVICE = SERVER_WIDE_IN_PROCESS

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

    # this door: each request is awaited through the test client; reads are plain calls, as the
    # emulator lives on this thread and this loop
    async def _run(self, op: Op[T]) -> T:
        __tracebackhide__ = True
        next_step = step(op, None)
        while not isinstance(next_step, Done):
            next_step = step(op, await self._send(next_step))
        return next_step.value

    async def _send(self, request: Request) -> Any:
        async with self.client.request(
            request.method, request.target, data=request.payload(), headers=request.headers(self._control_headers)
        ) as response:
            return request.answer(response.status, await response.read())

    @property
    def _settings(self) -> Settings:
        return self.emulator.settings

    def _read(self, fn: Callable[[ControlPlane], T]) -> T:
        return fn(ControlPlane(self.emulator))

    # configuration
    async def use_scenario(self, scenario: ScenarioSpec, *, settings: Mapping[str, Any] | None = None) -> ScenarioView:
        return await self._run(self._use_scenario(scenario, settings))

    async def use_settings(self, settings: Mapping[str, Any]) -> SettingsView:
        return await self._run(self._use_settings(settings))

    async def clear_scenario(self) -> None:
        await self._run(self._clear_scenario())

    # observation
    async def sessions(self) -> list[SessionView]:
        return await self._run(self._fetch_sessions())

    async def session(self, session_id: str) -> SessionView:
        return await self._run(self._fetch_session(session_id))

    async def records(self, entity_type: str) -> list[dict[str, Any]]:
        return await self._run(self._fetch_records(entity_type))

    async def activity(self) -> list[ActivityItemView]:
        return self._activity_items()

    async def journal(self, limit: int | None = None) -> list[JournalEntryView]:
        return await self._run(self._fetch_journal(limit))

    # verdicts
    async def assert_session_processed(
        self, session_id: str | None = None, *, records: int | None = None, by_entity: Mapping[str, int] | None = None
    ) -> SessionView:
        __tracebackhide__ = True
        return await self._run(self._processed_session(session_id, records, by_entity))

    async def assert_no_rejected_pages(self) -> None:
        __tracebackhide__ = True
        await self._run(self._assert_no_rejected_pages())

    async def report(self) -> ReportView:
        return await self._run(self._fetch_report())

    async def har(self, path: str | os.PathLike[str]) -> Path:
        """This integration's requests as a HAR 1.2 file at ``path``; returns the path."""
        return await self._run(self._har(path))

    async def assert_client_well_behaved(
        self, allow: Sequence[str] = (), *, allow_no_request: bool = False
    ) -> ReportView:
        __tracebackhide__ = True
        return await self._run(self._well_behaved_report(allow, allow_no_request))

    # verification (POST /_mock/integrations/{id}/verify; docs/verify.md)
    async def verify(
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
        return await self._run(self._verify(expectations_of(expectations, counts, sequence, only, allow)))

    async def assert_verified(
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
        return await self._run(self._assert_verified(expectations_of(expectations, counts, sequence, only, allow)))

    async def assert_requests(
        self, *counts: Mapping[str, Any], only: bool = False, allow: Sequence[Mapping[str, Any]] = ()
    ) -> VerificationView:
        """Each count holds, e.g. ``{"operation": "push_page", "status": 202, "exactly": 3}`` or
        ``{"status": "5xx", "never": True}`` (with ``only``: and nothing else arrived)."""
        __tracebackhide__ = True
        return await self._run(self._assert_verified(expectations_of(None, counts, None, only, allow)))

    async def assert_sequence(
        self, *steps: Mapping[str, Any], only: bool = False, allow: Sequence[Mapping[str, Any]] = ()
    ) -> VerificationView:
        """The requests these steps match came in this order, e.g. a start, ``{"operation":
        "push_page", "status": 202, "repeat": "+"}``, a close with ``"body": {"status": "apply"}``."""
        __tracebackhide__ = True
        return await self._run(self._assert_verified(expectations_of(None, (), steps, only, allow)))

    async def assert_no_unexpected_requests(self, *expected: Mapping[str, Any]) -> VerificationView:
        """Every request matches one of ``expected`` (matchers, e.g. ``{"status": "2xx"}``)."""
        __tracebackhide__ = True
        return await self._run(self._assert_verified(expectations_of(None, (), None, True, expected)))

    # state bundles (docs/bundles.md)
    async def export_state(self, path: str | os.PathLike[str]) -> Path:
        """This integration's state bundle written to ``path`` (``.gz``: gzip); ``mock-sprinto serve
        --state PATH`` starts from it. Returns the path."""
        return await self._run(self._export_state(path))

    async def import_state(self, bundle: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
        """Replace this integration by a bundle of it (a file or a document)."""
        return await self._run(self._import_state(bundle))
