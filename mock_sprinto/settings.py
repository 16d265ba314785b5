"""Settings: one frozen dataclass, layered defaults < config file < environment < CLI flags.

Every emulator decision the vendor's docs leave open is a field here, with its origin
(``doc``: from Sprinto's documentation, ``mock``: this project's choice) and a one-line reason,
so ``GET /_mock/settings``, ``--help`` and the README table all come from one place.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ENV_PREFIX = "MOCK_SPRINTO_"
MAX_SETTING_NUMBER = 2**53


class SettingsError(ValueError):
    """A setting (or config file) that cannot be used; the message names which and why."""


def _s(default: Any, origin: str, doc: str, minimum: float | None = None) -> Any:
    return field(default=default, metadata={"origin": origin, "doc": doc, "min": minimum})


@dataclass(frozen=True)
class Settings:
    host: str = _s("127.0.0.1", "mock", "Interface to bind; anything but loopback is warned about.")
    port: int = _s(8080, "mock", "TCP port; 0 picks a free one (printed in the banner).", 0)
    inactivity_timeout_seconds: float = _s(
        3600.0, "doc", "A session expires this long after the last request that addressed it.", 1
    )
    processing_seconds: float = _s(2.0, "mock", "Emulator time a processing attempt takes after close(apply).", 0)
    expired_retention_seconds: float = _s(
        86400.0, "mock", "How long an expired session's data can still be applied.", 0
    )
    max_request_bytes: int = _s(
        5_000_000,
        "doc",
        "Largest request body on the wire (413 above it): the docs' '5 MB', read as 5,000,000 bytes, not 5 MiB.",
        1,
    )
    max_decoded_bytes: int = _s(26_214_400, "mock", "Largest body after gzip/deflate decoding (413 above it).", 1)
    max_page_items: int | None = _s(
        100, "mock", "Records per page across all types (docs say 'recommended'); null lifts it.", 1
    )
    max_json_depth: int = _s(64, "mock", "Deepest JSON nesting accepted in a body.", 2)
    max_validation_errors: int = _s(
        100, "mock", "Validation errors listed per rejected page (then a truncation flag).", 1
    )
    prefer_header: bool = _s(
        True,
        "mock",
        "Honour 'Prefer: code=NNN, retry_after=N' or 'Prefer: fault=reset' on a vendor request: that answer, once.",
    )
    lenient_close: bool = _s(
        False,
        "mock",
        "Accept a close without 'status' (as apply) or with 'action' instead of 'status'; Sprinto requires 'status'.",
    )
    unknown_fields: Literal["accept", "reject"] = _s(
        "accept",
        "doc",
        "Record fields beyond a type's known ones are accepted (Sprinto allows them), or rejected (opt-in strict).",
    )
    missing_content_type: Literal["reject", "json"] = _s(
        "reject",
        "mock",
        "A body sent without Content-Type is refused (415), or read as JSON.",
    )
    duplicate_names: Literal["reject", "last_wins"] = _s(
        "reject",
        "mock",
        "A JSON object repeating a member name is malformed (400), or the last value wins.",
    )
    unknown_entity_types: Literal["accept", "reject"] = _s(
        "accept", "mock", "Records of a type with no schema are accepted unvalidated, or rejected."
    )
    apply_mode: Literal["replace", "upsert"] = _s(
        "replace", "mock", "Applying a session replaces each present type's dataset, or upserts."
    )
    rate_limit: float | None = _s(
        None, "mock", "Requests per second per integration (token bucket); null turns it off.", 0
    )
    rate_limit_burst: int = _s(10, "mock", "Token bucket size when rate_limit is on.", 1)
    journal_size: int = _s(10_000, "mock", "Requests kept in the journal ring buffer.", 1)
    journal_bodies_bytes: int = _s(
        0,
        "mock",
        "Request and response bodies kept in the journal for its HAR export, each cut at this many bytes; 0 = off.",
        0,
    )
    activity_log_size: int = _s(10_000, "mock", "Activity items kept per integration (oldest dropped first).", 1)
    max_sessions_kept: int = _s(1_000, "mock", "Finished sessions kept per integration (oldest finished dropped).", 1)
    max_integrations: int = _s(10_000, "mock", "Integrations the emulator holds before refusing new ones (403).", 1)
    max_staged_bytes: int | None = _s(
        1_073_741_824,
        "mock",
        "Staged page bytes held per integration before pushes get 507; null lifts it.",
        1,
    )
    auto_create_integrations: bool | None = _s(
        None,
        "mock",
        "Create an integration on its first authenticated request; null = only when the config declares none.",
    )
    judge_large_body_bytes: int = _s(
        1_048_576,
        "mock",
        "The client report warns of a push body over this many bytes sent without Content-Encoding.",
        1,
    )
    frozen_clock: bool = _s(False, "mock", "Emulator time stands still except when moved through /_mock/clock.")
    admin_token: str | None = _s(None, "mock", "When set, /_mock requires 'Authorization: Bearer <token>'.")
    schemas_dir: str | None = _s(None, "mock", "Extra folder of <EntityType>.json schemas (overrides shipped ones).")
    # Hardening: the bounds hostile input, hostile web pages and floods meet (README 'Robustness').
    memory_budget_bytes: int | None = _s(
        2_147_483_648,
        "mock",
        "Decoded staged pages, applied records and bodies being received, all integrations together, "
        "before pushes get 507; null lifts it.",
        1,
    )

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with ``overrides`` applied, each value checked as strictly as at start-up."""
        values = dataclasses.asdict(self)
        for name, raw in overrides.items():
            values[name] = coerce(name, raw)
        return Settings(**values)

    def public(self) -> dict[str, Any]:
        """The effective settings with the admin token masked, as ``GET /_mock/settings`` shows."""
        values = dataclasses.asdict(self)
        if values["admin_token"]:
            values["admin_token"] = "***"
        return values


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}

