"""The settings: one frozen dataclass, every field with its default, origin and meaning.

Every emulator decision the vendor's docs leave open is a field here, with its origin
(``doc``: from Sprinto's documentation, ``mock``: this project's choice) and a one-line reason,
so ``GET /_mock/settings``, ``--help`` and the README table all come from one place.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .values import Kind, SettingsError, kind_of, typed, unknown_setting

ENV_PREFIX = "MOCK_SPRINTO_"

# The deepest nesting orjson reads (``loads``: 1024 levels) and writes (``dumps``: 254; a value
# nested deeper raises "Recursion limit reached"), measured with orjson 3.x and held so by
# tests/unit/test_json_depth_bound.py. Whatever a body may hold the emulator writes again, inside
# what it adds around it: a record in the applied dataset, a scenario's respond body inside a state
# bundle (``bundle.BUNDLE_NESTING``, 16 levels). So ``max_json_depth`` stops where that still
# writes: a record nested 300 deep, accepted under a setting of 400, failed its apply with a 500.
ORJSON_LOADS_DEPTH = 1024
ORJSON_DUMPS_DEPTH = 254
WRAPPER_NESTING = 16
MAX_JSON_DEPTH = ORJSON_DUMPS_DEPTH - WRAPPER_NESTING
MAX_JSON_DEPTH_WHY = (
    f"the deepest JSON the emulator can write back out: orjson's {ORJSON_DUMPS_DEPTH} levels less the "
    f"{WRAPPER_NESTING} a state bundle may add around a value"
)


def _s(
    default: Any, origin: str, doc: str, minimum: float | None = None, maximum: tuple[int, str] | None = None
) -> Any:
    """A setting's field; ``maximum``: (the largest value the emulator can honour, why), for the
    few whose bound is not just what a JSON number holds (``values.MAX_SETTING_NUMBER``)."""
    return field(default=default, metadata={"origin": origin, "doc": doc, "min": minimum, "max": maximum})


@dataclass(frozen=True)
class Settings:
    host: str = _s("127.0.0.1", "mock", "Interface to bind; anything but loopback is warned about.")
    port: int = _s(8080, "mock", "TCP port; 0 picks a free one (printed in the banner).", 0)
    inactivity_timeout_seconds: float = _s(
        3600.0, "doc", "A session expires this long after the last request that addressed it.", 1
    )
    processing_seconds: float = _s(
        2.0,
        "mock",
        "Emulator time a processing attempt takes after close(apply) (longer while a large apply is being built).",
        0,
    )
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
    max_page_entity_types: int | None = _s(
        100,
        "mock",
        "Entity types a page may name, with records or without (400 too_many_entity_types above it; Sprinto's "
        "schema sets no bound, and with max_page_items 100 no page has records in more); null lifts it.",
        1,
    )
    max_json_depth: int = _s(
        64,
        "mock",
        f"Deepest JSON nesting accepted in a body (at most {MAX_JSON_DEPTH}: deeper JSON cannot be written back out).",
        2,
        (MAX_JSON_DEPTH, MAX_JSON_DEPTH_WHY),
    )
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
        "Record fields beyond a type's known ones are accepted (Sprinto allows them), or rejected "
        "(opt-in strict: one error a field, its pointer at the field).",
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
    empty_pages: Literal["reject", "accept"] = _s(
        "reject",
        "mock",
        "A page with no records is refused (400 empty_page), or staged: a type it names with no records is "
        "then emptied by a replace apply (Sprinto's schema sets no minimum).",
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
        "Bytes of a request's headers (and characters of its query), and of a scenario's answer headers, the "
        "journal keeps for its HAR export; headers beyond are dropped from the entry, so the ring never holds "
        "more than journal_size times three times this (with a path cut at 300 characters).",
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
    max_state_bytes: int = _s(
        134_217_728,
        "mock",
        "Largest state bundle imported (a /_mock PUT body, on the wire and decoded, or a --state/--persist file).",
        1,
    )
    max_har_bytes: int = _s(
        67_108_864, "mock", "Largest HAR document judged (POST /_mock/judge body, on the wire and decoded).", 1
    )
    persist_file: str | None = _s(
        None,
        "mock",
        "File the whole state is loaded from at start (when it exists) and saved to, atomically, on shutdown "
        "and on POST /_mock/state/save (--persist FILE); null = memory only.",
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
    send_timeout_seconds: float = _s(
        60.0,
        "mock",
        "A client that reads nothing of an answer for this long is dropped (nginx send_timeout).",
        0.01,
    )
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
        "max_state_bytes",
        "max_har_bytes",
        "persist_file",
        "max_connections",
        "header_timeout_seconds",
        "body_timeout_seconds",
        "keepalive_timeout_seconds",
        "send_timeout_seconds",
        "shutdown_timeout_seconds",
    }
)


_KINDS: dict[str, tuple[Kind, bool]] = {name: kind_of(hint) for name, hint in typing.get_type_hints(Settings).items()}


def kinds(name: str) -> tuple[Kind, bool]:
    """(base type or Literal choices, nullable) of a setting."""
    return _KINDS[name]


def coerce(name: str, raw: Any) -> Any:
    """Turn a raw value (YAML scalar, env or CLI string) into the setting's type, or explain."""
    if name not in FIELDS:
        raise SettingsError(unknown_setting(name, FIELDS))
    metadata = FIELDS[name].metadata
    return typed(name, raw, *_KINDS[name], metadata["min"], metadata["max"])


def check_override(name: str, raw: Any) -> Any:
    """An integration-level override: a known, non-server-wide setting with a valid value."""
    if name in SERVER_SETTINGS:
        raise SettingsError(f"'{name}' is a server-wide setting; set it when starting the server")
    kind = _KINDS[name][0] if name in FIELDS else None
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
