"""What a test hands the emulator, checked and shaped on the client side: ids, records,
setting overrides and scenarios (the server never reads a path a client names)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Union

from ..faults.scenario import ScenarioError, no_shipped_scenario, read_scenario_document, shipped_scenarios
from ..settings import SERVER_SETTINGS, Settings, SettingsError, coerce
from ..validation import SchemaRegistry

# A shipped scenario's name, a path to a YAML/JSON scenario file, or an inline scenario object.
ScenarioSpec = Union[str, "os.PathLike[str]", Mapping[str, Any]]

_PATH_SUFFIXES = (".yaml", ".yml", ".json")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# ---- ids and records ------------------------------------------------------------------------------
def _slug(hint: str) -> str:
    return _ID_UNSAFE.sub("-", hint).strip("-._")[:80] or "test"


def new_integration_id(hint: str = "test") -> str:
    """A readable integration id, different on every call: the test's name plus random bits."""
    return f"{_slug(hint)}-{secrets.token_hex(4)}"


def stable_integration_id(hint: str = "test", identity: str | None = None) -> str:
    """A readable integration id that is the same on every run: ``hint`` as a slug (for the
    dashboard) and 8 hex digits of a hash of ``identity`` (default: ``hint``; the fixtures pass the
    test's node id).

    A seeded scenario draws its faults and its session ids from ``seed:integration id``
    (``FaultState``, ``Emulator.take_scenario``): with an id drawn at random, as before, the same
    test met different faults on every run and a failure could not be replayed. The hash of the
    whole node id keeps apart tests whose names make the same slug (the same name in two files, a
    parameter the slug cuts off), so distinct tests still get distinct draws; the caller keeps
    repeats unique (``MockSprintoServer.new_integration``)."""
    key = hint if identity is None else identity
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_slug(hint)}-{digest}"


def new_api_key() -> str:
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


# ---- settings and scenarios -----------------------------------------------------------------------
def checked_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Setting overrides checked here, so a typo fails in the test that made it, by name."""
    checked: dict[str, Any] = {}
    for name, value in (settings or {}).items():
        try:
            checked[name] = coerce(str(name), value)
        except SettingsError as exc:
            raise ValueError(str(exc)) from None
    return checked


# Where a server-wide setting goes instead, by who asked for it (``server_wide_refused``).
SERVER_WIDE_PYTEST = (
    "set it for the whole test session by overriding the mock_sprinto_config fixture in a conftest.py "
    '(docs/pytest.md, "Server-wide settings")'
)
SERVER_WIDE_IN_PROCESS = (
    "pass it to the call, await mock_sprinto_app(settings={...}), which configures that whole emulator"
)
SERVER_WIDE_SERVER = (
    "set it in the server's configuration: under pytest, override the mock_sprinto_config fixture in a "
    'conftest.py (docs/pytest.md, "Server-wide settings"); without, MockSprintoServer(Config(Settings(...)))'
)


def server_wide_refused(names: Iterable[str], advice: str) -> str | None:
    """Why these settings cannot be one integration's (the server-wide ones among them, and
    ``advice``: where they go), or None. Said here, before any request: the emulator's own refusal
    says "set it when starting the server", and a pytest user never starts one."""
    wide = sorted({str(name) for name in names} & SERVER_SETTINGS)
    if not wide:
        return None
    what = "is a server-wide setting" if len(wide) == 1 else "are server-wide settings"
    return f"{', '.join(map(repr, wide))} {what}, not one integration's: {advice}"


def integration_settings(settings: Mapping[str, Any] | None, advice: str) -> dict[str, Any]:
    """``checked_settings`` for one integration's own overrides (``use_settings``), which a
    server-wide setting cannot be: ValueError saying where it goes (``advice``)."""
    checked = checked_settings(settings)
    refused = server_wide_refused(checked, advice)
    if refused is not None:
        raise ValueError(refused)
    return checked


def unknown_scenario(name: str) -> str | None:
    """Why ``name`` is no shipped scenario, with the closest names, or None when it is one: in the
    words a config file's misspelled scenario gets (``settings.configfile``), "did you mean" too."""
    return None if name in shipped_scenarios() else no_shipped_scenario(name)


def _looks_like_path(value: str) -> bool:
    # Shipped scenario names never contain a separator or a file suffix ("a name is never a path").
    return value.endswith(_PATH_SUFFIXES) or "/" in value or "\\" in value or os.sep in value


def load_scenario_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A scenario file read client-side, by the server's own reader (relative paths are from the
    working directory); the server checks it when it is sent."""
    try:
        data, _ = read_scenario_document(path)
    except ScenarioError as exc:
        problems = "; ".join(str(problem) for problem in exc.problems)
        raise ValueError(f"scenario file {str(path)!r}: {problems} (relative paths start at {os.getcwd()!r})") from None
    if not isinstance(data, dict):
        raise ValueError(f"scenario file {str(path)!r} must hold a mapping (name, settings, rules)")
    return data


def scenario_body(scenario: ScenarioSpec | None) -> Any:
    """The JSON body of ``PUT …/scenario``: a shipped name (a JSON string) or a scenario object.

    A path is read here and sent inline, because the server never reads paths a client names.
    None: nothing to send. What this returns is itself a valid ``ScenarioSpec`` (a name that is
    not a path, or a dict), so a spec can be checked early and installed later.
    """
    if isinstance(scenario, os.PathLike) or (isinstance(scenario, str) and _looks_like_path(scenario)):
        scenario = load_scenario_file(scenario)
    if scenario is not None and not isinstance(scenario, (str, Mapping)):
        raise TypeError(f"a scenario is a shipped name, a path or a dict, not {type(scenario).__name__}")
    return dict(scenario) if isinstance(scenario, Mapping) else scenario


def load_registry(settings: Settings) -> SchemaRegistry:
    return SchemaRegistry.shipped(settings.schemas_dir)