# Settings that belong to the whole server; the rest can differ per integration (through its
# own settings or its scenario's).
SERVER_SETTINGS = frozenset(
    {
        "host",
        "port",
        "admin_token",
        "journal_size",
        "journal_bodies_bytes",
        "max_integrations",
        "schemas_dir",
        "frozen_clock",
        "auto_create_integrations",
        "memory_budget_bytes",
    }
)


def check_override(name: str, raw: Any) -> Any:
    """An integration-level override: a known, non-server-wide setting with a valid value."""
    if name in SERVER_SETTINGS:
        raise SettingsError(f"'{name}' is a server-wide setting; set it when starting the server")
    kind = _kinds(name)[0] if name in FIELDS else None
    if isinstance(raw, str) and kind in (int, float, bool):
        # Text is how the environment and flags spell values; a JSON or YAML document has types.
        word = {int: "whole number", float: "number", bool: "boolean"}[kind]
        raise SettingsError(f"setting {name!r} takes a {word}, not the string {raw!r}")
    return coerce(name, raw)


def check_overrides(overrides: Mapping[Any, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Every override checked as ``check_override`` does: (the checked values, each refused
    setting's reason), so a scenario or a settings PUT reports every problem at once."""
    checked: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, raw in overrides.items():
        try:
            checked[str(name)] = check_override(str(name), raw)
        except SettingsError as exc:
            problems[str(name)] = str(exc)
    return checked, problems


_HINTS = typing.get_type_hints(Settings)


def describe() -> list[dict[str, Any]]:
    """Name, default, origin and meaning of every setting (README table, /_mock/settings)."""
    return [
        {
            "name": f.name,
            "default": f.default,
            "origin": f.metadata["origin"],
            "doc": f.metadata["doc"],
            "env": ENV_PREFIX + f.name.upper(),
        }
        for f in dataclasses.fields(Settings)
    ]


def _kinds(name: str) -> tuple[type | tuple[str, ...], bool]:
    """(base type or Literal choices, nullable) of a setting."""
    hint = _HINTS[name]
    nullable = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        nullable = type(None) in args
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is Literal:
        return tuple(typing.get_args(hint)), nullable
    return hint, nullable


_NULL_WORDS = {"null", "none", "off", ""}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no"}


def coerce(name: str, raw: Any) -> Any:
    """Turn a raw value (YAML scalar, env or CLI string) into the setting's type, or explain."""
    if name not in FIELDS:
        raise SettingsError(f"unknown setting {name!r} (known: {', '.join(sorted(FIELDS))})")
    kind, nullable = _kinds(name)
    minimum = FIELDS[name].metadata["min"]
    if isinstance(raw, str) and kind is not str:
        word = raw.strip().lower()
        if nullable and word in _NULL_WORDS:
            return None
        raw = raw.strip()
    if raw is None:
        if nullable:
            return None
        raise SettingsError(f"setting {name!r} cannot be null")
    if isinstance(kind, tuple):
        if raw not in kind:
            raise SettingsError(f"setting {name!r} must be one of {', '.join(kind)}, not {raw!r}")
        return raw
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in _TRUE_WORDS | _FALSE_WORDS:
            return raw.lower() in _TRUE_WORDS
        raise SettingsError(f"setting {name!r} must be true or false, not {raw!r}")
    if kind is str:
        if not isinstance(raw, str):
            raise SettingsError(f"setting {name!r} must be a string, not {raw!r}")
        return raw
    value: float | int
    try:
        if isinstance(raw, bool):
            raise ValueError
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            value = int(raw)
        else:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
    except (TypeError, ValueError):
        word = "a whole number" if kind is int else "a number"
        raise SettingsError(f"setting {name!r} must be {word}, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"setting {name!r} must be at least {minimum:g}, not {value:g}")
    if abs(value) > MAX_SETTING_NUMBER or (type(raw) is int and abs(raw) > MAX_SETTING_NUMBER):  # before rounding
        # Every value must survive a JSON round trip (GET /_mock/settings); 2**53 is far beyond need.
        raise SettingsError(f"setting {name!r} must be at most {MAX_SETTING_NUMBER}, not {value:g}")
    return value


@dataclass(frozen=True)
class Integration:
    """An integration declared in the config file: its id and the api-key bound to it."""

    id: str
    api_key: str


@dataclass(frozen=True)
class Config:
    settings: Settings
    integrations: tuple[Integration, ...] = ()
    scenario: str | None = None


def read_config_file(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"config file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"config file {str(path)!r}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {str(path)!r}: not valid YAML ({exc})".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {str(path)!r}: expected a mapping at the top level")
    return data


def _integrations(raw: Any, where: str) -> tuple[Integration, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SettingsError(f"{where}: 'integrations' must be a list of {{id, api_key}}")
    found: list[Integration] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"id", "api_key"}:
            raise SettingsError(f"{where}: integrations[{i}] must have exactly 'id' and 'api_key'")
        ident, key = item["id"], item["api_key"]
        if not isinstance(ident, str) or not isinstance(key, str) or not ident or not key:
            raise SettingsError(f"{where}: integrations[{i}] id and api_key must be non-empty text")
        if ident in seen:
            raise SettingsError(f"{where}: integration {ident!r} is declared twice")
        seen.add(ident)
        found.append(Integration(ident, key))
    return tuple(found)


def load_config(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Config:
    """Layer defaults < config file < ``MOCK_SPRINTO_*`` environment < CLI values."""
    overrides: dict[str, Any] = {}
    integrations: tuple[Integration, ...] = ()
    scenario: str | None = None
    if config_file is not None:
        where = f"config file {str(config_file)!r}"
        data = read_config_file(config_file)
        unknown = set(data) - {"settings", "integrations", "scenario"}
        if unknown:
            raise SettingsError(
                f"{where}: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))} "
                "(expected settings, integrations, scenario)"
            )
        settings_part = data.get("settings") or {}
        if not isinstance(settings_part, dict):
            raise SettingsError(f"{where}: 'settings' must be a mapping")
        try:
            overrides.update({k: coerce(str(k), v) for k, v in settings_part.items()})
        except SettingsError as exc:
            raise SettingsError(f"{where}: {exc}") from None
        integrations = _integrations(data.get("integrations"), where)
        if data.get("scenario") is not None:
            scenario = str(data["scenario"])
    for key, value in (os.environ if env is None else env).items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in FIELDS:
                try:
                    overrides[name] = coerce(name, value)
                except SettingsError as exc:
                    raise SettingsError(f"environment {key}: {exc}") from None
    for name, value in (cli or {}).items():
        overrides[name] = coerce(name, value)
    return Config(Settings().with_overrides(overrides), integrations, scenario)
