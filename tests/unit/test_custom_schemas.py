"""Entity schemas a user writes (``schemas_dir``): what loads, what is refused at start-up and how,
and how records of such types are judged (a schema author's review, 2026-12-07)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.validation import SchemaFileError, SchemaRegistry, check_page, unknown_fields


def folder(tmp_path: Path, **schemas: Any) -> Path:
    for name, schema in schemas.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(schema) if not isinstance(schema, str) else schema)
    return tmp_path


def verdict(registry: SchemaRegistry, page: dict[str, Any], strict: bool = False) -> Any:
    return check_page(
        page, registry, max_items=100, max_errors=100, reject_unknown_types=False, reject_unknown_fields=strict
    )


COMPOSED = {
    "$defs": {"common": {"properties": {"serialNumber": {"type": "string"}, "location": {"type": "string"}}}},
    "type": "object",
    "x-key": "assetId",
    "required": ["assetId"],
    "properties": {"assetId": {"type": "string"}},
    "allOf": [{"$ref": "#/$defs/common"}, {"properties": {"owner": {"type": "string"}}}],
}


def test_a_schema_without_a_type_still_refuses_records_that_are_not_objects(tmp_path: Path) -> None:
    """Before: ``[7]`` and ``42`` were staged (202), the report and overview answered 500, and the
    apply failed the session ("object of type 'int' has no len()")."""
    registry = SchemaRegistry.load(folder(tmp_path, NoType={"required": ["id"], "properties": {"id": {}}}))
    found = verdict(registry, {"entities": {"NoType": [{"id": "1"}, [7], 42, None]}})
    assert found.code is not None and found.code.code == "validation_failed"
    assert [error["pointer"] for error in found.errors] == [f"/entities/NoType/{i}" for i in (1, 2, 3)]
    assert verdict(registry, {"entities": {"NoType": [{"id": "1"}]}}).code is None


def test_unknown_fields_of_a_page_skip_what_is_not_a_name() -> None:
    assert unknown_fields({"T": [{"a": 1}, [7]]}, {"T": frozenset({"a"})}) == {}


@pytest.mark.parametrize("kind", ["array", "string", ["array", "null"]])
def test_a_root_type_that_leaves_no_object_out_is_refused_at_load(tmp_path: Path, kind: Any) -> None:
    with pytest.raises(SchemaFileError, match=r"Arr\.json: its root 'type' is .*every record is a JSON object"):
        SchemaRegistry.load(folder(tmp_path, Arr={"type": kind}))


def test_fields_a_composed_schema_declares_are_known_to_strict_mode_and_to_the_judge(tmp_path: Path) -> None:
    """Before: ``unknown_fields: reject`` refused ``serialNumber`` (declared through allOf and a
    $ref), and the judge listed it as an unknown field of a correct client."""
    registry = SchemaRegistry.load(folder(tmp_path, Asset=COMPOSED))
    record = {"assetId": "A1", "serialNumber": "S", "location": "L", "owner": "O"}
    assert verdict(registry, {"entities": {"Asset": [record]}}, strict=True).code is None
    assert unknown_fields({"Asset": [record]}, registry.known_fields) == {}
    typo = verdict(registry, {"entities": {"Asset": [{**record, "serialNumbr": "S"}]}}, strict=True)
    assert [(e["code"], e["field"]) for e in typo.errors] == [("additionalProperties", "serialNumbr")]
    assert unknown_fields({"Asset": [{**record, "serialNumbr": "S"}]}, registry.known_fields) == {
        "Asset": ["serialNumbr"]
    }


def test_an_x_key_the_schema_does_not_declare_is_refused_with_the_near_name(tmp_path: Path) -> None:
    """Before: it loaded, and records were never de-duplicated (the later page did not win)."""
    schema = {"type": "object", "x-key": "deviceID", "properties": {"deviceId": {"type": "string"}}}
    with pytest.raises(SchemaFileError, match=r"Typo\.json: 'x-key' names 'deviceID'.*did you mean 'deviceId'"):
        SchemaRegistry.load(folder(tmp_path, Typo=schema))
    SchemaRegistry.load(folder(tmp_path, Typo={**schema, "x-key": "deviceId"}))  # declared: loads
    (tmp_path / "composed").mkdir()
    SchemaRegistry.load(folder(tmp_path / "composed", Asset=COMPOSED))  # declared in a part: loads


def test_every_broken_file_is_named_at_once(tmp_path: Path) -> None:
    """Before: only the first broken file was named; fixing it showed the next at the next start."""
    with pytest.raises(SchemaFileError) as raised:
        SchemaRegistry.load(folder(tmp_path, A="{not json", B={"type": "objekt"}, C={"type": "string"}, D={}))
    lines = str(raised.value).splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [str(tmp_path / f"{name}.json") for name in "ABC"]


def test_a_file_given_as_the_folder_is_said_to_be_no_folder(tmp_path: Path) -> None:
    (tmp_path / "User.json").write_text("{}")
    with pytest.raises(SchemaFileError, match="schemas folder is not a folder"):
        SchemaRegistry.load(tmp_path / "User.json")


@pytest.mark.parametrize("ref", ["Owner.json", "https://example.invalid/owner.json"])
def test_a_ref_to_another_file_or_url_is_refused_in_words_and_never_fetched(tmp_path: Path, ref: str) -> None:
    """Before: a URL was fetched at start-up (start-up hung on DNS offline), and a file's $ref got
    jsonschema-rs's "No base URI is available ... On instance: null"."""
    schema = {"type": "object", "properties": {"owner": {"$ref": ref}}}
    with pytest.raises(SchemaFileError) as raised:
        SchemaRegistry.load(folder(tmp_path, Asset=schema))
    message = str(raised.value)
    assert f"its $ref to {ref!r} cannot be followed" in message and "$defs" in message
    assert "On instance" not in message and "not fetched" not in message


