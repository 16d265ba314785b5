"""pytest plugin: the emulator as a fixture. Registered by the ``pytest11`` entry point.

Fixtures
- ``mock_sprinto``: a handle on a fresh integration of one server shared by the test session
  (started on first use, on a background thread, 127.0.0.1 and an ephemeral port; stopped at
  the end of the session). The integration is made when the test first reads the handle (or
  at setup when a marker configures it). Blocking calls: works in sync and async tests alike.
- ``mock_sprinto_app``: a factory for an emulator served in-process by pytest-aiohttp's
  ``aiohttp_client``, on the test's own event loop; ``await mock_sprinto_app()`` gives the same
  handle with awaitable methods. It follows a user's freezegun patch of ``time.time``.
- ``mock_sprinto_server``: the shared server itself (session scope).
- ``mock_sprinto_config``: the shared server's ``Config``; override it (session scope) in a
  conftest.py to change server-wide settings.

Marker
``@pytest.mark.mock_sprinto(scenario=..., settings={...})`` configures both fixtures. On a
class or module too; the closest marker's scenario wins, settings are merged (closest wins).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# The emulator (aiohttp, schemas, ...) is imported when a fixture is first used, not when pytest
# loads this plugin: every pytest run of an environment with mock-sprinto installed loads it.
if TYPE_CHECKING:
    from .clock import Clock
    from .settings import Config, Settings
    from .testing import AsyncMockSprinto, MockSprinto, MockSprintoServer, ScenarioSpec

MARKER = "mock_sprinto"
_MARKER_ARGS = ("scenario", "settings")
_HANDLES = pytest.StashKey[list[Any]]()
_BEHAVIOURS_PROPERTY = "mock_sprinto_behaviours"


def _coverage_wanted(text: str) -> int:
    """N of --mock-sprinto-min-coverage: 0 to the number of behaviours (-1 or 12 of 11 passed silently)."""
    import argparse

    from .report import BEHAVIOURS  # imported here: only a run that asks for coverage pays for it

    try:
        wanted = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= wanted <= len(BEHAVIOURS):
        raise argparse.ArgumentTypeError(
            f"{wanted} is not between 0 and {len(BEHAVIOURS)}, the number of documented behaviours"
        )
    return wanted


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-sprinto")
    group.addoption(
        "--mock-sprinto-min-coverage",
        type=_coverage_wanted,
        default=None,
        metavar="N",
        help="fail the run unless its tests met at least N of the documented Sprinto behaviours "
        "(page_rejected, rate_limited, session_expired, ...: the client report's coverage)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CoverageTally(config), "mock-sprinto-coverage")
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario=None, settings=None): configure the mock_sprinto fixtures: a scenario "
        "(shipped name, path to a YAML/JSON file, or dict) and setting overrides for this test's integration",
    )


@dataclass
class MarkerOptions:
    scenario: ScenarioSpec | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def marker_options(node: pytest.Item, *, in_process: bool = False) -> MarkerOptions:
    """The test's ``mock_sprinto`` markers (function, class, module): the closest scenario wins,
    settings merge with the closest winning; a wrong argument fails the test, naming it, before
    anything is created. The scenario comes back as what is sent (a file read, a name checked).

    A server-wide setting fails the test for both fixtures (``in_process``: ``mock_sprinto_app``'s,
    which only changes the advice): a marker configures one test's integration, so it means the
    same under either fixture and a class or module marker over tests of both cannot mean two
    things; an in-process emulator's server-wide settings go to the call that makes it."""
    options = MarkerOptions()
    markers = list(node.iter_markers(MARKER))
    for mark in reversed(markers):  # farthest (module) first, so closer markers override
        if mark.args:
            pytest.fail(
                f"@pytest.mark.{MARKER} takes keyword arguments only ({', '.join(_MARKER_ARGS)}); "
                f"got positional {mark.args!r}",
                pytrace=False,
            )
        unknown = sorted(set(mark.kwargs) - set(_MARKER_ARGS))
        if unknown:
            pytest.fail(
                f"@pytest.mark.{MARKER} got unknown argument(s) {', '.join(unknown)} "
                f"(it takes {', '.join(_MARKER_ARGS)})",
                pytrace=False,
            )
        if mark.kwargs.get("scenario") is not None:
            options.scenario = mark.kwargs["scenario"]
        settings = mark.kwargs.get("settings") or {}
        if not isinstance(settings, Mapping):
            pytest.fail(
                f"@pytest.mark.{MARKER}(settings=...) must be a dict of setting names to values, "
                f"not {type(settings).__name__}",
                pytrace=False,
            )
        options.settings.update(settings)
    from .testing.common import (
        SERVER_WIDE_IN_PROCESS,
        SERVER_WIDE_PYTEST,
        checked_settings,
        scenario_body,
        server_wide_refused,
        unknown_scenario,
    )

    settings, problem = _checked(checked_settings, options.settings)
    if problem is None:
        problem = server_wide_refused(settings, SERVER_WIDE_IN_PROCESS if in_process else SERVER_WIDE_PYTEST)
    if problem is None:
        options.scenario, problem = _checked(scenario_body, options.scenario)
    if problem is None and isinstance(options.scenario, str):
        problem = unknown_scenario(options.scenario)  # said now, "did you mean" too, as a config file does
    if problem is not None:  # failed outside the except block: the reason is shown once, not twice
        pytest.fail(f"@pytest.mark.{MARKER}: {problem}", pytrace=False)
    options.settings = settings
    return options


