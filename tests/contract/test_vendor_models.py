"""Sprinto's own response types (vendor_models.py, issue 9): they catch what a strict client would
choke on, they say what the vendor schema says, and the response checker decodes with them."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mock_sprinto.http import create_app
from mock_sprinto.http.common import API_PREFIX
from mock_sprinto.service import Emulator

from . import vendor_models as sprinto
from .checker import _VENDOR, VENDOR_TYPES, Contract, vendor_type_problems

HERE = Path(__file__).resolve().parent
COPY = json.loads((HERE / "vendor_schemas.json").read_text())
VENDOR_FILE = HERE.parents[2] / "shared" / "vendor" / "sprinto-openapi.json"  # shared/ beside the checkout
GET_SESSION = "/{version}/integrations/{integration_id}/sessions/{session_id}"
T = "2026-01-01T00:00:00Z"

SESSION = {
    "id": "ses_1",
    "integration_id": "acme",
    "state": "active",
    "created_at": T,
    "updated_at": T,
    "expires_at": "2026-01-01T01:00:00Z",
    "inactivity_timeout_seconds": 3600,
    "accepted_records_total": 0,
    "accepted_records_by_entity": {},
    "last_error": None,
}
STATUS = {**SESSION, "accepted_batches": 0, "retry_count": 0}
BATCH = {
    "session_id": "ses_1",
    "accepted_count_total": 100,
    "accepted_count_by_entity": {"User": 100},
    "rejected_count_total": 0,
    "validation_errors": [],
    "echoes": {"page_hint": 7},
}
RECORD_ERROR = {"entity_type": "User", "index": 3, "field": "workEmail", "issue": "'x' is not a 'email'"}
REJECTED = {
    **BATCH,
    "accepted_count_total": 0,
    "accepted_count_by_entity": {},
    "rejected_count_total": 1,
    "validation_errors": [{**RECORD_ERROR, "pointer": "/entities/User/3/workEmail", "code": "format"}],
    # the 400 is also a problem object: its members are extras to Sprinto's type
    **{"type": "about:blank", "title": "Bad Request", "status": 400, "code": "validation_failed", "detail": "d"},
}
COUNTS = {
    "integration_id": "acme",
    "sessions": {"active": 1, "processing": 0, "processed": 0, "failed": 0, "expired": 0},
    "last_activity_at": T,
}
EVENT = {
    "id": "evt_1",
    "at": T,
    "level": "info",
    "type": "session_created",
    "message": "m",
    "session_id": "ses_1",
    "details": {},
}
ACTIVITY = {"items": [EVENT], "page": 1, "page_size": 50, "next_page": None}


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with the member at ``path`` (a/b/0/c) set, or removed for ``...``."""
    copy = json.loads(json.dumps(body))
    *parents, last = path.split("/")
    node: Any = copy
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return copy


def _errors(model: type[BaseModel], body: Any) -> list[tuple[str, Any]]:
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError as error:
        return [("/".join(str(p) for p in e["loc"]), e["input"]) for e in error.errors()]
    return []


