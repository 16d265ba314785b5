"""What a server starts with (``Config``: the settings, the declared integrations, the scenario),
and the checks every layer of the start-up input shares: a config file, the environment, flags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .fields import FIELDS, Settings, coerce
from .values import SettingsError, did_you_mean, unknown_setting

TOP_LEVEL_KEYS = ("settings", "integrations", "scenario")
MAX_PORT = 65535


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


class ConfigError(SettingsError):
    """Every problem of the start-up input at once (config file, environment, flags), one line each:
    ``file:line: what`` for the config file, so an editor can jump to it."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


def suggest(word: str, choices: Iterable[str], spell: Callable[[str], str] = repr) -> str:
    """``; did you mean 'x'?`` for the closest choices, or nothing when none is close."""
    return did_you_mean(word, choices, spell)


def startup_value(name: str, raw: Any) -> Any:
    """``coerce``, plus the bounds only a server start-up has (an integration never sets these)."""
    if name not in FIELDS:
        raise SettingsError(unknown_setting(name, FIELDS))
    value = coerce(name, raw)
    if name == "port" and value > MAX_PORT:
        raise SettingsError(f"setting 'port' must be at most {MAX_PORT} (0 picks a free port), not {value}")
    if name == "host" and not value.strip():
        raise SettingsError("setting 'host' cannot be empty (0.0.0.0 or :: listens on every interface)")
    return value
