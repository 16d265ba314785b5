"""The handles' typed results (mock_sprinto/testing/views.py) and schemas/openapi.yaml describe the
same JSON: a member or a word added to one is a failure here until the other has it. And the types
do their job: a misspelled member in a user's test is a ``mypy --strict`` error.
(tests/plugin/test_views.py holds the views to what the server really sends.)"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import yaml

from mock_sprinto import report
from mock_sprinto.lifecycle import State
from mock_sprinto.resources import schemas_dir
from mock_sprinto.testing import views

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    document = yaml.safe_load((schemas_dir() / "openapi.yaml").read_text(encoding="utf-8"))
    found: dict[str, Any] = document["components"]
    return found


def _resolve(components: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its ``$ref`` and ``allOf`` parts merged (properties and required lists)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        schema = {**components["schemas"][ref.rsplit("/", 1)[1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", ()):
        part = _resolve(components, part)
        merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
        merged["required"] = [*merged.get("required", []), *part.get("required", [])]
    return merged


def _schemas_of_views(components: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    schemas, responses = components["schemas"], components["responses"]
    client_report = schemas["ClientReport"]["properties"]

    def response(name: str) -> dict[str, Any]:
        found: dict[str, Any] = responses[name]["content"]["application/json"]["schema"]
        return found

    found = [
        (views.SessionView, schemas["SessionDetail"]),
        (views.PageView, schemas["PageDetail"]),
        (views.PageErrorView, schemas["ValidationError"]),
        (views.JournalEntryView, schemas["JournalEntry"]),
        (views.ActivityItemView, schemas["ActivityItem"]),
        (views.ReportView, schemas["ClientReport"]),
        (views.ReportSummaryView, client_report["summary"]),
        (views.FindingView, client_report["findings"]["items"]),
        (views.CoverageView, client_report["coverage"]["items"]),
        (views.ScenarioView, response("IntegrationScenario")),
        (views.SettingsView, response("IntegrationSettings")),
        (views.VerificationView, schemas["Verification"]),
        (views.VerificationFailureView, schemas["Verification"]["properties"]["failures"]["items"]),
        (views.VerifiedRequestView, schemas["VerifiedRequest"]),
    ]
    return [(view, _resolve(components, schema)) for view, schema in found]


def _words(hint: Any) -> set[Any] | None:
    """The values a ``Literal`` (or a union holding one, with None; or a mapping's values) admits;
    None for other types."""
    origin = get_origin(hint)
    if origin is Literal:
        return set(get_args(hint))
    if origin is dict:
        return _words(get_args(hint)[1])
    if origin in (Union, types.UnionType):
        parts = [_words(arg) if arg is not type(None) else {None} for arg in get_args(hint)]
        if all(part is not None for part in parts) and any(get_origin(arg) is Literal for arg in get_args(hint)):
            return set().union(*(part for part in parts if part is not None))
    return None


def test_every_view_has_the_members_its_schema_has_and_those_it_requires(components: dict[str, Any]) -> None:
    for view, schema in _schemas_of_views(components):
        declared = view.__required_keys__ | view.__optional_keys__
        assert sorted(declared) == sorted(schema["properties"]), view.__name__
        # The server sends some members the schema leaves optional (a session's closed_at): the view
        # may require more, never less.
        assert set(schema.get("required", ())) <= view.__required_keys__, view.__name__


def test_every_word_a_view_admits_is_a_word_of_its_schema(components: dict[str, Any]) -> None:
    checked = 0
    for view, schema in _schemas_of_views(components):
        for name, hint in get_type_hints(view).items():
            words = _words(hint)
            if words is None:
                continue
            member = _resolve(components, schema["properties"][name])
            enum = member.get("enum")
            if enum is None and "additionalProperties" in member:  # dict[str, Literal[...]]
                enum = _resolve(components, member["additionalProperties"])["enum"]
            assert enum is not None and words == set(enum), f"{view.__name__}.{name}"
            checked += 1
    # state, close_status, expired_by, basis (twice), level, id, severity, behaviour, applies_to, sources
    assert checked == 11


def test_the_words_are_those_the_emulator_uses() -> None:
    assert get_args(views.SessionState) == tuple(state.value for state in State)
    assert get_args(views.FindingId) == tuple(report.BY_ID)
    assert get_args(views.Behaviour) == tuple(report.BEHAVIOURS)
    assert get_args(views.Severity) == report.SEVERITIES


USER_TEST = """\
from mock_sprinto.testing import AsyncMockSprinto, SessionView


async def test_my_sync(mock: AsyncMockSprinto) -> None:
    session: SessionView = await mock.assert_session_processed(records=2)
    assert session["accepted_records_by_entity"] == {"User": 2}
    assert all(page["accepted"] and not page["errors"] for page in session["pages"])
    report = await mock.assert_client_well_behaved(allow=["missing_page_hint"])
    assert report["summary"]["warnings"] == 0 and report["coverage"][0]["met"] in (True, False)
    latest = (await mock.journal())[-1]
    assert latest["status"] == 202 and latest["rule"] is None
    assert (await mock.activity())[0]["details"]
    session["accepted_record_total"]  # E: TypedDict "SessionView" has no key "accepted_record_total"
    report["findings"][0]["evidense"]  # E: TypedDict "FindingView" has no key "evidense"
    latest["latency"]  # E: TypedDict "JournalEntryView" has no key "latency"
    ordinal: str = session["pages"][0]["ordinal"]  # E: Incompatible types in assignment
    assert session["state"] == "done"  # E: Non-overlapping equality check
"""


def test_a_misspelled_member_in_a_users_test_is_a_mypy_strict_error(tmp_path: Path) -> None:
    from mypy import api as mypy_api  # imported here: only this test runs it

    suite = tmp_path / "test_user.py"
    suite.write_text(USER_TEST)
    config = tmp_path / "mypy.ini"  # the package from this checkout, not an installed one
    config.write_text(f"[mypy]\nmypy_path = {ROOT}\n")
    out, err, status = mypy_api.run(
        [
            "--config-file",
            str(config),
            "--strict",
            "--follow-imports=silent",  # the package's own imports are checked by `mypy` itself
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            str(suite),
        ]
    )
    errors = {
        int(line.split(":")[1]): line.split(" error: ", 1)[1]
        for line in out.splitlines()
        if line.startswith(str(suite)) and " error: " in line
    }
    expected = {
        number: line.split("# E: ", 1)[1]
        for number, line in enumerate(USER_TEST.splitlines(), start=1)
        if "# E: " in line
    }
    assert status == 1, out + err
    assert sorted(errors) == sorted(expected), out + err
    for number, message in expected.items():
        assert errors[number].startswith(message), out
