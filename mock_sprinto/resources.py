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


def readme_text() -> str:
    """The README the dashboard links into: the checkout's, or the installed package's description."""
    beside = _PACKAGE.parent / "README.md"
    if beside.is_file():
        return beside.read_text(encoding="utf-8")
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        return str(metadata("mock-sprinto").get_payload())  # type: ignore[attr-defined]
    except PackageNotFoundError:  # pragma: no cover - neither a checkout nor installed
        return "# mock-sprinto\n\nThe README is not part of this installation."
