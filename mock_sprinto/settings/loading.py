"""The start-up input, layered: defaults < config file < ``MOCK_SPRINTO_*`` environment < flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..documents import DEFAULT_MAX_DOCUMENT_BYTES
from .config import Config, ConfigError, Integration, startup_value, suggest
from .fields import ENV_PREFIX, FIELDS, Settings, coerce
from .spelling import flag
from .values import SettingsError


def load_config(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Config:
    """Layer defaults < config file < ``MOCK_SPRINTO_*`` environment < CLI values. Every problem
    of every layer is reported at once (``ConfigError``): a misspelled setting or environment
    variable is one, never silently ignored."""
    environment = os.environ if env is None else env
    layers = _Layers()
    integrations: tuple[Integration, ...] = ()
    scenario: str | None = None
    file_name: str | None = None
    if config_file is not None:
        from .configfile import ConfigFile  # imported here: a start without a config file never needs it

        file = ConfigFile(config_file, _document_limit(environment, cli or {}))
        layers.apply(file.settings(), "config")
        integrations, scenario, file_name = file.integrations(), file.scenario(), file.name
        layers.problems.extend(file.report())
    layers.environment(environment)
    layers.flags(cli or {})
    if layers.problems:
        raise ConfigError(layers.problems)
    settings = Settings().with_overrides(layers.overrides)
    if len(integrations) > settings.max_integrations:
        raise ConfigError(
            [
                f"{file_name}: {len(integrations)} integrations are declared, more than "
                f"max_integrations ({settings.max_integrations})"
            ]
        )
    return Config(settings, integrations, scenario, file_name, layers.sources)


class _Layers:
    """What the layers set so far, which layer set each setting, and every problem found."""

    def __init__(self) -> None:
        self.overrides: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.problems: list[str] = []

    def apply(self, checked: Mapping[str, Any], source: str) -> None:
        """Values already checked (the config file's), all from ``source``."""
        self.overrides.update(checked)
        self.sources.update(dict.fromkeys(checked, source))

    def _set(self, name: str, raw: Any, source: str) -> None:
        self.overrides[name] = startup_value(name, raw)
        self.sources[name] = source

    def environment(self, env: Mapping[str, str]) -> None:
        for key, value in sorted(env.items()):
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX) :].lower()
            if name not in FIELDS:  # a typo would otherwise be a setting silently not set
                self.problems.append(_not_a_setting(key, name))
                continue
            try:
                self._set(name, value, "environment")
            except SettingsError as exc:
                self.problems.append(f"environment {key}: {exc}")

    def flags(self, cli: Mapping[str, Any]) -> None:
        for name, value in cli.items():
            try:
                self._set(name, value, "flag")
            except SettingsError as exc:
                self.problems.append(f"{flag(name)}: {exc}" if name in FIELDS else str(exc))


def _not_a_setting(key: str, name: str) -> str:
    close = suggest(name, FIELDS, lambda field: ENV_PREFIX + field.upper())
    if close:
        return f"environment {key}: not a setting{close}"
    return (
        f"environment {key}: not a setting ({ENV_PREFIX}* variables are settings: "
        "see mock-sprinto settings); unset or rename it"
    )


def _document_limit(env: Mapping[str, str], cli: Mapping[str, Any]) -> int:
    """max_scenario_bytes as the environment or a flag set it: the config file cannot set the
    limit it is read under."""
    raw = cli.get("max_scenario_bytes", env.get(ENV_PREFIX + "MAX_SCENARIO_BYTES"))
    limit: int = DEFAULT_MAX_DOCUMENT_BYTES if raw is None else coerce("max_scenario_bytes", raw)
    return limit
