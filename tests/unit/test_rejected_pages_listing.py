"""How a failing test's message names who rejected a page no validation did."""

from __future__ import annotations

from typing import Any

from mock_sprinto.testing import format_rejected_pages


def session_with(rule: str | None) -> dict[str, Any]:
    page = {"ordinal": 2, "accepted": False, "code": "validation_failed", "detail": "no", "errors": [], "rule": rule}
    return {"id": "ses_1", "ordinal": 1, "pages": [page]}


def test_a_page_a_scenario_rule_rejected_names_the_rule() -> None:
    _, listing = format_rejected_pages([session_with("reject-page-2")])
    assert listing.endswith("validation_failed: no (rejected by the scenario: reject-page-2)")


def test_a_page_a_prefer_header_rejected_names_the_header_not_a_scenario() -> None:
    _, listing = format_rejected_pages([session_with("Prefer: code=400")])
    assert listing.endswith("validation_failed: no (rejected as the request's Prefer header asked: code=400)")


def test_a_page_validation_rejected_names_no_rule() -> None:
    _, listing = format_rejected_pages([session_with(None)])
    assert listing.endswith("validation_failed: no")
