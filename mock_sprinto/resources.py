"""Where the shipped data folders are: inside an installed wheel, or beside the package in a checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

_PACKAGE = Path(__file__).resolve().parent

Shipped = Literal["schemas", "scenarios"]


def shipped_dir(name: Shipped) -> Path:
    """``schemas/`` or ``scenarios/``: the wheel's copy (``_data/``) first, then the checkout's."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the shipped {name}/ folder is missing from this installation")


def schemas_dir() -> Path:
    return shipped_dir("schemas")


def scenarios_dir() -> Path:
    return shipped_dir("scenarios")
