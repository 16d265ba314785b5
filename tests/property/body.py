"""The push body path as one function, shared by the hypothesis fuzzers and the atheris harness.

bytes → decode (``coding.inflate``) → parse (``payload.parse_json``) → validate
(``validation.check_page``) → for an accepted page, what apply does with it. Only the documented
outcomes may come out: an accepted page, a rejected page with a documented code, or an
``ApiError`` with a documented status and code. Anything else is a bug.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from mock_sprinto.codes import EMPTY_PAGE, TOO_MANY_ITEMS, VALIDATION_FAILED
from mock_sprinto.coding import inflate
from mock_sprinto.errors import ApiError
from mock_sprinto.payload import SizeLimit, check_depth, parse_json
from mock_sprinto.store import Dataset
from mock_sprinto.validation import SchemaRegistry, check_page

REGISTRY = SchemaRegistry.shipped()
FLAT = REGISTRY.flat_types
DEPTH = 64
DECODED_CAP = 64 * 1024  # small, so bombs are cheap to build and the cap is really hit
DOCUMENTED_ERRORS = {(400, "malformed_body"), (413, "payload_too_large")}
VERDICT_CODES = {None, VALIDATION_FAILED, EMPTY_PAGE, TOO_MANY_ITEMS}
ERROR_MEMBERS = {"entity_type", "index", "field", "issue", "pointer", "code", "basis", "setting"}


def body_path(raw: bytes, encoding: str = "identity", *, max_items: int | None = 100) -> str:
    """Run one body through the whole path; return the outcome's code (``accepted`` when it is).

    Raises AssertionError for any outcome the contract does not document.
    """
    try:
        decoded = raw if encoding == "identity" else inflate(raw, encoding, SizeLimit(DECODED_CAP, "max_decoded_bytes"))
        assert len(decoded) <= DECODED_CAP
        body = parse_json(decoded, DEPTH, reject_repeated_names=True, flat_types=FLAT)
        verdict = check_page(body, REGISTRY, max_items=max_items, max_errors=100, reject_unknown_types=False)
        if verdict.code is not None:
            check_depth(body, DEPTH)  # what the service does before answering a rejected page
    except ApiError as error:
        assert (error.status, error.code) in DOCUMENTED_ERRORS, (error.status, error.code, error.detail)
        problem = error.problem()
        orjson.dumps(problem)  # the answer must serialize
        return error.code
    assert verdict.code in VERDICT_CODES, verdict.code
    if verdict.code is not None:
        assert verdict.errors, "a rejected page lists why"
        assert len(verdict.errors) <= 100
        for item in verdict.errors:
            assert {"issue", "pointer", "code", "basis"} <= set(item) <= ERROR_MEMBERS, item
            assert None not in item.values(), item  # Sprinto's types are never null: what does not apply is left out
        orjson.dumps({"errors": verdict.errors, "echo": verdict.page_hint})
        return verdict.code.code
    assert 1 <= verdict.total and (max_items is None or verdict.total <= max_items)
    # Apply re-reads the stored bytes and keys every record: that must work for any accepted page.
    entities = orjson.loads(decoded)["entities"]
    for entity_type, records in entities.items():
        dataset = Dataset(entity_type, REGISTRY.key_field(entity_type))
        for record in records:
            dataset.put(record)
        dataset.describe(0, len(records) + 1)
    orjson.dumps({"echo": verdict.page_hint, "counts": verdict.counts})
    return "accepted"


class Repeated(Exception):
    pass


def _refuse(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise Repeated
    return dict(pairs)


def stdlib_finds_a_repeated_name(raw: bytes) -> bool:
    """The reference: Python's own parser reporting every object's pairs."""
    try:
        json.loads(raw, object_pairs_hook=_refuse)
    except Repeated:
        return True
    return False
