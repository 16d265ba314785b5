"""Settings: one frozen dataclass, layered defaults < config file < environment < CLI flags.

Every emulator decision the vendor's docs leave open is a field here, with its origin
(``doc``: from Sprinto's documentation, ``mock``: this project's choice) and a one-line reason,
so ``GET /_mock/settings``, ``--help`` and the README table all come from one place.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .documents import DEFAULT_MAX_DOCUMENT_BYTES, load_yaml
from .resources import scenarios_dir
from .sourcelines import line_for, pointer, pointer_lines, syntax_error

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
    journal_header_bytes: int = _s(
        8192,
        "mock",
        "Bytes of a request's headers (and characters of its query) the journal keeps for its HAR export; "
        "headers beyond are dropped from the entry, so the ring never holds more than journal_size times this.",
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
    max_scenario_bytes: int = _s(
        1_048_576, "mock", "Largest scenario (file, /_mock PUT body) or config file; YAML aliases are refused.", 1
    )
    max_connections: int = _s(
        1024, "mock", "Open connections before new ones get 503 (at most the open-file limit less 160).", 1
    )
    header_timeout_seconds: float = _s(
        10.0, "mock", "A request's headers must arrive within this (new connection: from its start), else 408.", 0.01
    )
    body_timeout_seconds: float = _s(
        60.0, "mock", "A request body must arrive within this once it is being read, else 408.", 0.01
    )
    keepalive_timeout_seconds: float = _s(75.0, "mock", "An idle kept-alive connection is closed after this.", 0.01)
    shutdown_timeout_seconds: float = _s(
        5.0, "mock", "On SIGTERM/Ctrl-C, requests in flight get this long to finish, then a 503.", 0
    )
    allowed_hosts: str | None = _s(
        None,
        "mock",
        "Host names served besides loopback ones and 'host' (comma-separated, '*' for any); others get 421.",
    )
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
        "journal_header_bytes",
        "max_integrations",
        "schemas_dir",
        "frozen_clock",
        "auto_create_integrations",
        "memory_budget_bytes",
        "allowed_hosts",
        "max_scenario_bytes",
        "max_connections",
        "header_timeout_seconds",
        "body_timeout_seconds",
        "keepalive_timeout_seconds",
        "shutdown_timeout_seconds",
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
    config_file: str | None = None  # where the integrations and the scenario were declared
    # Which layer set each setting that is not its default: "config", "environment" or "flag".
    sources: Mapping[str, str] = field(default_factory=dict)

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")


# ---- start-up input: config file < environment < flags -----------------------------------------


class ConfigError(SettingsError):
    """Every problem of the start-up input at once (config file, environment, flags), one line each:
    ``file:line: what`` for the config file, so an editor can jump to it."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


TOP_LEVEL_KEYS = ("settings", "integrations", "scenario")
# service.INTEGRATION_ID, repeated here (settings cannot import the service); a test keeps them equal.
INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
MAX_PORT = 65535


def flag(name: str) -> str:
    """The command line flag of a setting: ``max_page_items`` -> ``--max-page-items``."""
    return "--" + name.replace("_", "-")


def shown(value: Any) -> str:
    """A value as the README, ``--help`` and config files write it: null, true, false, 3600.0."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def value_hint(name: str) -> str:
    """How a setting's value is spelled on the command line: its choices, or what kind of value."""
    kind, nullable = _kinds(name)
    if isinstance(kind, tuple) or kind is bool:
        words = [*(kind if isinstance(kind, tuple) else ("true", "false")), *(["null"] if nullable else [])]
        return "{" + ",".join(words) + "}"
    if kind is str:
        return name.rsplit("_", 1)[-1].upper()  # HOST, TOKEN, DIR
    if name == "port":
        return "PORT"
    return {"seconds": "SECONDS", "bytes": "BYTES"}.get(name.rsplit("_", 1)[-1], "N")


def _suggest(word: str, choices: Iterable[str], spell: Callable[[str], str] = repr) -> str:
    import difflib  # imported here: only a misspelled name needs a suggestion, never a clean start

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {spell(close[0])}?" if close else ""