def _checked(check: Any, *args: Any) -> tuple[Any, str | None]:
    """``check(*args)`` and None, or None and what it refused (its ValueError or TypeError). The
    test fails on that outside the ``except`` block, so pytest shows the reason once, not the
    original exception and then "During handling of the above exception, another exception occurred"."""
    try:
        return check(*args), None
    except (ValueError, TypeError) as exc:
        return None, str(exc)


def _remember(node: pytest.Item, handle: Any) -> None:
    node.stash.setdefault(_HANDLES, []).append(handle)


# The items whose run protocol is under way, innermost last (pytester nests a session in a test).
# The mock_sprinto fixture reads its test here instead of taking pytest's ``request`` argument,
# for which pytest builds a fixture definition of its own per test (~30 us, a fifth of the
# fixture's cost); this wrapper costs every test about a microsecond.
_RUNNING: list[pytest.Item] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    _RUNNING.append(item)
    try:
        return (yield)
    finally:
        _RUNNING.pop()
        # Read by the call's report, and not after: pytest keeps every item to the session's end,
        # so a finished test's handles (each with its clock and lock) stayed for good, ~10 objects
        # and ~2 KB a test that every full collection of a long suite walked (benchmarks/ANALYSIS.md).
        if _HANDLES in item.stash:
            del item.stash[_HANDLES]


def _running_item() -> pytest.Item:
    if not _RUNNING:  # only a fixture set up outside pytest's run protocol, which pytest never does
        pytest.fail("the mock_sprinto fixture found no running test", pytrace=False)
    return _RUNNING[-1]


@pytest.fixture(scope="session")
def mock_sprinto_config() -> Config:
    """Server-wide configuration of the shared server: the emulator's defaults. Environment
    variables (``MOCK_SPRINTO_*``) are deliberately not read, so a suite behaves the same on every
    machine; override this fixture in a conftest.py to change settings for the whole session."""
    from .settings import Config, Settings

    return Config(Settings())


