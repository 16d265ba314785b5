"""How settings are spelled for people: the command line flag, a value as the docs write it,
the kind of value a flag takes (``--help``, ``mock-sprinto settings``, the probe's file), and the
closest names to a misspelled one ("did you mean ...?")."""

from __future__ import annotations

from typing import Any

from .fields import FIELDS, kinds
from .values import did_you_mean


def unknown_setting(name: str) -> str:
    """The one message for a setting name that is not a setting: the closest names, and where the
    whole list is (never all of them inline: there are dozens)."""
    return f"unknown setting {name!r}{did_you_mean(name, FIELDS)} (see: mock-sprinto settings)"


def flag(name: str) -> str:
    """The command line flag of a setting: ``max_page_items`` -> ``--max-page-items``."""
    return "--" + name.replace("_", "-")


def shown(value: Any) -> str:
    """A value as the docs, ``--help`` and config files write it: null, true, false, 3600.0."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def value_hint(name: str) -> str:
    """How a setting's value is spelled on the command line: its choices, or what kind of value."""
    kind, nullable = kinds(name)
    if isinstance(kind, tuple) or kind is bool:
        words = [*(kind if isinstance(kind, tuple) else ("true", "false")), *(["null"] if nullable else [])]
        return "{" + ",".join(words) + "}"
    if kind is str:
        return name.rsplit("_", 1)[-1].upper()  # HOST, TOKEN, DIR
    if name == "port":
        return "PORT"
    return {"seconds": "SECONDS", "bytes": "BYTES"}.get(name.rsplit("_", 1)[-1], "N")
