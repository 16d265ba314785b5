"""The OpenAPI document itself: valid, served, complete, found when installed, and enforced."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mock_sprinto.http import create_app
from mock_sprinto.http.openapi import build_document, document_path, shipped_document
from mock_sprinto.service import Emulator
from mock_sprinto.validation import SchemaRegistry

from ..helpers import Vendor, user
from .checker import Contract

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch"}


def test_the_shipped_yaml_is_a_valid_openapi_3_1_document() -> None:
    spec, base_uri = read_from_filename(str(document_path()))
    assert spec["openapi"].startswith("3.1.")
    validate(spec, base_uri=base_uri)  # resolves its references to entities/*.json and scenario.schema.json


def test_the_served_document_is_valid_self_contained_and_carries_the_entity_schemas(
    emulator: Emulator, registry: SchemaRegistry
) -> None:
    doc = build_document(emulator.registry, emulator.settings)
    validate(doc)
    text = json.dumps(doc)
    assert '"$ref": "entities/' not in text and 'scenario.schema.json"' not in text  # bundled, nothing external
    user_schema = json.loads((ROOT / "schemas" / "entities" / "User.json").read_text())
    served = doc["components"]["schemas"]["Entity_User"]
    assert served == {k: v for k, v in user_schema.items() if k not in ("$schema", "$id")}
    records = doc["components"]["schemas"]["PushRequest"]["properties"]["entities"]["properties"]["User"]
    assert records["items"] == {"$ref": "#/components/schemas/Entity_User"}
    assert records["maxItems"] == emulator.settings.max_page_items


def test_an_entity_schemas_own_references_point_into_it_once_served(emulator: Emulator, tmp_path: Path) -> None:
    """Before: a schema's '#/$defs/common' was served as is, pointing at the document's root, where
    nothing is (a schema author's review)."""
    (tmp_path / "Asset.json").write_text(
        json.dumps(
            {
                "$defs": {"common": {"properties": {"serialNumber": {"type": "string"}}}},
                "type": "object",
                "properties": {"assetId": {"type": "string"}, "part": {"$ref": "#/$defs/common"}},
                "allOf": [{"$ref": "#/$defs/common"}],
            }
        )
    )
    doc = build_document(SchemaRegistry.shipped(tmp_path), emulator.settings)
    validate(doc)
    served = doc["components"]["schemas"]["Entity_Asset"]
    assert served["allOf"] == [{"$ref": "#/components/schemas/Entity_Asset/$defs/common"}]
    assert served["properties"]["part"] == {"$ref": "#/components/schemas/Entity_Asset/$defs/common"}
    assert doc["components"]["schemas"]["Entity_Asset"]["$defs"]["common"]["properties"] == {
        "serialNumber": {"type": "string"}
    }


async def test_get_openapi_json_serves_the_document_of_this_server(serve: Any, make_emulator: Any) -> None:
    emulator = make_emulator(max_page_items=7, unknown_entity_types="reject", journal_size=50)
    client = await serve(emulator)
    async with client.get("/_mock/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        served = await response.json()
    assert served == json.loads(json.dumps(build_document(emulator.registry, emulator.settings)))
    entities = served["components"]["schemas"]["PushRequest"]["properties"]["entities"]
    assert entities["properties"]["User"]["maxItems"] == 7
    assert entities["additionalProperties"] is False  # unknown types are refused by this server
    (limit,) = [p for p in served["paths"]["/_mock/journal"]["get"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == 50


def test_every_route_is_documented_and_every_documented_operation_is_served(emulator: Emulator) -> None:
    app = create_app(emulator)
    served = {(route.resource.canonical, route.method.lower()) for route in app.router.routes() if route.resource}
    documented = {
        (path, method) for path, item in shipped_document()["paths"].items() for method in item if method in METHODS
    }
    assert served - documented == set(), "routes missing from schemas/openapi.yaml"
    assert documented - served == set(), "documented operations the server does not serve"


def test_every_error_response_documents_a_problem_with_codes_and_every_response_the_request_id() -> None:
    doc = shipped_document()
    contract = Contract(doc)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, response in operation["responses"].items():
                resolved = contract._resolve(response)
                assert "X-Request-Id" in resolved.get("headers", {}), (path, method, status)
                if int(status) >= 400:
                    schema = json.dumps(resolved["content"]["application/json"]["schema"])
                    assert "#/components/schemas/Problem" in schema, (path, method, status)
                if status == "429":
                    assert "Retry-After" in resolved["headers"]


def _problem(status: int, code: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": "x", "status": status, "code": code, "detail": "d"}).encode()


@pytest.mark.parametrize(
    ("method", "template", "status", "headers", "body", "complaint"),
    [
        ("GET", "/_mock/health", 200, {}, b'{"status":"ok"}', "X-Request-Id missing"),
        ("GET", "/_mock/health", 418, {"X-Request-Id": "r1"}, _problem(418, "teapot"), "not documented"),
        (
            "GET",
            "/_mock/health",
            200,
            {"X-Request-Id": "r1", "Content-Type": "application/json"},
            b'{"status":"ok"}',
            "'version' is a required property",
        ),
        (
            "POST",
            "/api/external/push/{version}/integrations/{integration_id}/sessions",
            409,
            {"X-Request-Id": "r1", "Content-Type": "application/json"},
            _problem(409, "session_already_active"),
            "'active_session_id' is a required property",
        ),
        (
            "GET",
            "/api/external/push/{version}/integrations/{integration_id}/status",
            429,
            {"Content-Type": "application/json", "Retry-After": "1"},
            _problem(429, "rate_limited"),
            "required header X-Request-Id is missing",
        ),
        (
            "GET",
            "/api/external/push/{version}/integrations/{integration_id}/status",
            401,
            {"X-Request-Id": "r1", "Content-Type": "application/json"},
            _problem(401, "wrong_code"),
            "wrong_code",
        ),
        ("GET", None, 404, {"X-Request-Id": "r1"}, b"<html>not found</html>", "problem object"),
        ("PATCH", None, 405, {"X-Request-Id": "r1"}, _problem(405, "method_not_allowed"), "must say Allow"),
        ("PATCH", "/_mock/health", 200, {"X-Request-Id": "r1"}, b"{}", "does not document it"),
    ],
)
def test_the_response_checker_catches_each_kind_of_violation(
    emulator: Emulator,
    method: str,
    template: str | None,
    status: int,
    headers: dict[str, str],
    body: bytes,
    complaint: str,
) -> None:
    problems = Contract.of(emulator).check(method, template, status, headers, body)
    assert any(complaint in problem for problem in problems), problems


async def test_the_checker_sees_the_responses_of_the_http_tests(vendor: Vendor, client: Any) -> None:
    from .checker import WATCH

    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await vendor.push(session["id"], {"entities": {"User": [{"employeeId": "x"}]}}, expect=400)
    async with client.patch("/_mock/health") as response:
        assert response.status == 405
    seen = client.server.app[WATCH]
    assert seen.responses == 4 and seen.violations == []


def test_the_document_ships_inside_the_wheel_and_is_found_there(tmp_path: Path) -> None:
    hatchling = Path(sys.executable).with_name("hatchling")
    subprocess.run(
        [str(hatchling), "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {
            "mock_sprinto/_data/schemas/openapi.yaml",
            "mock_sprinto/_data/schemas/scenario.schema.json",
            "mock_sprinto/http/openapi.py",
        } <= names
        # Only the emulator installs: nothing else (benchmarks/, tests/) lands in site-packages.
        assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {
            "mock_sprinto"
        }
        archive.extractall(site)  # a pure-Python wheel installs by unpacking
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from mock_sprinto.http.openapi import build_document, document_path\n"
        "from mock_sprinto.settings import Settings\n"
        "from mock_sprinto.validation import SchemaRegistry\n"
        "doc = build_document(SchemaRegistry.shipped(), Settings())\n"
        "print(document_path(), len(doc['paths']))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe, str(site)], capture_output=True, text=True, check=True, cwd=tmp_path, timeout=60
    )
    where, paths = found.stdout.split()
    assert Path(where) == site / "mock_sprinto" / "_data" / "schemas" / "openapi.yaml"
    assert int(paths) == len(shipped_document()["paths"])