@pytest.fixture(scope="session")
def mock_sprinto_server(mock_sprinto_config: Config) -> Iterator[MockSprintoServer]:
    """One emulator for the test session (each xdist worker has its own), started on first use."""
    from .testing import MockSprintoServer

    server = MockSprintoServer(mock_sprinto_config)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def mock_sprinto(mock_sprinto_server: MockSprintoServer) -> Iterator[MockSprinto]:
    """A fresh integration on the shared server, configured by the test's ``mock_sprinto`` marker."""
    from .testing import ControlError

    node = _running_item()
    body: Any = None
    settings: dict[str, Any] = {}
    if next(node.iter_markers(MARKER), None) is not None:  # most tests have none: nothing to check
        options = marker_options(node)  # checked before anything is created
        body, settings = options.scenario, options.settings
    # Made on first use (the first read of its id, key, headers or URL), unless the marker
    # configures it: a test that never calls the emulator costs it nothing. Its id is the same on
    # every run of the test (its node id's), so a seeded scenario replays the same faults.
    handle = mock_sprinto_server.new_integration(node.name, lazy=not settings and body is None, identity=node.nodeid)
    try:
        # The emulator's refusal without the control request that met it: the test sent none.
        refused: str | None = None
        if settings:
            try:
                handle.use_settings(settings)
            except ControlError as exc:
                refused = f"the emulator refused the settings: {exc.reason}"
        if body is not None and refused is None:
            try:
                handle.use_scenario(body)  # checked above: a shipped name or the file's contents
            except ControlError as exc:
                refused = f"the emulator refused the scenario: {exc.reason}"
        if refused is not None:
            pytest.fail(f"@pytest.mark.{MARKER}: {refused}", pytrace=False)
        _remember(node, handle)
        yield handle
        refused_late = handle.refused  # its create, queued on first use, refused after all: say why
        if refused_late is not None:
            pytest.fail(f"the emulator refused this test's integration: {refused_late}", pytrace=False)
    finally:
        if mock_sprinto_server.running:  # a handle never used has nothing to forget
            # Keeps a long session's memory flat: the server holds only the running tests' tenants.
            # Not waited for: whatever the next test asks the server comes after it.
            handle.forget_soon()


class MockSprintoApp:
    """``await mock_sprinto_app(...)``: a fresh emulator served in-process, and a handle on it.

    ``settings`` configure this emulator as a whole (it serves only this test), merged over the
    marker's; ``scenario`` overrides the marker's; ``clock`` replaces wall time (e.g. a
    ``ManualClock``); ``config`` is the base configuration (default: the emulator's defaults).
    """

    def __init__(
        self, request: pytest.FixtureRequest, aiohttp_client: Any, options: MarkerOptions | None = None
    ) -> None:
        self._request = request
        self._aiohttp_client = aiohttp_client
        self._options = options if options is not None else MarkerOptions()  # the marker's, checked

    async def __call__(
        self,
        *,
        scenario: ScenarioSpec | None = None,
        settings: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        config: Config | None = None,
    ) -> AsyncMockSprinto:
        from .control import ControlPlane
        from .http import EmulatorTestServer, create_app
        from .service import Emulator
        from .settings import Config, Settings
        from .testing import AsyncMockSprinto, checked_settings
        from .testing.common import stable_integration_id

        options = self._options
        overrides = {**options.settings, **checked_settings(settings)}
        base = config or Config(Settings())
        config = Config(base.settings.with_overrides(overrides), base.integrations, base.scenario)
        emulator = Emulator(config, _registry(config.settings), clock)
        # EmulatorTestServer applies RUNNER_KWARGS (aiohttp's TestServer drops runner options),
        # so bodies are decoded under the emulator's own limits, as `mock-sprinto serve` does.
        client = await self._aiohttp_client(EmulatorTestServer(create_app(emulator)))
        # The same id on every run of the test: a seeded scenario replays the same faults. Each call
        # is an emulator of its own, so two calls of one test cannot collide.
        node = self._request.node
        created = ControlPlane(emulator).create_integration(stable_integration_id(node.name, node.nodeid))
        handle = AsyncMockSprinto(client, emulator, created["id"], created["api_key"])
        chosen = scenario if scenario is not None else options.scenario
        if chosen is not None:
            await handle.use_scenario(chosen)
        _remember(self._request.node, handle)
        return handle


_REGISTRIES: dict[str | None, Any] = {}


