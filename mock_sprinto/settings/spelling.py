"""How settings are spelled for people: the command line flag, a value as the docs write it,
the kind of value a flag takes (``--help``, ``mock-sprinto settings``, the probe's file), and the
closest names to a misspelled one ("did you mean ...?")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .fields import FIELDS, kinds


def did_you_mean(word: str, choices: Iterable[str], spell: Callable[[str], str] = repr) -> str:
    """``; did you mean 'x'?`` naming the closest choice (or the two or three equally close:
    ``'a', 'b' or 'c'``), or nothing when none is close."""
    import difflib  # imported here: only a misspelled name needs a suggestion, never a clean start

    options = list(choices)
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    if not close:
        return ""
    ratio = {name: difflib.SequenceMatcher(None, word, name).ratio() for name in close}
    best = ratio[close[0]]
    named = [spell(name) for name in close if ratio[name] >= best - 0.05]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    return f"; did you mean {listed}?"


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
