"""How a raw value (a YAML or JSON scalar, an environment or command line string) becomes a
setting's typed value, or a ``SettingsError`` that says why it cannot.

Nothing here knows the settings themselves: a setting's type hint comes in, its kind and value
come out (``fields`` applies this to each ``Settings`` field).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ..documents import is_text
from ..errors import MockSprintoError

MAX_SETTING_NUMBER = 2**53

# A setting's kind: its base type, or the choices of a Literal.
Kind = type | tuple[str, ...]

_NULL_WORDS = {"null", "none", "off", ""}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no"}


class SettingsError(MockSprintoError, ValueError):
    """A setting (or config file) that cannot be used; the message names which and why."""


def did_you_mean(word: str, choices: Iterable[str], spell: Callable[[str], str] = repr) -> str:
    """``; did you mean 'x'?`` naming the closest choice (or the two or three as close:
    ``'a', 'b' or 'c'``), or nothing when none is close."""
    import difflib  # imported here: only a misspelled name needs a suggestion, never a clean start

    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    ratio = {name: difflib.SequenceMatcher(None, word, name).ratio() for name in close}
    named = [spell(name) for name in close if ratio[name] >= ratio[close[0]] - 0.05]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    return f"; did you mean {listed}?"


def unknown_setting(name: str, known: Iterable[str]) -> str:
    """The one message for a name that is no setting: the closest names and where the whole list
    is, never all of them inline (there are dozens)."""
    return f"unknown setting {name!r}{did_you_mean(name, known)} (see: mock-sprinto settings)"


def kind_of(hint: Any) -> tuple[Kind, bool]:
    """(base type or Literal choices, nullable) of a setting's type hint."""
    nullable = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        nullable = type(None) in args
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is Literal:
        return tuple(typing.get_args(hint)), nullable
    return hint, nullable


_PATHS = frozenset({"schemas_dir", "persist_file"})  # settings that name files


def typed(
    name: str, raw: Any, kind: Kind, nullable: bool, minimum: float | None, maximum: tuple[int, str] | None = None
) -> Any:
    """``raw`` as a value of ``kind`` (at least ``minimum`` when a number, and at most ``maximum``'s
    number when given, its reason said when refused), or SettingsError."""
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
        return _boolean(name, raw)
    if kind is str:
        if not isinstance(raw, str):
            raise SettingsError(f"setting {name!r} must be a string, not {raw!r}")
        if name in _PATHS and nullable and not raw.strip():
            return None  # no file: '--schemas-dir ""' read the current folder as a schemas folder
        # a path may hold bytes that are not UTF-8: the file system takes them
        if name not in _PATHS and not is_text(raw):
            raise SettingsError(f"setting {name!r} must be UTF-8 text: it holds a lone surrogate or a byte that is not")
        return raw
    return _number(name, raw, kind is int, minimum, maximum)


def _boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE_WORDS | _FALSE_WORDS:
        return raw.lower() in _TRUE_WORDS
    raise SettingsError(f"setting {name!r} must be true or false, not {raw!r}")


def _number(name: str, raw: Any, whole: bool, minimum: float | None, maximum: tuple[int, str] | None) -> float | int:
    value: float | int
    try:
        if isinstance(raw, bool):
            raise ValueError
        if whole:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            value = int(raw)
        else:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
    except (TypeError, ValueError):
        word = "a whole number" if whole else "a number"
        raise SettingsError(f"setting {name!r} must be {word}, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"setting {name!r} must be at least {minimum:g}, not {value:g}")
    if maximum is not None and value > maximum[0]:
        raise SettingsError(f"setting {name!r} must be at most {maximum[0]} ({maximum[1]}), not {value:g}")
    if abs(value) > MAX_SETTING_NUMBER or (type(raw) is int and abs(raw) > MAX_SETTING_NUMBER):  # before rounding
        # Every value must survive a JSON round trip (GET /_mock/settings); 2**53 is far beyond need.
        raise SettingsError(f"setting {name!r} must be at most {MAX_SETTING_NUMBER}, not {value:g}")
    return value
