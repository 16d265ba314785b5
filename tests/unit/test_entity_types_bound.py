"""``max_page_entity_types``: a page naming more entity types than the setting allows, with records
or without, is refused 400 ``too_many_entity_types``, a large one before it is parsed (the surface
review: pages of a million empty types were parsed into million-key objects and kept whole)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mock_sprinto.payload import SCAN_PREFIX_BYTES, page_beyond
from mock_sprinto.settings import Settings
from mock_sprinto.validation import SchemaRegistry, check_page, refused_unparsed

from ..helpers import user

LIMIT = Settings().max_page_entity_types


def _page(types: int, **records: list[Any]) -> dict[str, Any]:
    return {"entities": {**{f"T{i}": [] for i in range(types)}, **records}}


def _check(body: Any, registry: SchemaRegistry, max_types: int | None = LIMIT) -> Any:
    return check_page(body, registry, max_items=100, max_errors=100, reject_unknown_types=False, max_types=max_types)


def test_the_default_is_100_and_null_lifts_it() -> None:
    assert LIMIT == 100
    assert Settings().with_overrides({"max_page_entity_types": None}).max_page_entity_types is None


def test_a_page_naming_one_type_too_many_is_refused_saying_how_many_the_limit_and_the_setting(
    registry: SchemaRegistry,
) -> None:
    """Before: 101 empty types and one record were accepted, and answered with 101 counts."""
    verdict = _check({"page_hint": 7, **_page(100, User=[user(1)])}, registry)
    assert verdict.code is not None and verdict.code.code == "too_many_entity_types" and verdict.code.status == 400
    assert "at most 100 entity types" in verdict.detail and "names 101" in verdict.detail
    assert "max_page_entity_types" in verdict.detail
    [error] = verdict.errors
    assert error["setting"] == "max_page_entity_types" and error["pointer"] == "/entities"
    assert "101 entity types" in error["issue"]
    assert verdict.counts == {} and verdict.total == 1 and verdict.page_hint == 7  # no count a type kept


def test_a_page_at_the_limit_is_judged_as_before_zero_counts_listed(registry: SchemaRegistry) -> None:
    verdict = _check(_page(99, User=[user(1)]), registry)
    assert verdict.code is None and len(verdict.counts) == 100 and verdict.counts["T0"] == 0
    assert _check(_page(100), registry).code.code == "empty_page"  # type: ignore[union-attr]
    lifted = _check(_page(5_000, User=[user(1)]), registry, None)
    assert lifted.code is None and len(lifted.counts) == 5_001


def test_a_large_page_of_types_is_refused_before_it_is_parsed() -> None:
    """A million empty types (13 MB): refused at its 101st type, read from its first 256 KiB; the
    rest is never read, so a body that is not even JSON past that point is refused the same way."""
    body = orjson.dumps(_page(1_000_000))
    verdict = refused_unparsed(body, 100, LIMIT)
    assert verdict is not None and verdict.code is not None and verdict.code.code == "too_many_entity_types"
    assert "more than 100 entity types (101 type names read, the rest was not)" in verdict.errors[0]["issue"]
    assert verdict.counts == {} and len(orjson.dumps(verdict.errors)) < 1_000
    broken = body[:SCAN_PREFIX_BYTES] + b"\xff, not JSON" * 60_000
    again = refused_unparsed(broken, 100, LIMIT)
    assert again is not None and again.code == verdict.code


def test_the_first_limit_a_large_page_passes_as_it_is_read_decides() -> None:
    many_records = orjson.dumps({"entities": {"Thing": [{}] * 200_000, **_page(200)["entities"]}})
    assert (found := page_beyond(many_records, 100, LIMIT)) is not None and found.what == "records"
    many_types = orjson.dumps({"entities": {**_page(200_000)["entities"], "Thing": [{}] * 200}})
    assert (found := page_beyond(many_types, 100, LIMIT)) is not None and found.what == "types"
    assert found.types == 101
    assert page_beyond(many_types, 100, None) is None  # 10,000 types and the count gives up: parsed
    assert page_beyond(many_types, None, None) is None


@pytest.mark.parametrize("limit", [1, 2, 100])
def test_refused_unparsed_leaves_a_small_page_to_the_parser(limit: int) -> None:
    """A page that cannot hold many values is parsed first, whatever it names (cheap at that size)."""
    assert refused_unparsed(orjson.dumps(_page(500)), 100, limit) is None


def test_a_refused_page_of_many_types_costs_its_record_keys_one_look_up_a_type_that_holds_records(
    registry: SchemaRegistry,
) -> None:
    """The record keys a refused page keeps are read on the loop: before, each of 40,000 empty types
    was asked for its key field (~40 ms there); a page that could hold many values is not parsed again."""
    from mock_sprinto.store import rejected_record_keys

    asked: list[str] = []

    def key_field(entity_type: str) -> str | None:
        asked.append(entity_type)
        return registry.key_field(entity_type)

    page = orjson.dumps(_page(40_000, User=[user(1)]))
    assert rejected_record_keys(page, key_field) == (("User", user(1)["employeeId"]),)
    assert asked == ["User"]
    assert rejected_record_keys(orjson.dumps(_page(60_000, User=[user(1)])), key_field) is None  # not read