def _startup_value(name: str, raw: Any) -> Any:
    """``coerce``, plus the bounds only a server start-up has (an integration never sets these)."""
    if name not in FIELDS:
        raise SettingsError(f"unknown setting {name!r}{_suggest(name, FIELDS)} (see: mock-sprinto settings)")
    value = coerce(name, raw)
    if name == "port" and value > MAX_PORT:
        raise SettingsError(f"setting 'port' must be at most {MAX_PORT} (0 picks a free port), not {value}")
    if name == "host" and not value.strip():
        raise SettingsError("setting 'host' cannot be empty (0.0.0.0 or :: listens on every interface)")
    return value


class _ConfigFile:
    """One config file, read and checked: every problem is collected, each with its line."""

    def __init__(self, path: str | Path, limit: int = DEFAULT_MAX_DOCUMENT_BYTES) -> None:
        self.name = str(path)
        self.folder = Path(path).parent
        self.problems: list[tuple[int, str]] = []
        self.text = self._read(Path(path), limit)
        import yaml  # imported here: a config file is YAML; a start without one never loads PyYAML

        try:
            data = load_yaml(self.text)  # no aliases, bounded nesting: an alias bomb is refused
        except yaml.YAMLError as exc:
            line, column, what = syntax_error(exc, self.text)
            raise ConfigError([f"{self.name}:{line}:{column}: not valid YAML: {what}"]) from None
        self.lines: dict[str, int] = pointer_lines(self.text)
        if data is not None and not isinstance(data, dict):
            raise ConfigError(
                [
                    f"{self.name}:{self.lines.get('', 1)}: expected a mapping ({', '.join(TOP_LEVEL_KEYS)}) "
                    f"at the top level, not {type(data).__name__}"
                ]
            )
        self.data: dict[Any, Any] = data or {}

    def _read(self, path: Path, limit: int) -> str:
        try:
            with path.open("rb") as handle:  # a larger file is never read into memory
                raw = handle.read(limit + 1)
        except OSError as exc:
            raise ConfigError([f"config file {self.name!r}: {exc.strerror or exc}"]) from None
        if len(raw) > limit:
            raise ConfigError(
                [
                    f"config file {self.name!r}: larger than {limit} bytes "
                    "(setting max_scenario_bytes, from a flag or the environment)"
                ]
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ConfigError(
                [f"{self.name}:{line}:{column}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"]
            ) from None

    def problem(self, at: str, message: str) -> None:
        """A problem at the JSON pointer ``at``: reported with the line it is on."""
        self.problems.append((line_for(self.lines, at) or 0, message))

    def report(self) -> list[str]:
        return [
            f"{self.name}:{line}: {message}" if line else f"{self.name}: {message}"
            for line, message in sorted(self.problems, key=lambda problem: problem[0])
        ]

    def settings(self) -> dict[str, Any]:
        for key in self.data:
            if key not in TOP_LEVEL_KEYS:
                self.problem(
                    pointer(key),
                    f"unknown key {str(key)!r}{_suggest(str(key), TOP_LEVEL_KEYS)} "
                    f"(a config file has {', '.join(TOP_LEVEL_KEYS)})",
                )
        part = self.data.get("settings")
        if part is None:
            return {}
        if not isinstance(part, dict):
            self.problem("/settings", "'settings' must be a mapping of setting names to values")
            return {}
        checked: dict[str, Any] = {}
        for key, raw in part.items():
            name = str(key)
            try:
                checked[name] = _startup_value(name, raw)
            except SettingsError as exc:
                self.problem(pointer("settings", name), str(exc))
                continue
            if name == "schemas_dir" and checked[name] is not None:
                checked[name] = self.beside(checked[name])
        return checked

    def integrations(self) -> tuple[Integration, ...]:
        raw = self.data.get("integrations")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem("/integrations", "'integrations' must be a list of {id, api_key}")
            return ()
        found: list[Integration] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(raw):
            where = f"/integrations/{i}"
            if not isinstance(item, dict):
                self.problem(where, f"integrations[{i}] must be a mapping {{id: ..., api_key: ...}}")
                continue
            if set(item) != {"id", "api_key"}:
                missing = [f"missing {name}" for name in ("id", "api_key") if name not in item]
                unknown = [f"unknown {str(name)!r}" for name in item if name not in ("id", "api_key")]
                self.problem(
                    where, f"integrations[{i}] must have exactly 'id' and 'api_key' ({', '.join(missing + unknown)})"
                )
                continue
            ident, key = item["id"], item["api_key"]
            if not isinstance(ident, str) or not ident or not isinstance(key, str) or not key:
                self.problem(where, f"integrations[{i}] id and api_key must be non-empty text (quote numbers)")
                continue
            if not INTEGRATION_ID.match(ident):
                self.problem(
                    where + "/id",
                    f"integrations[{i}] id {ident[:140]!r}: an integration id is 1-128 letters, digits, "
                    "'.', '_', ':' or '-', starting with a letter or digit",
                )
                continue
            if ident in seen:
                self.problem(
                    where + "/id", f"integration {ident!r} is declared twice (first at integrations[{seen[ident]}])"
                )
                continue
            seen[ident] = i
            found.append(Integration(ident, key))
        return tuple(found)

    def scenario(self) -> str | None:
        raw = self.data.get("scenario")
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.problem("/scenario", "'scenario' must be a shipped scenario name or a file path")
            return None
        if raw in {path.stem for path in scenarios_dir().glob("*.yaml")}:
            return raw  # a shipped name stays a name
        beside = self.beside(raw)
        if Path(beside).exists() or "/" in raw or os.sep in raw or Path(raw).suffix:
            return beside
        return raw  # a name that is not shipped: the scenario loader says which ones are

    def beside(self, path: str) -> str:
        """A path written in the config file: relative to the file's folder, not the working directory."""
        expanded = Path(path).expanduser()
        return str(expanded if expanded.is_absolute() else self.folder / expanded)


def _document_limit(env: Mapping[str, str], cli: Mapping[str, Any]) -> int:
    """max_scenario_bytes as the environment or a flag set it: the config file cannot set the
    limit it is read under."""
    raw = cli.get("max_scenario_bytes", env.get(ENV_PREFIX + "MAX_SCENARIO_BYTES"))
    limit: int = DEFAULT_MAX_DOCUMENT_BYTES if raw is None else coerce("max_scenario_bytes", raw)
    return limit


def load_config(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Config:
    """Layer defaults < config file < ``MOCK_SPRINTO_*`` environment < CLI values. Every problem
    of every layer is reported at once (``ConfigError``): a misspelled setting or environment
    variable is one, never silently ignored."""
    overrides: dict[str, Any] = {}
    sources: dict[str, str] = {}
    integrations: tuple[Integration, ...] = ()
    scenario: str | None = None
    problems: list[str] = []
    file: _ConfigFile | None = None
    if config_file is not None:
        file = _ConfigFile(config_file, _document_limit(os.environ if env is None else env, cli or {}))
        overrides.update(file.settings())
        sources.update(dict.fromkeys(overrides, "config"))
        integrations = file.integrations()
        scenario = file.scenario()
        problems.extend(file.report())
    for key, value in sorted((os.environ if env is None else env).items()):
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in FIELDS:  # a typo would otherwise be a setting silently not set
            close = _suggest(name, FIELDS, lambda field: ENV_PREFIX + field.upper())
            problems.append(
                f"environment {key}: not a setting{close}"
                if close
                else f"environment {key}: not a setting ({ENV_PREFIX}* variables are settings: "
                "see mock-sprinto settings); unset or rename it"
            )
            continue
        try:
            overrides[name] = _startup_value(name, value)
            sources[name] = "environment"
        except SettingsError as exc:
            problems.append(f"environment {key}: {exc}")
    for name, value in (cli or {}).items():
        try:
            overrides[name] = _startup_value(name, value)
            sources[name] = "flag"
        except SettingsError as exc:
            problems.append(f"{flag(name)}: {exc}" if name in FIELDS else str(exc))
    if problems:
        raise ConfigError(problems)
    settings = Settings().with_overrides(overrides)
    if len(integrations) > settings.max_integrations:
        assert file is not None
        raise ConfigError(
            [
                f"{file.name}: {len(integrations)} integrations are declared, more than "
                f"max_integrations ({settings.max_integrations})"
            ]
        )
    return Config(settings, integrations, scenario, None if file is None else file.name, sources)
