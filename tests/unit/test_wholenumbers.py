"""``as_integers``: a whole float becomes an int where the schema says ``integer``, nowhere else, and a
large document's strings are not walked one by one."""

from __future__ import annotations

import sys
from typing import Any

import orjson

from mock_sprinto import bundle, wholenumbers
from mock_sprinto.wholenumbers import as_integers

SCHEMA: dict[str, Any] = {
    "$defs": {
        "count": {"type": "integer"},
        "node": {
            "type": "object",
            "properties": {"n": {"$ref": "#/$defs/count"}, "next": {"$ref": "#/$defs/node"}},
        },
    },
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "ratio": {"type": "number"},
        "either": {"type": ["integer", "number"]},
        "maybe": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "anything": True,
        "pair": {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "number"}],
            "items": {"type": "integer"},
        },
        "chain": {"$ref": "#/$defs/node"},
        "labels": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {"type": "integer"},
}


def test_whole_floats_become_ints_only_where_the_schema_says_integer() -> None:
    document = {
        "status": 201.0,
        "ratio": 2.0,
        "either": 3.0,
        "maybe": 4.0,
        "anything": 5.0,  # its schema is ``true``: not additionalProperties'
        "pair": [6.0, 7.0, 8.0, 9.5],
        "chain": {"n": 10.0, "next": {"n": 11.0, "next": {"n": 12.5}}},
        "labels": ["a", "b"],
        "other": 13.0,  # additionalProperties: integer
    }
    converted = as_integers(SCHEMA, document)
    assert orjson.dumps(converted) == orjson.dumps(
        {
            "status": 201,
            "ratio": 2.0,
            "either": 3.0,
            "maybe": 4,
            "anything": 5.0,
            "pair": [6, 7.0, 8, 9.5],
            "chain": {"n": 10, "next": {"n": 11, "next": {"n": 12.5}}},
            "labels": ["a", "b"],
            "other": 13,
        }
    )
    assert as_integers({"type": "integer"}, 3.0) == 3 and type(as_integers({"type": "integer"}, 3.0)) is int


def _floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats(item) for item in value]
    return float(value) if type(value) is int else value


def _bundle_document() -> dict[str, Any]:
    headers = [["Content-Type", "application/json"], ["User-Agent", "client/1.0"]] * 10
    entry = {"request_id": "req_1", "status": 202, "arrival": 7, "answer": 8, "request_headers": headers}
    return {"format": "mock-sprinto-state", "version": 1, "journal": [dict(entry, arrival=i) for i in range(1000)]}


def test_a_documents_strings_are_not_visited_one_by_one() -> None:
    # A full journal's bundle is ~750,000 values, nearly all header strings: a call each took ~1.5 s
    # of one step of the loop at every state import.
    schema = bundle._schema()
    document = _floats(_bundle_document())
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code.co_filename == wholenumbers.__file__:
            calls += 1

    sys.setprofile(count)
    try:
        converted = as_integers(schema, document)
    finally:
        sys.setprofile(None)
    assert [type(e["status"]) for e in converted["journal"]] == [int] * 1000
    assert [e["arrival"] for e in converted["journal"]] == list(range(1000))
    strings = sum(len(e["request_headers"]) * 2 for e in converted["journal"])
    assert calls < strings / 4  # a call a container that can hold an integer, or a float: not one a string


def test_a_whole_float_beyond_64_bits_stays_a_float_and_is_named_by_its_path() -> None:
    # An int of 1e300 could be written by no answer, export or save (orjson writes 64 bits): it is
    # left a float, and a caller that asks is told where each one is (the bundle refuses them).
    document = {
        "status": 2.0**64,  # one past the widest orjson writes
        "pair": [-(2.0**63), 7.0, -1e19],  # the narrowest orjson writes, a number, one below
        "chain": {"n": 1.0, "next": {"n": 1e300}},
        "other": 2.0**64 - 2048,  # the widest whole float below 2**64: written as an int
        "ratio": 1e300,  # a number, not an integer: no one asked for an int here
    }
    too_wide: list[tuple[str | int, ...]] = []
    converted = as_integers(SCHEMA, document, too_wide=too_wide)
    assert too_wide == [("chain", "next", "n"), ("pair", 2), ("status",)]
    assert type(converted["status"]) is float and converted["pair"][0] == wholenumbers.WRITABLE_MIN
    assert type(converted["pair"][0]) is int and type(converted["other"]) is int
    assert orjson.dumps(converted)  # everything in it can be written back
    assert as_integers(SCHEMA, {"status": 1e300})["status"] == 1e300  # not asked: left a float all the same
