"""The steps of a page's verdict (``validation.check_page``) and how a refused push is recorded on
its session (``Sessions.push_page``), pinned where one step's outcome decides whether the next runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from mock_sprinto.codes import EMPTY_PAGE, TOO_MANY_ITEMS, VALIDATION_FAILED
from mock_sprinto.errors import ApiError
from mock_sprinto.service import Emulator
from mock_sprinto.sessions import Wire
from mock_sprinto.testing import sample_user
from mock_sprinto.validation import ENVELOPE_NOT_VALID, PageVerdict, SchemaRegistry, check_page


def verdict(registry: SchemaRegistry, body: Any, *, max_items: int | None = 100, **options: Any) -> PageVerdict:
    options.setdefault("reject_unknown_types", False)
    return check_page(body, registry, max_items=max_items, max_errors=100, **options)


def test_every_envelope_problem_is_listed_in_one_answer_in_the_order_of_the_body(registry: SchemaRegistry) -> None:
    body = {"page_hint": [1], "entities": {"1x": [], "Thing": {}, "Gadget": [1], "User": []}}
    found = verdict(registry, body, reject_unknown_types=True)
    assert (found.code, found.detail) == (VALIDATION_FAILED, ENVELOPE_NOT_VALID)
    assert [(e["pointer"], e["code"]) for e in found.errors] == [
        ("/page_hint", "type"),
        ("/entities/1x", "entity_type"),
        ("/entities/Thing", "type"),
        ("/entities/Gadget", "unknown_entity_type"),
    ]
    assert found.errors[0] == {
        "field": "page_hint",
        "issue": "page_hint must be an integer or a string",
        "pointer": "/page_hint",
        "code": "type",
        "basis": "mock",
    }
    # Types whose records are an array are still counted, for the rejection's answer.
    assert (found.counts, found.total, found.page_hint) == ({"Gadget": 1, "User": 0}, 1, None)


@pytest.mark.parametrize("body", [None, [], "page", {"page_hint": "h"}, {"entities": []}])
def test_a_body_of_the_wrong_shape_stops_at_its_first_error(registry: SchemaRegistry, body: Any) -> None:
    found = verdict(registry, body)
    assert (found.code, found.detail, len(found.errors)) == (VALIDATION_FAILED, ENVELOPE_NOT_VALID, 1)
    assert found.page_hint == (body.get("page_hint") if isinstance(body, dict) else None)


def test_a_wrong_page_hint_alone_rejects_an_otherwise_valid_page(registry: SchemaRegistry) -> None:
    found = verdict(registry, {"page_hint": "h" * 257, "entities": {"User": [sample_user(1)]}})
    assert (found.code, [e["code"] for e in found.errors]) == (VALIDATION_FAILED, ["maxLength"])
    assert found.page_hint is None  # not echoed
    assert verdict(registry, {"page_hint": 7.0, "entities": {"User": [sample_user(1)]}}).page_hint == 7


def test_the_page_size_is_checked_after_the_envelope_and_before_the_records(registry: SchemaRegistry) -> None:
    assert verdict(registry, {"entities": {"User": []}}).code == EMPTY_PAGE
    too_many = verdict(registry, {"entities": {"User": [{}] * 3}}, max_items=2)
    assert (too_many.code, too_many.total, len(too_many.errors)) == (TOO_MANY_ITEMS, 3, 1)
    assert too_many.detail == "a page may hold at most 2 records, this one holds 3"
    records = verdict(registry, {"entities": {"User": [{}] * 2}}, max_items=2)
    assert records.code == VALIDATION_FAILED and {e["index"] for e in records.errors} == {0, 1}


def push(emulator: Emulator, raw: bytes) -> tuple[Any, str]:
    tenant = emulator.tenant_to_write("acme")
    session = tenant.active_session or emulator.sessions.start_session(tenant, None)
    wire = Wire("req_1", len(raw), len(raw), "identity", time.perf_counter())
    try:
        return emulator.sessions.push_page(tenant, session.id, raw, wire), session.id
    except ApiError as error:
        return error, session.id


@pytest.mark.parametrize(
    ("overrides", "raw", "code", "level"),
    [
        ({}, b"{", "malformed_body", "error"),
        ({"max_json_depth": 3}, b'{"entities": {"X": [[[[1]]]]}}', "malformed_body", "error"),
        ({"max_staged_bytes": 10}, b'{"entities": {}}', "staging_limit_reached", "warning"),
    ],
)
def test_a_page_refused_before_its_verdict_is_recorded_with_nothing_counted(
    make_emulator: Callable[..., Emulator], overrides: dict[str, Any], raw: bytes, code: str, level: str
) -> None:
    emulator = make_emulator(**overrides)
    error, session_id = push(emulator, raw)
    assert isinstance(error, ApiError) and error.code == code
    tenant = emulator.tenant("acme")
    [page] = tenant.sessions[session_id].rejected_pages
    assert (page.code, page.record_count, page.counts, page.page_hint, page.errors) == (code, 0, {}, None, [])
    note = tenant.activity[-1]
    assert (note.level, note.details["rejected_count"], note.details["errors"]) == (level, 0, [])


def test_an_invalid_page_is_recorded_with_what_validation_learned(make_emulator: Callable[..., Emulator]) -> None:
    emulator = make_emulator()
    raw = orjson.dumps({"page_hint": "p", "entities": {"User": [sample_user(1), {}]}})
    error, session_id = push(emulator, raw)
    assert isinstance(error, ApiError) and error.status == 400
    session = emulator.tenant("acme").sessions[session_id]
    [page] = session.rejected_pages
    assert (page.record_count, page.counts, page.page_hint) == (2, {"User": 2}, "p")
    assert page.errors == error.extra["validation_errors"] and session.rejected_batches == 1
    answer, _ = push(emulator, orjson.dumps({"entities": {"User": [sample_user(1)]}}))
    assert answer["page"] == 2 and answer["accepted_count_by_entity"] == {"User": 1}