def _registry(settings: Settings) -> Any:
    # Schemas are compiled once per process, not once per in-process emulator.
    from .testing import load_registry

    key = settings.schemas_dir
    if key not in _REGISTRIES:
        _REGISTRIES[key] = load_registry(settings)
    return _REGISTRIES[key]


MISSING_PYTEST_AIOHTTP = (
    "mock_sprinto_app needs pytest-aiohttp (its aiohttp_client fixture serves the emulator), and it is "
    "not installed. Install it with: pip install pytest-aiohttp. mock-sprinto's 'asyncio' extra brings "
    "it too: pip install '<checkout>[asyncio]' or 'mock-sprinto[asyncio] @ git+<repository URL>' "
    "(docs/pytest.md). The mock_sprinto fixture needs neither."
)


@pytest.fixture
def mock_sprinto_app(request: pytest.FixtureRequest) -> MockSprintoApp:
    """Factory of in-process emulators for asyncio tests (needs pytest-aiohttp: the asyncio extra)."""
    # Looked up here rather than taken as an argument: without pytest-aiohttp, pytest would say only
    # "fixture 'aiohttp_client' not found", naming neither the package nor the extra that brings it.
    try:
        aiohttp_client = request.getfixturevalue("aiohttp_client")
    except pytest.FixtureLookupError:
        aiohttp_client = None
    if aiohttp_client is None:
        pytest.fail(MISSING_PYTEST_AIOHTTP, pytrace=False)
    options = None
    if next(request.node.iter_markers(MARKER), None) is not None:
        # Checked at setup, as the mock_sprinto fixture does: a wrong marker is an error of the
        # test's set-up, said once, whether or not the test gets as far as its first call.
        options = marker_options(request.node, in_process=True)
    return MockSprintoApp(request, aiohttp_client, options)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report shows what the emulator saw: sessions, rejected pages, requests."""
    report = yield
    if report.when == "call":
        met = _behaviours_met(item.stash.get(_HANDLES, []))
        if met:  # travels with the report, so the xdist controller sees it too
            report.user_properties.append((_BEHAVIOURS_PROPERTY, met))
    if report.when == "call" and report.failed:
        for handle in item.stash.get(_HANDLES, []):
            try:
                text = handle.describe()
                har = handle.har_kept(_har_path(item, handle.integration_id))
                text += f"\n\nthis test's requests as HAR (open in a browser's developer tools): {har}"
                text += _bundle_note(handle, har)
            except Exception as exc:  # the report must never fail because the emulator is gone
                text = f"(could not read the emulator: {exc!r})"
            report.sections.append((f"mock-sprinto: {handle._integration_id}", text))  # made or not
    return report


def _har_path(item: pytest.Item, integration_id: str) -> Path:
    """Where a failing test's HAR goes: ``mock-sprinto-har/`` in pytest's base temporary folder
    (``--basetemp``, else /tmp/pytest-of-<user>/pytest-<n>/, the last 3 runs kept), or in
    ``.pytest_cache`` when the tmp_path plugin is off."""
    factory = getattr(item.config, "_tmp_path_factory", None)
    if factory is not None:
        folder = Path(factory.getbasetemp()) / "mock-sprinto-har"
    else:
        folder = item.config.rootpath / ".pytest_cache" / "mock-sprinto-har"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", item.name)[:100].strip("-") or "test"
    return folder / f"{name}--{integration_id}.har"


def _bundle_note(handle: Any, har: Path) -> str:
    """The failing test's state bundle, written beside its HAR, and the one command that opens it
    in the dashboard (docs/bundles.md)."""
    bundle = handle.state_kept(har.with_name(har.name.removesuffix(".har") + ".state.json"))
    if bundle is None:
        return ""
    return (
        f"\nits state bundle (sessions, pages, records, clock, scenario, journal): {bundle}"
        f"\n  open it in the dashboard: mock-sprinto serve --state {bundle}"
        f"  then http://127.0.0.1:8080/_mock/#integration={handle.integration_id}"
    )


def _behaviours_met(handles: list[Any]) -> dict[str, bool | None]:
    """The documented behaviours this test's integrations met, and whether the client recovered
    (read without a request, before the fixture deletes the integration)."""
    met: dict[str, bool | None] = {}
    for handle in handles:
        if handle.unreached or handle.met_nothing:  # never used, or every answer a plain success
            continue
        try:
            found = handle._read_quiet(lambda control, h=handle: control.coverage_kept(h.integration_id))
        except Exception:  # the summary must never fail a test
            continue
        for behaviour, recovered in found.items():
            # recovered in one integration: recovered; else not recovered in one: not; else None
            # (recovery means nothing: it must not hide a False another integration said)
            before = met.get(behaviour)
            met[behaviour] = True if True in (before, recovered) else (False if False in (before, recovered) else None)
    return met


UNRECOVERED_SHOWN = 3  # the node ids the summary names per behaviour a test did not recover from


class CoverageTally:
    """The behaviours the whole run met: summed from each test's report (on the xdist controller
    too, as the reports carry them), printed at the end, and checked against
    ``--mock-sprinto-min-coverage``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # behaviour -> [tests that met it, that recovered, where recovery meant nothing (None)]
        self.tally: dict[str, list[int]] = {}
        self.unrecovered: dict[str, list[str]] = {}  # behaviour -> the first tests that did not recover
        self.wanted: int | None = config.getoption("--mock-sprinto-min-coverage", None)
        self.worker = hasattr(config, "workerinput")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name != _BEHAVIOURS_PROPERTY or not isinstance(value, dict):
                continue
            for behaviour, recovered in value.items():
                counts = self.tally.setdefault(behaviour, [0, 0, 0])
                counts[0] += 1
                counts[1] += 1 if recovered else 0
                counts[2] += 1 if recovered is None else 0
                if recovered is False:
                    self.unrecovered.setdefault(behaviour, []).append(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.wanted is not None and not self.worker and len(self.tally) < self.wanted:
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker or (not self.tally and self.wanted is None):
            return
        from .report import BEHAVIOURS
        from .report.coverage import MEANS_NOTHING_WHEN, RECOVERED_WHEN, STOPPING_IS_RIGHT

        terminalreporter.section("mock-sprinto: Sprinto behaviours the tests met")
        for behaviour in BEHAVIOURS:
            met, recovered, meaningless = self.tally.get(behaviour, (0, 0, 0))
            if not met:
                terminalreporter.write_line(f"  {behaviour:20} never met")
                continue
            line = f"  {behaviour:20} met in {met} test(s)"
            if behaviour in STOPPING_IS_RIGHT:
                # "recovered in 0" read as a failing for a client that rightly stopped with an error.
                line += f", synced again and processed in {recovered} (stopping with an error is right too)"
            elif RECOVERED_WHEN.get(behaviour) is not None:
                if meaningless < met:
                    line += f", recovered in {recovered}" + (f" of {met - meaningless}" if meaningless else "")
                if meaningless:  # e.g. a retried processing that failed too: not a recovery missed
                    why = MEANS_NOTHING_WHEN.get(behaviour, "recovery means nothing there")
                    line += f"; in {meaningless} {why}"
            terminalreporter.write_line(line)
            tests = self.unrecovered.get(behaviour, [])
            if tests and RECOVERED_WHEN.get(behaviour) is not None:
                words = "not synced again" if behaviour in STOPPING_IS_RIGHT else "not recovered"
                more = f" and {len(tests) - UNRECOVERED_SHOWN} more" if len(tests) > UNRECOVERED_SHOWN else ""
                terminalreporter.write_line(f"  {'':20} {words}: {', '.join(tests[:UNRECOVERED_SHOWN])}{more}")
        if self.wanted is not None:
            verdict = "met" if len(self.tally) >= self.wanted else "NOT met: the run fails"
            terminalreporter.write_line(
                f"  {len(self.tally)} of {len(BEHAVIOURS)} behaviours met; "
                f"--mock-sprinto-min-coverage {self.wanted}: {verdict}"
            )
