"""The shipped engine (jsonschema-rs) and the reference (jsonschema) agree on every page."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_sprinto.codes import VALIDATION_FAILED
from mock_sprinto.validation import SchemaRegistry, check_page

# Values on which both engines' format checkers are known to agree (python-jsonschema's "email"
# only looks for an '@'; jsonschema-rs parses the address), so a disagreement is a real one.
EMAILS = st.sampled_from(["a@example.com", "first.last@corp.example", "x@y.io", "no-at-sign", "", "two words"])
DATES = st.sampled_from(
    ["2022-01-15T09:00:00Z", "2023-06-01T08:30:00+02:00", "2022-01-15", "yesterday", "", "2022-13-01T00:00:00Z"]
)
TEXT = st.one_of(st.text(max_size=8), st.none(), st.integers(-3, 3), st.booleans())
FIELDS = {
    "employeeId": st.one_of(st.text(min_size=0, max_size=6), st.integers(0, 9)),
    "firstName": TEXT,
    "lastName": TEXT,
    "fullName": TEXT,
    "employmentStartDate": st.one_of(DATES, st.none()),
    "employmentEndDate": st.one_of(DATES, st.none()),
    "workEmail": st.one_of(EMAILS, st.none()),
    "managerId": TEXT,
    "role": TEXT,
    "roleDescription": TEXT,
    "employmentType": st.sampled_from(["EMPLOYEE", "CONTRACTOR", "employee", "INTERN", None]),
    "unexpectedField": st.integers(),
}
VALID = st.fixed_dictionaries(
    {
        "employeeId": st.text(min_size=1, max_size=6),
        "firstName": st.text(min_size=1, max_size=6),
        "lastName": st.text(min_size=1, max_size=6),
        "workEmail": st.sampled_from(["a@example.com", "x@y.io"]),
        "employmentStartDate": st.sampled_from(["2022-01-15T09:00:00Z", "2023-06-01T08:30:00+02:00"]),
        "employmentType": st.sampled_from(["EMPLOYEE", "CONTRACTOR"]),
    },
    optional={"managerId": st.one_of(st.none(), st.text(min_size=1, max_size=4)), "fullName": st.text(max_size=5)},
)
ANY_RECORD = st.one_of(
    VALID,
    st.dictionaries(st.sampled_from(sorted(FIELDS)), st.none(), max_size=0).flatmap(
        lambda _: st.fixed_dictionaries({}, optional=FIELDS)
    ),
    st.sampled_from([1, "x", None, []]),
)


def reference_errors(registry: SchemaRegistry, records: list[Any]) -> set[tuple[int, str]]:
    schema = registry.types["User"].schema
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    found = set()
    for index, record in enumerate(records):
        for error in validator.iter_errors(record):
            found.add((index, str(error.validator)))
    return found


@settings(max_examples=150, deadline=None)
@given(records=st.lists(ANY_RECORD, min_size=1, max_size=8))
def test_engines_agree_on_verdict_and_on_which_records_fail_how(registry: SchemaRegistry, records: list[Any]) -> None:
    verdict = check_page(
        {"entities": {"User": records}}, registry, max_items=None, max_errors=10_000, reject_unknown_types=False
    )
    expected = reference_errors(registry, records)
    shipped = {(e["index"], e["code"]) for e in verdict.errors}
    assert (verdict.code is None) == (not expected)
    assert shipped == expected


@settings(max_examples=50, deadline=None)
@given(records=st.lists(VALID, min_size=1, max_size=20))
def test_valid_pages_are_accepted_by_both(registry: SchemaRegistry, records: list[Any]) -> None:
    verdict = check_page(
        {"entities": {"User": records}}, registry, max_items=100, max_errors=100, reject_unknown_types=False
    )
    assert verdict.code is None and verdict.total == len(records)
    assert reference_errors(registry, records) == set()


def test_error_list_is_capped_with_a_truncation_flag(registry: SchemaRegistry) -> None:
    verdict = check_page(
        {"entities": {"User": [{} for _ in range(50)]}},
        registry,
        max_items=100,
        max_errors=100,
        reject_unknown_types=False,
    )
    assert verdict.code == VALIDATION_FAILED
    assert len(verdict.errors) == 100 and verdict.errors_truncated


def test_a_page_keeps_at_most_a_hundred_unknown_names_a_type_and_none_too_long_to_be_a_typo() -> None:
    """A page of 100 records with 400 extra names each kept all 40,000 with its finished session,
    past the memory budget (a reviewer's server grew 1.7 MB a sync)."""
    from mock_sprinto.validation import UNKNOWN_FIELD_CHARS, UNKNOWN_FIELDS_KEPT, unknown_fields

    records = [{"employeeId": f"E{n}", **{f"x{n:03d}_{k:03d}": 1 for k in range(400)}} for n in range(100)]
    records[0]["employeStartDate"] = "2022-01-15"  # a typo, among them
    records[0]["y" * (UNKNOWN_FIELD_CHARS + 1)] = 1
    found = unknown_fields({"User": records}, {"User": frozenset({"employeeId", "employmentStartDate"})})
    assert len(found["User"]) == UNKNOWN_FIELDS_KEPT == 100
    few = unknown_fields({"User": records[:1]}, {"User": frozenset({"employeeId"})})
    assert "employeStartDate" in few["User"] and all(len(name) <= UNKNOWN_FIELD_CHARS for name in few["User"])
