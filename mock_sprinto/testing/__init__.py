"""The emulator for tests: a server on a background thread, and handles on one tenant of it.

The pytest plugin (``mock_sprinto.pytest_plugin``) is a thin layer over this package; nothing
here imports pytest, so a ``unittest`` suite can use it too::

    with MockSprintoServer() as server:
        mock = server.new_integration("nightly-sync")
        run_my_sync(mock.base_url, mock.integration_id, mock.api_key)
        mock.clock.advance(seconds=2)
        mock.assert_session_processed(records=250)

Two handles share one API: ``MockSprinto`` (blocking, for a server on its own thread; usable
from sync and async tests alike) and ``AsyncMockSprinto`` (awaitable, for an emulator served
in-process on the test's own event loop, where a blocking call would deadlock).

- ``common``: ids, sample records, setting overrides and scenarios, checked client-side;
- ``verdicts``: the readable text of a failed assertion and of a failing test's report;
- ``handle``: what both handles share, every method's logic written once;
- ``server``: the threaded ``MockSprintoServer``, its blocking ``MockSprinto`` and ``MockClock``;
- ``inprocess``: the awaitable ``AsyncMockSprinto`` and ``AsyncMockClock``;
- ``views``: what the handles return (sessions, journal entries, the report...), typed.

A control call that fails raises ``ControlError``; catch ``MockSprintoError`` (the base of every
error mock-sprinto raises on purpose, also ``mock_sprinto.MockSprintoError``) to catch it and the
others. The ones a test can meet are exported here, where a test already imports from, rather
than from the modules that raise them: ``ApiError`` (the emulator refusing, when a test drives
``AsyncMockSprinto.emulator`` or the control plane directly), ``ScenarioError``, ``SettingsError``
and ``ConfigError`` (loading scenarios and settings), ``SchemaFileError`` and ``DocumentTooLarge``.
``ProbeError`` is not: ``mock-sprinto probe`` turns it into its exit code, and no test meets it.
"""

from __future__ import annotations

from ..documents import DocumentTooLarge
from ..errors import ApiError, MockSprintoError
from ..faults.scenario import ScenarioError
from ..settings import ConfigError, SettingsError
from ..validation import SchemaFileError

# The "x as x" names are importable from here as before (the plugin's and the report's helpers)
# but not star-exported: __all__ is the public API.
from .common import ScenarioSpec, load_registry, load_scenario_file, new_integration_id, sample_user, scenario_body
from .common import checked_settings as checked_settings
from .handle import ControlError
from .inprocess import AsyncMockClock, AsyncMockSprinto
from .server import MockClock, MockSprinto, MockSprintoServer
from .verdicts import describe_integration as describe_integration
from .verdicts import format_rejected_pages as format_rejected_pages
from .verdicts import no_rejected_failure as no_rejected_failure
from .verdicts import processed_failure as processed_failure
from .views import (
    ActivityItemView,
    CoverageView,
    FindingView,
    JournalEntryView,
    PageErrorView,
    PageView,
    ReportSummaryView,
    ReportView,
    ScenarioRuleView,
    ScenarioView,
    SessionView,
    SettingsView,
    VerificationFailureView,
    VerificationView,
    VerifiedRequestView,
)

__all__ = [
    "ActivityItemView",
    "ApiError",
    "AsyncMockClock",
    "AsyncMockSprinto",
    "ConfigError",
    "ControlError",
    "CoverageView",
    "DocumentTooLarge",
    "FindingView",
    "JournalEntryView",
    "MockClock",
    "MockSprinto",
    "MockSprintoError",
    "MockSprintoServer",
    "PageErrorView",
    "PageView",
    "ReportSummaryView",
    "ReportView",
    "ScenarioError",
    "ScenarioRuleView",
    "ScenarioSpec",
    "ScenarioView",
    "SchemaFileError",
    "SessionView",
    "SettingsError",
    "SettingsView",
    "VerificationFailureView",
    "VerificationView",
    "VerifiedRequestView",
    "load_registry",
    "load_scenario_file",
    "new_integration_id",
    "sample_user",
    "scenario_body",
]