# Each divergence the emulator had, and its neighbours a strict client accepts.
REJECTS = [
    (sprinto.Session, SESSION, "last_error", {"code": "processing_failed", "message": "m", "at": T}),
    (sprinto.Session, SESSION, "expires_at", None),
    (sprinto.Session, SESSION, "expires_at", "2026-01-01T01:00:00"),  # no offset
    (sprinto.Session, SESSION, "expires_at", 1767229200),  # a Unix time is not a date-time string
    (sprinto.Session, SESSION, "id", None),
    (sprinto.Session, SESSION, "state", None),
    (sprinto.Session, SESSION, "accepted_records_total", "5"),
    (sprinto.Session, SESSION, "accepted_records_total", 5.0),
    (sprinto.Session, SESSION, "accepted_records_total", True),
    (sprinto.Session, SESSION, "accepted_records_by_entity/User", "1"),
    (sprinto.Session, SESSION, "inactivity_timeout_seconds", None),
    (sprinto.SessionStatus, STATUS, "retry_count", None),
    (sprinto.SessionStatus, STATUS, "accepted_batches", "1"),
    (sprinto.SessionStatus, STATUS, "expires_at", None),  # the GET variant keeps Session's fields
    (sprinto.BatchIngestResponse, BATCH, "accepted_count_total", "100"),
    (sprinto.BatchIngestResponse, BATCH, "echoes/page_hint", None),
    (sprinto.BatchIngestResponse, BATCH, "echoes/page_hint", 7.5),
    (sprinto.BatchIngestResponse, BATCH, "echoes", None),
    (sprinto.BatchIngestResponse, BATCH, "validation_errors", None),
    (sprinto.BatchIngestResponse, REJECTED, "validation_errors/0/entity_type", None),  # an envelope error
    (sprinto.BatchIngestResponse, REJECTED, "validation_errors/0/index", None),
    (sprinto.BatchIngestResponse, REJECTED, "validation_errors/0/field", None),
    (sprinto.BatchIngestResponse, REJECTED, "validation_errors/0/index", "3"),
    (sprinto.IntegrationStatusCounts, COUNTS, "last_activity_at", None),
    (sprinto.IntegrationStatusCounts, COUNTS, "sessions/failed", ...),  # required by the docs
    (sprinto.IntegrationStatusCounts, COUNTS, "sessions/active", "1"),
    (sprinto.ActivityLogPage, ACTIVITY, "page", ...),
    (sprinto.ActivityLogPage, ACTIVITY, "next_page", "2"),
    (sprinto.ActivityLogPage, ACTIVITY, "items/0/level", "debug"),
    (sprinto.ActivityLogPage, ACTIVITY, "items/0/at", None),
    (sprinto.ActivityLogPage, ACTIVITY, "items/0/details", None),
]
ACCEPTS = [
    (sprinto.Session, SESSION, "last_error", None),  # the one exception: shared/API.md allows null
    (sprinto.Session, SESSION, "last_error", "processing failed twice"),
    (sprinto.BatchIngestResponse, BATCH, "echoes/page_hint", "p2"),  # hand edit 4: echoed as sent
    (sprinto.Session, SESSION, "expires_at", ...),  # absent is not null
    (sprinto.Session, SESSION, "expires_at", "2026-01-01T01:00:00+05:30"),
    (sprinto.Session, SESSION, "rejected_batches", 0),  # extra members are allowed...
    (sprinto.Session, SESSION, "client_reference_id", None),  # ...whatever their value
    (sprinto.SessionStatus, STATUS, "retry_count", 1),
    (sprinto.BatchIngestResponse, BATCH, "validation_errors_truncated", True),
    (sprinto.BatchIngestResponse, BATCH, "echoes", {}),
    (sprinto.BatchIngestResponse, BATCH, "echoes", ...),
    (sprinto.BatchIngestResponse, REJECTED, "validation_errors/0/field", ...),
    (sprinto.IntegrationStatusCounts, COUNTS, "sessions/cancelled", 0),
    (sprinto.IntegrationStatusCounts, COUNTS, "last_activity_at", ...),
    (sprinto.ActivityLogPage, ACTIVITY, "next_page", 2),
    (sprinto.ActivityLogPage, ACTIVITY, "items/0/session_id", None),  # nullable: true in the docs
    (sprinto.ActivityLogPage, ACTIVITY, "items", []),
]


EXAMPLES = [
    (sprinto.Session, SESSION),
    (sprinto.SessionStatus, STATUS),
    (sprinto.BatchIngestResponse, BATCH),
    (sprinto.BatchIngestResponse, REJECTED),
    (sprinto.IntegrationStatusCounts, COUNTS),
    (sprinto.ActivityLogPage, ACTIVITY),
]


def _id(case: tuple[Any, ...]) -> str:
    model, _, path, value = case
    return f"{model.__name__}:{path}={'absent' if value is ... else repr(value)}"


@pytest.mark.parametrize(("model", "body"), EXAMPLES)
def test_the_shapes_of_the_projects_contract_decode(model: type[BaseModel], body: dict[str, Any]) -> None:
    assert _errors(model, body) == []


@pytest.mark.parametrize(("model", "body", "path", "value"), REJECTS, ids=[_id(c) for c in REJECTS])
def test_a_strict_client_refuses(model: type[BaseModel], body: dict[str, Any], path: str, value: Any) -> None:
    errors = _errors(model, _with(body, path, value))
    assert {loc for loc, _ in errors} == {path}, errors  # refused there, and only there


@pytest.mark.parametrize(("model", "body", "path", "value"), ACCEPTS, ids=[_id(c) for c in ACCEPTS])
def test_a_strict_client_accepts(model: type[BaseModel], body: dict[str, Any], path: str, value: Any) -> None:
    assert _errors(model, _with(body, path, value)) == []


def test_members_sprinto_does_not_name_are_kept_as_they_are() -> None:
    decoded = sprinto.BatchIngestResponse.model_validate_json(json.dumps(REJECTED))
    assert decoded.model_extra == {k: REJECTED[k] for k in ("type", "title", "status", "code", "detail")}
    assert decoded.validation_errors[0].model_extra == {"pointer": "/entities/User/3/workEmail", "code": "format"}


# --- the models say what the vendor schema says (tests/contract/vendor_schemas.json) ---------------

