"""Settings: one frozen dataclass, layered defaults < config file < environment < CLI flags.

Every emulator decision the vendor's docs leave open is a field of ``Settings``, with its origin
and a one-line reason, so ``GET /_mock/settings``, ``--help`` and the README table all come from
one place. The parts, lowest first:

* ``values``: how a raw value (YAML, JSON, environment or flag text) becomes a typed one, and the
  closest names to a misspelled one ("did you mean ...?");
* ``fields``: the ``Settings`` dataclass, its table, and the checks of an integration's overrides;
* ``spelling``: how a setting is spelled for people (its flag, its values);
* ``config``: ``Config`` (settings, declared integrations, scenario) and the start-up checks;
* ``configfile``: one config file, read and checked (imported only when there is one);
* ``loading``: ``load_config``, the layers put together.

Import the names from here: ``from mock_sprinto.settings import Settings, load_config``.
"""

from __future__ import annotations

from .config import MAX_PORT, TOP_LEVEL_KEYS, Config, ConfigError, Integration
from .fields import (
    ENV_PREFIX,
    FIELDS,
    MAX_JSON_DEPTH,
    SERVER_SETTINGS,
    Settings,
    check_override,
    check_overrides,
    coerce,
    describe,
)
from .loading import load_config
from .spelling import flag, shown, value_hint
from .values import MAX_SETTING_NUMBER, SettingsError

__all__ = [
    "ENV_PREFIX",
    "FIELDS",
    "MAX_JSON_DEPTH",
    "MAX_PORT",
    "MAX_SETTING_NUMBER",
    "SERVER_SETTINGS",
    "TOP_LEVEL_KEYS",
    "Config",
    "ConfigError",
    "Integration",
    "Settings",
    "SettingsError",
    "check_override",
    "check_overrides",
    "coerce",
    "describe",
    "flag",
    "load_config",
    "shown",
    "value_hint",
]
