"""The exam's tests: its example clients, and ways to run them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from .clients import careful

CLIENTS = Path(__file__).parent / "clients"
CAREFUL_PY = [sys.executable, str(CLIENTS / "careful.py")]
CAREFUL_NODE = [shutil.which("node") or "node", str(CLIENTS / "careful.mjs")]
# What the careful client syncs: given as --expect, a trial's exam runs no baseline of its own.
DATASET: dict[str, list[dict[str, Any]]] = {"User": careful.users(30)}


def habit(name: str) -> list[str]:
    return [*CAREFUL_PY, "--habit", name]


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    return tmp_path / "exam"