def test_a_schema_file_repeating_a_member_name_is_refused(tmp_path: Path) -> None:
    """Before: the last value won, as no page is allowed: a schema of objects read as one of strings."""
    with pytest.raises(SchemaFileError, match=r"Dup\.json: the member name 'type' appears twice in one object"):
        SchemaRegistry.load(folder(tmp_path, Dup='{"type": "object", "properties": {}, "type": "string"}'))


def test_the_banner_marks_a_replaced_type_and_names_the_files_it_did_not_read(tmp_path: Path) -> None:
    """Before: Device.yaml and Device.JSON were skipped without a word, and a user's User.json
    showed the same banner line as the shipped one."""
    from mock_sprinto.cli import _entity_schemas

    user = {"type": "object", "x-key": "employeeId", "properties": {"employeeId": {"type": "string"}}}
    folder(tmp_path, User=user)
    (tmp_path / "Device.yaml").write_text("type: object\n")
    (tmp_path / "Laptop.JSON").write_text("{}")
    (tmp_path / "README.md").write_text("my schemas\n")
    registry = SchemaRegistry.shipped(tmp_path)
    assert (
        _entity_schemas(registry)
        == "User (yours); not read: Device.yaml, Laptop.JSON (only <EntityType>.json files are)"
    )
    assert _entity_schemas(SchemaRegistry.shipped()) == "User"


def test_errors_of_a_field_the_record_misses_or_should_not_have_name_it(tmp_path: Path) -> None:
    """A ``dependentRequired`` error named no field, and an ``unevaluatedProperties`` one pointed at
    the record with every name in one issue: each names its field, pointing at the one it should not have."""
    registry = SchemaRegistry.load(
        folder(
            tmp_path,
            Card={
                "type": "object",
                "x-key": "cardId",
                "properties": {"cardId": {"type": "string"}, "holder": {}, "expires": {}},
                "dependentRequired": {"holder": ["expires"]},
                "unevaluatedProperties": False,
            },
        )
    )
    found = verdict(registry, {"entities": {"Card": [{"cardId": "1", "holder": "A", "pin": 1, "cvv": 2}]}})
    assert [(e["code"], e.get("field"), e["pointer"]) for e in found.errors] == [
        ("dependentRequired", "expires", "/entities/Card/0"),
        ("unevaluatedProperties", "cvv", "/entities/Card/0/cvv"),
        ("unevaluatedProperties", "pin", "/entities/Card/0/pin"),
    ]
    assert found.errors[2]["issue"] == "Unevaluated properties are not allowed ('pin' was unexpected)"


def test_an_older_drafts_schema_is_served_in_2020_12s_words(tmp_path: Path) -> None:
    """/_mock/openapi.json is OpenAPI 3.1 (JSON Schema 2020-12): a draft-7 schema's array ``items``,
    ``definitions`` and ``dependencies`` were served as written, which 2020-12 reads otherwise."""
    from openapi_spec_validator import validate

    from mock_sprinto.http.openapi import build_document
    from mock_sprinto.settings import Settings

    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "x-key": "id",
        "definitions": {"code": {"type": "string", "enum": ["a", "b"]}},
        "properties": {
            "id": {"type": "string"},
            "pair": {
                "type": "array",
                "items": [{"type": "string"}, {"$ref": "#/definitions/code"}],
                "additionalItems": False,
            },
            "tags": {"type": "array", "items": {"type": "string"}, "additionalItems": False},
            "card": {"type": "string"},
        },
        "dependencies": {"card": ["id"], "tags": {"required": ["pair"]}},
    }
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "id": "urn:asset",
        "type": "object",
        "x-key": "id",
        "properties": {"id": {"type": "string"}, "cost": {"type": "number", "maximum": 10, "exclusiveMaximum": True}},
    }
    registry = SchemaRegistry.load(folder(tmp_path, Card=draft7, Asset=draft4))
    document = build_document(registry, Settings())
    validate(document)
    card = document["components"]["schemas"]["Entity_Card"]
    at = "#/components/schemas/Entity_Card"
    assert card["$defs"] == {"code": {"type": "string", "enum": ["a", "b"]}} and "definitions" not in card
    assert card["properties"]["pair"] == {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"$ref": f"{at}/$defs/code"}],
        "items": False,
    }
    assert card["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert card["dependentRequired"] == {"card": ["id"]} and card["dependentSchemas"] == {
        "tags": {"required": ["pair"]}
    }
    asset = document["components"]["schemas"]["Entity_Asset"]
    assert asset["properties"]["cost"] == {"type": "number", "exclusiveMaximum": 10} and "id" not in asset
    # validation still reads each schema by its own draft: a third item is refused, a cost of 10 too
    refused = verdict(registry, {"entities": {"Card": [{"id": "1", "pair": ["x", "a", "extra"]}]}})
    assert refused.code is not None
    assert verdict(registry, {"entities": {"Asset": [{"id": "1", "cost": 10}]}}).code is not None
