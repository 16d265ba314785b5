"""One exception base a user can catch: every error mock-sprinto raises on purpose is a
``mock_sprinto.MockSprintoError`` (README: "What to catch")."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import mock_sprinto
from mock_sprinto import MockSprintoError, testing
from mock_sprinto.errors import ApiError
from mock_sprinto.faults.scenario import ScenarioError
from mock_sprinto.settings import SettingsError
from mock_sprinto.testing import ControlError

# Control flow inside the server, never raised to a user (their docstrings say why they stand apart).
INTERNAL = {"mock_sprinto.http.server.BodyInterrupted", "mock_sprinto.coding.BeyondInlineShare"}


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(mock_sprinto.__path__, "mock_sprinto."):
        if info.name.rsplit(".", 1)[-1] == "__main__":  # importing it would run the command
            continue
        for value in vars(importlib.import_module(info.name)).values():
            if inspect.isclass(value) and issubclass(value, BaseException):
                if value.__module__.startswith("mock_sprinto."):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_exception_class_of_the_package_is_a_mock_sprinto_error() -> None:
    classes = _exception_classes()
    assert {"mock_sprinto.errors.ApiError", "mock_sprinto.testing.ControlError"} <= set(classes)
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, MockSprintoError))
    assert outside == sorted(INTERNAL)


def test_the_base_is_importable_where_users_import_it_and_keeps_the_builtin_bases() -> None:
    assert testing.MockSprintoError is MockSprintoError
    assert issubclass(ControlError, MockSprintoError) and issubclass(ApiError, MockSprintoError)
    assert issubclass(ScenarioError, ValueError) and issubclass(SettingsError, ValueError)


def test_a_failed_control_call_is_caught_as_the_base_with_its_status_and_code() -> None:
    error = ControlError("POST", "/_mock/clock/set", 409, {"code": "clock_backwards", "detail": "no"})
    with pytest.raises(MockSprintoError, match="clock_backwards: no") as caught:
        raise error
    assert isinstance(caught.value, ControlError)
    assert (caught.value.status, caught.value.code) == (409, "clock_backwards")
