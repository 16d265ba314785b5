"""One config file, read and checked: its ``settings``, ``integrations`` and ``scenario``, and
every problem in it at once, each with the line it is on.

Imported by ``load_config`` only when a config file is given: a start without one never reads
this module, nor PyYAML.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..documents import DEFAULT_MAX_DOCUMENT_BYTES, NotJson, is_text, load_yaml, read_as_json
from ..naming import INTEGRATION_ID, api_key_problem
from ..resources import scenarios_dir
from ..sourcelines import json_pointer, line_for, pointer_lines, syntax_error
from .config import TOP_LEVEL_KEYS, ConfigError, Integration, startup_value, suggest
from .values import SettingsError


class ConfigFile:
    """One config file, read and checked: every problem is collected, each with its line."""

    def __init__(self, path: str | Path, limit: int = DEFAULT_MAX_DOCUMENT_BYTES) -> None:
        self.name = str(path)
        self.folder = Path(path).parent
        self.limit = limit
        self.problems: list[tuple[int, str]] = []
        self.text = self._read(Path(path), limit)
        data = self._load()
        self.lines: dict[str, int] = pointer_lines(self.text)
        if data is not None and not isinstance(data, dict):
            raise ConfigError(
                [
                    f"{self.name}:{self.lines.get('', 1)}: expected a mapping ({', '.join(TOP_LEVEL_KEYS)}) "
                    f"at the top level, not {type(data).__name__}"
                ]
            )
        self.data: dict[Any, Any] = data or {}

    def _load(self) -> Any:
        try:
            as_json = read_as_json(self.text, self.name)  # JSON's own numbers, not YAML 1.1's
        except NotJson as exc:
            where = f"{exc.line}:{exc.column}:" if exc.line else ""
            raise ConfigError([f"{self.name}:{where} {exc}"]) from None
        if as_json is not None:
            return as_json[0]
        import yaml  # imported here: a config file is YAML; a start without one never loads PyYAML

        try:
            return load_yaml(self.text)  # no aliases, bounded nesting: an alias bomb is refused
        except yaml.YAMLError as exc:
            line, column, what = syntax_error(exc, self.text)
            raise ConfigError([f"{self.name}:{line}:{column}: not valid YAML: {what}"]) from None

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
                    json_pointer((key,)),
                    f"unknown key {str(key)!r}{suggest(str(key), TOP_LEVEL_KEYS)} "
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
                checked[name] = startup_value(name, raw)
            except SettingsError as exc:
                self.problem(json_pointer(("settings", name)), str(exc))
                continue
            if name in ("schemas_dir", "persist_file") and checked[name] is not None:
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
            declared = self._integration(i, item)
            if declared is None:
                continue
            if declared.id in seen:
                self.problem(
                    f"/integrations/{i}/id",
                    f"integration {declared.id!r} is declared twice (first at integrations[{seen[declared.id]}])",
                )
                continue
            seen[declared.id] = i
            found.append(declared)
        return tuple(found)

    def _integration(self, i: int, item: Any) -> Integration | None:
        """``integrations[i]`` when it is a valid ``{id, api_key}``, else None and its problem noted."""
        where = f"/integrations/{i}"
        if not isinstance(item, dict):
            self.problem(where, f"integrations[{i}] must be a mapping {{id: ..., api_key: ...}}")
            return None
        if set(item) != {"id", "api_key"}:
            missing = [f"missing {name}" for name in ("id", "api_key") if name not in item]
            unknown = [f"unknown {str(name)!r}" for name in item if name not in ("id", "api_key")]
            self.problem(
                where, f"integrations[{i}] must have exactly 'id' and 'api_key' ({', '.join(missing + unknown)})"
            )
            return None
        ident, key = item["id"], item["api_key"]
        if not isinstance(ident, str) or not ident or not isinstance(key, str) or not key:
            self.problem(where, f"integrations[{i}] id and api_key must be non-empty text (quote numbers)")
            return None
        if not is_text(key):  # every request of the integration was a 500, comparing its key
            self.problem(where + "/api_key", f"integrations[{i}] api_key must be UTF-8 text: it holds a lone surrogate")
            return None
        if (unsendable := api_key_problem(key)) is not None:  # the integration could never be called
            self.problem(where + "/api_key", f"integrations[{i}] api_key {unsendable}")
            return None
        if not INTEGRATION_ID.match(ident):
            self.problem(
                where + "/id",
                f"integrations[{i}] id {ident[:140]!r}: an integration id is 1-128 letters, digits, "
                "'.', '_', ':' or '-', starting with a letter or digit",
            )
            return None
        return Integration(ident, key)

    def scenario(self) -> str | None:
        raw = self.data.get("scenario")
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.problem("/scenario", "'scenario' must be a shipped scenario name or a file path")
            return None
        shipped = {path.stem for path in scenarios_dir().glob("*.yaml")}
        if raw in shipped:
            return raw  # a shipped name stays a name
        beside = self.beside(raw)
        if Path(beside).exists() or "/" in raw or os.sep in raw or Path(raw).suffix:
            self._check_scenario_file(beside)
            return beside
        # A name that is not shipped: said here, with the file's other problems, rather than after
        # they are fixed (the server resolves the scenario only once the settings load).
        from ..faults.scenario import no_shipped_scenario  # only a misspelled name needs it

        self.problem("/scenario", no_shipped_scenario(raw))
        return None

    def _check_scenario_file(self, path: str) -> None:
        """The scenario file the config file names, checked now: its problems are the config
        file's too, reported in the same go as a misspelled setting."""
        from ..faults.scenario import ScenarioError, load_scenario_file  # only a config naming a file

        try:
            load_scenario_file(path, self.limit)
        except ScenarioError as exc:
            for problem in exc.problems:
                self.problem("/scenario", f"scenario {exc.source}: {problem}")

    def beside(self, path: str) -> str:
        """A path written in the config file: relative to the file's folder, not the working directory."""
        expanded = Path(path).expanduser()
        return str(expanded if expanded.is_absolute() else self.folder / expanded)
