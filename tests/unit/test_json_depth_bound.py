"""``max_json_depth`` stops where orjson still reads and writes what a body may hold, inside what the
emulator adds around it (the surface review: a record nested 300 deep, accepted under a setting of
400, broke its apply with a 500)."""

from __future__ import annotations

import orjson
import pytest

from mock_sprinto import bundle
from mock_sprinto.payload import parse_json
from mock_sprinto.settings import MAX_JSON_DEPTH, SettingsError, check_override, coerce
from mock_sprinto.settings.fields import ORJSON_DUMPS_DEPTH, ORJSON_LOADS_DEPTH, WRAPPER_NESTING


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_the_orjson_limits_the_bound_is_made_of_are_orjsons_own() -> None:
    """If orjson's limits move, the bound must be worked out again."""
    orjson.dumps(orjson.loads(_nested(ORJSON_DUMPS_DEPTH)))
    with pytest.raises(orjson.JSONEncodeError, match="Recursion limit"):
        orjson.dumps(orjson.loads(_nested(ORJSON_DUMPS_DEPTH + 1)))
    orjson.loads(_nested(ORJSON_LOADS_DEPTH))
    with pytest.raises(orjson.JSONDecodeError, match="depth"):
        orjson.loads(_nested(ORJSON_LOADS_DEPTH + 1))


def test_a_value_as_deep_as_the_bound_is_written_inside_whatever_the_emulator_wraps_it_in() -> None:
    assert bundle.BUNDLE_NESTING <= WRAPPER_NESTING  # what a state bundle adds around a value
    assert MAX_JSON_DEPTH + WRAPPER_NESTING <= ORJSON_DUMPS_DEPTH
    value = parse_json(_nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)
    wrapped: object = value
    for _ in range(WRAPPER_NESTING):
        wrapped = {"around": wrapped}
    orjson.dumps(wrapped)
    parse_json(orjson.dumps(wrapped), MAX_JSON_DEPTH + bundle.BUNDLE_NESTING)  # a bundle read back


@pytest.mark.parametrize("read", [coerce, check_override])
def test_a_larger_max_json_depth_is_refused_saying_the_bound_and_why(read: object) -> None:
    assert callable(read)
    assert read("max_json_depth", MAX_JSON_DEPTH) == MAX_JSON_DEPTH
    with pytest.raises(SettingsError) as refused:
        read("max_json_depth", MAX_JSON_DEPTH + 1)
    message = str(refused.value)
    assert f"at most {MAX_JSON_DEPTH}" in message and "write" in message and str(MAX_JSON_DEPTH + 1) in message


def test_a_body_deeper_than_orjson_reads_is_refused_naming_the_setting_and_its_value() -> None:
    """Before: 'nesting is deeper than allowed'."""
    with pytest.raises(Exception) as refused:
        parse_json(_nested(ORJSON_LOADS_DEPTH + 1), 64)
    error = refused.value
    assert getattr(error, "code", None) == "malformed_body" and getattr(error, "setting", None) == "max_json_depth"
    assert "deeper than 64 levels" in str(error) and "max_json_depth" in str(error)