NULL_BY_CONTRACT = {(sprinto.Session, "last_error")}  # hand edit 3 in vendor_models.py; SessionStatus inherits it
WIDENED = {(sprinto.Echoes, "page_hint")}  # hand edit 4: an integer or a string
RIGHT_AND_WRONG: dict[str, tuple[Any, Any]] = {
    "string": ("x", 1),
    "integer": (1, "1"),
    "object": ({}, "x"),
    "array": ([], {}),
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return typing.cast(dict[str, Any], COPY["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def _nested_model(annotation: Any) -> type[BaseModel]:
    """The model inside ``Echoes | MISSING`` or ``list[ActivityEvent]``."""
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        if typing.get_args(arg):
            return _nested_model(arg)
    raise AssertionError(f"no model in {annotation}")


def _properties(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    parts = [_resolve(part) for part in schema.get("allOf", [schema])]
    properties = {name: prop for part in parts for name, prop in part.get("properties", {}).items()}
    return properties, {name for part in parts for name in part.get("required", [])}


def _walk(model: type[BaseModel], schema: dict[str, Any]) -> list[tuple[type[BaseModel], str, dict[str, Any], bool]]:
    """Every (model, property, its schema, required) under ``schema``, nested models included."""
    properties, required = _properties(schema)
    assert set(model.model_fields) == set(properties), model.__name__
    found = []
    for name, prop in properties.items():
        prop = _resolve(prop)
        found.append((model, name, prop, name in required))
        inner = _resolve(prop["items"]) if prop.get("type") == "array" else prop
        if "properties" in inner:
            found.extend(_walk(_nested_model(model.model_fields[name].annotation), inner))
    return found


def _typed_roots() -> list[tuple[type[BaseModel], dict[str, Any]]]:
    schemas = COPY["components"]["schemas"]
    get = COPY["paths"][GET_SESSION]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    models = [sprinto.Session, sprinto.BatchIngestResponse, sprinto.IntegrationStatusCounts, sprinto.ActivityLogPage]
    return [(model, schemas[model.__name__]) for model in models] + [(sprinto.SessionStatus, get)]


FIELDS = [field for model, schema in _typed_roots() for field in _walk(model, schema)]


def test_every_schema_of_the_copy_has_its_model() -> None:
    covered = {model.__name__ for model, *_ in FIELDS}
    assert {"ValidationErrorItem", "Echoes", "Sessions", "ActivityEvent", "SessionStatus"} <= covered
    assert set(COPY["components"]["schemas"]) <= covered


@pytest.mark.parametrize(
    ("model", "name", "prop", "required"), FIELDS, ids=[f"{m.__name__}.{n}" for m, n, *_ in FIELDS]
)
def test_each_field_is_typed_as_the_vendor_schema_says(
    model: type[BaseModel], name: str, prop: dict[str, Any], required: bool
) -> None:
    def refused(value: Any) -> bool:
        return any(loc == name for loc, _ in _errors(model, {name: value}))

    assert model.model_fields[name].is_required() is required
    nullable = prop.get("nullable") is True or any(issubclass(model, m) and name == n for m, n in NULL_BY_CONTRACT)
    assert refused(None) is not nullable, f"null {'refused' if nullable else 'accepted'}"
    right, wrong = RIGHT_AND_WRONG[prop["type"]]
    if prop.get("format") == "date-time":
        right, wrong = T, 1767225600
    if "enum" in prop:
        right, wrong = prop["enum"][0], "not-" + prop["enum"][0]
    assert not refused(right)
    assert refused(wrong) is not ((model, name) in WIDENED)
    values = prop.get("additionalProperties")
    if isinstance(values, dict) and "type" in values:
        right, wrong = RIGHT_AND_WRONG[values["type"]]
        assert not refused({"k": right})
        assert any(loc == f"{name}/k" for loc, _ in _errors(model, {name: {"k": wrong}}))


@pytest.mark.skipif(
    not VENDOR_FILE.exists(),
    reason="a maintainers' check: compares the trimmed copy of Sprinto's OpenAPI (tests/contract/vendor_schemas.json, "
    "which the other contract tests use) with the full document, which a checkout does not include",
)
def test_the_copy_is_sprintos_document_unchanged() -> None:
    vendor = json.loads(VENDOR_FILE.read_text())
    assert (COPY["openapi"], COPY["info"]) == (
        vendor["openapi"],
        {"title": vendor["info"]["title"], "version": vendor["info"]["version"]},
    )
    for name, schema in COPY["components"]["schemas"].items():
        assert schema == vendor["components"]["schemas"][name], f"{name} changed: regenerate vendor_models.py"
    (path,) = COPY["paths"]
    assert COPY["paths"][path]["get"]["responses"]["200"] == vendor["paths"][path]["get"]["responses"]["200"]
    for key, value in COPY["x-provenance"].items():
        assert vendor["x-provenance"][key] == value, key


# --- the response checker decodes every vendor-API answer with them --------------------------------

HEADERS = {"X-Request-Id": "r1", "Content-Type": "application/json"}
ROUTE = {
    "start": ("POST", _VENDOR + "/sessions", 201),
    "get": ("GET", _VENDOR + "/sessions/{session_id}", 200),
    "push": ("POST", _VENDOR + "/sessions/{session_id}/entities", 202),
    "rejected": ("POST", _VENDOR + "/sessions/{session_id}/entities", 400),
    "close": ("POST", _VENDOR + "/sessions/{session_id}/close", 202),
    "status": ("GET", _VENDOR + "/status", 200),
    "activity": ("GET", _VENDOR + "/activity", 200),
}
GOOD = {
    "start": SESSION,
    "get": STATUS,
    "push": BATCH,
    "rejected": REJECTED,
    "close": SESSION,
    "status": COUNTS,
    "activity": ACTIVITY,
}


def _sprinto_problems(route: str, body: Any, *, rule: str | None = None, emulator: Emulator) -> list[str]:
    method, template, status = ROUTE[route]
    raw = json.dumps(body).encode()
    problems = Contract.of(emulator).check(method, template, status, HEADERS, raw, scenario_rule=rule)
    return [p for p in problems if "Sprinto's" in p]


def test_every_vendor_route_has_its_sprinto_type(emulator: Emulator) -> None:
    routes = create_app(emulator).router.routes()
    served = {
        (r.method, r.resource.canonical) for r in routes if r.resource and r.resource.canonical.startswith(API_PREFIX)
    }
    assert served == {(method, template) for method, template, _ in VENDOR_TYPES}
    assert set(ROUTE.values()) == set(VENDOR_TYPES)


@pytest.mark.parametrize("route", list(GOOD))
def test_the_checker_passes_what_sprintos_types_decode(route: str, emulator: Emulator) -> None:
    assert _sprinto_problems(route, GOOD[route], emulator=emulator) == []


REFUSED = [
    ("start", "accepted_records_total", "5", "Session does not decode /accepted_records_total: Input should be"),
    ("get", "last_error", {"code": "processing_failed"}, "SessionStatus does not decode /last_error:"),
    ("push", "echoes/page_hint", None, "BatchIngestResponse does not decode /echoes/page_hint:"),
    ("rejected", "validation_errors/0/index", None, "BatchIngestResponse does not decode /validation_errors/0/index"),
    ("close", "expires_at", None, "Session does not decode /expires_at: Input should be a valid datetime (got None)"),
    ("status", "last_activity_at", None, "IntegrationStatusCounts does not decode /last_activity_at:"),
    ("activity", "items/0/level", "debug", "ActivityLogPage does not decode /items/0/level:"),
]


@pytest.mark.parametrize(("route", "path", "value", "complaint"), REFUSED, ids=[case[0] for case in REFUSED])
def test_the_checker_reports_what_sprintos_types_refuse_with_the_field_and_the_value(
    route: str, path: str, value: Any, complaint: str, emulator: Emulator
) -> None:
    (problem,) = _sprinto_problems(route, _with(GOOD[route], path, value), emulator=emulator)
    method, template, status = ROUTE[route]
    assert problem.startswith(f"{method} {template} → {status}: Sprinto's ") and complaint in problem, problem
    assert f"(got {value!r})" in problem


def test_the_checker_does_not_type_what_has_no_sprinto_type(emulator: Emulator) -> None:
    broken = _with(SESSION, "expires_at", None)
    # a scenario rule's answer is whatever the rule said
    assert _sprinto_problems("close", broken, rule="fail-close", emulator=emulator) == []
    # a 400 that is only a problem object is no BatchIngestResponse
    malformed = {"type": "about:blank", "title": "Bad Request", "status": 400, "code": "malformed_body", "detail": "d"}
    assert _sprinto_problems("rejected", {**malformed, "echoes": None}, emulator=emulator) == []
    # statuses without a body type (a 409 problem on start) and the control plane are not decoded
    assert vendor_type_problems("POST", _VENDOR + "/sessions", 409, b'{"expires_at": null}', None) == []
    assert vendor_type_problems("GET", "/_mock/health", 200, b"[]", []) == []


def test_many_refusals_in_one_answer_are_listed_up_to_ten(emulator: Emulator) -> None:
    events = [{**EVENT, "level": "debug"} for _ in range(12)]
    problems = _sprinto_problems("activity", {**ACTIVITY, "items": events}, emulator=emulator)
    assert len(problems) == 11 and problems[-1].endswith("2 more errors")
