"""``documents.plain_json`` against PyYAML: where it answers, the value is exactly what
``load_yaml`` returns (so a scenario written that way reads the same without PyYAML), and it
answers for the texts it promises to (``json.dumps(value, indent=2)`` within its bounds)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mock_sprinto.documents import load_yaml, plain_json
from mock_sprinto.faults.scenario import shipped_scenarios

# Keys and strings from all of Unicode (most leave the fast path: escapes, non-ASCII) and from
# the YAML-significant ASCII characters (which stay on it).
_TRICKY = st.text(alphabet=st.sampled_from(list(" -?:#,[]{}&*!|>'%@`<=~.0123456789eEyYnN\"\\\t")), max_size=12)
_TEXT = st.one_of(st.text(max_size=12), _TRICKY, st.sampled_from(["yes", "no", "on", "~", "<<", "=", "1e5", "0o7"]))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=25,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, with -0.0 told from 0.0 and the types kept (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _checked(text: str) -> tuple[Any] | None:
    fast = plain_json(text)
    if fast is not None:
        assert _same(fast[0], load_yaml(text)), text
    return fast


@given(_VALUES, st.booleans())
@example({"<<": {"a": 1}}, True)
@example({"a": -0.0, "b": 12345678901234567890123, "c": 1.5}, True)
@example([[[]], {}, "", "---", "...", "# no comment"], False)
def test_plain_json_reads_what_pyyaml_reads(value: Any, newline: bool) -> None:
    text = json.dumps(value, indent=2) + ("\n" if newline else "")
    fast = _checked(text)
    # 1e-05 is a string to YAML 1.1; inf and nan are written Infinity and NaN
    odd_number = any("e" in repr(f) or not math.isfinite(f) for f in _floats(value))
    if text.isascii() and "\\" not in text and not odd_number:
        assert fast is not None, text  # within the promised bounds: the fast path is taken
        assert _same(fast[0], value)


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in _floats(item)]
    if isinstance(value, list):
        return [f for item in value for f in _floats(item)]
    return []


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',  # compact: not the one spelling
        '{\n  "a": 1,\n  "a": 2\n}\n',  # a repeated key
        '{\n  "a": 1e5\n}\n',  # a string to YAML 1.1
        '{\n  "a": NaN\n}\n',
        '{\n  "' + "k" * 1001 + '": 1\n}\n',  # PyYAML refuses a key this long
        "name: default\nrules: []\n",  # YAML
        json.dumps([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], indent=2),  # 33 deep
        '{\n  "a": "\\u00e9"\n}\n',
        "",
    ],
)
def test_plain_json_leaves_the_rest_to_pyyaml(text: str) -> None:
    assert _checked(text) is None


def test_the_default_scenario_is_read_without_pyyaml_and_every_shipped_one_reads_the_same() -> None:
    for name, path in shipped_scenarios().items():
        text = path.read_text(encoding="utf-8")
        fast = _checked(text)
        if name == "default":  # serve reads it at every start
            assert fast is not None
