"""What a test hands the emulator, checked and shaped on the client side: ids, records,
setting overrides and scenarios (the server never reads a path a client names)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from typing import Any, Union

from ..faults.scenario import ScenarioError, read_scenario_document
from ..settings import Settings, SettingsError, coerce
from ..validation import SchemaRegistry

# A shipped scenario's name, a path to a YAML/JSON scenario file, or an inline scenario object.
ScenarioSpec = Union[str, "os.PathLike[str]", Mapping[str, Any]]

_PATH_SUFFIXES = (".yaml", ".yml", ".json")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# ---- ids and records ------------------------------------------------------------------------------
def new_integration_id(hint: str = "test") -> str:
    """A readable, unique integration id: the test's name plus random bits (for the dashboard)."""
    slug = _ID_UNSAFE.sub("-", hint).strip("-._")[:80] or "test"
    return f"{slug}-{secrets.token_hex(4)}"


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
