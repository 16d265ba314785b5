"""Where the shipped data folders are: inside an installed wheel, or beside the package in a checkout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

_PACKAGE = Path(__file__).resolve().parent

Shipped = Literal["schemas", "scenarios", "docs"]


def shipped_dir(name: Shipped) -> Path:
    """``schemas/``, ``scenarios/`` or ``docs/``: the wheel's copy (``_data/``) first, then the checkout's."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the shipped {name}/ folder is missing from this installation")


def schemas_dir() -> Path:
    return shipped_dir("schemas")


def scenarios_dir() -> Path:
    return shipped_dir("scenarios")


def doc_pages() -> dict[str, Path]:
    """The docs pages a running emulator serves at ``/_mock/docs/{name}``: ``docs/*.md`` of the
    wheel (``_data/docs``) or of the checkout, by name without ``.md``; none when neither has them."""
    try:
        folder = shipped_dir("docs")
    except FileNotFoundError:
        return {}
    return {path.stem: path for path in sorted(folder.glob("*.md")) if _PAGE_NAME.match(path.stem)}


_PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


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
