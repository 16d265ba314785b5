"""The catalogue of error codes (``mock_sprinto/codes.py``) is the one place a code is spelled: every
error is raised from an entry, and every entry is answered somewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mock_sprinto import codes
from mock_sprinto.codes import CATALOGUE, ErrorCode
from mock_sprinto.errors import ApiError

PACKAGE = Path(__file__).resolve().parents[2] / "mock_sprinto"
# Where the code is the Nth positional argument: ApiError(status, code, detail) and the helpers
# errors.py once had (a branch that still calls one must catalogue its code too).
CODE_ARGUMENT = {"ApiError": 1, "of": 0, "bad_request": 0, "conflict": 0, "not_found": 0}


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(PACKAGE.rglob("*.py"))]


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def test_the_catalogue_names_each_code_once_with_its_status_and_meaning() -> None:
    spelled = [entry.code for entry in CATALOGUE]
    assert len(spelled) == len(set(spelled))
    for entry in CATALOGUE:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", entry.code), entry
        assert entry.status is None or 400 <= entry.status <= 599, entry
        assert entry.meaning and "\n" not in entry.meaning, entry
        assert getattr(codes, entry.code.upper()) is entry, "an entry's name is its code in capitals"


def test_no_error_is_raised_with_a_code_spelled_out() -> None:
    """A new code goes into the catalogue (and so gets its rule and basis), not into a call."""
    found = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or (name := _called(node)) not in CODE_ARGUMENT:
                continue
            if name == "of" and not (isinstance(node.func, ast.Attribute) and _called_on_api_error(node.func)):
                continue
            position = CODE_ARGUMENT[name]
            given = [*node.args[position : position + 1], *(k.value for k in node.keywords if k.arg == "code")]
            if any(isinstance(value, ast.Constant) and isinstance(value.value, str) for value in given):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert found == [], "raise ApiError.of(CATALOGUE_ENTRY, detail) instead: " + ", ".join(found)


def _called_on_api_error(func: ast.Attribute) -> bool:
    return isinstance(func.value, ast.Name) and func.value.id == "ApiError"


def test_every_entry_is_answered_somewhere() -> None:
    """An entry no code refers to (beyond the catalogue and the rules table) is a code never answered."""
    used: set[str] = set()
    for path, tree in _sources():
        if path.name in ("codes.py", "rules.py") and path.parent == PACKAGE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.alias):
                used.add(node.asname or node.name)
    assert [entry.code for entry in CATALOGUE if entry.code.upper() not in used] == []


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.code)
def test_an_entry_raises_its_status_and_code(entry: ErrorCode) -> None:
    if entry.status is None:  # the status of what it stands for: the caller builds it
        with pytest.raises(TypeError, match=entry.code):
            ApiError.of(entry, "detail")
        return
    error = ApiError.of(entry, "detail", parameter="x", headers={"Retry-After": "1"})
    assert (error.status, error.code, error.detail, error.extra, error.headers) == (
        entry.status,
        entry.code,
        "detail",
        {"parameter": "x"},
        {"Retry-After": "1"},
    )
    assert error.problem()["code"] == entry.code
