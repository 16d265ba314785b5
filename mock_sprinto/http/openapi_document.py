"""The shipped OpenAPI document, completed for this server (served by ``http/openapi.py``).

``schemas/openapi.yaml`` describes both APIs; what it cannot know statically is filled in here
from the running emulator, so the served document is exactly what this server enforces: the
entity schemas it validates pages with (shipped and ``--schemas`` ones alike) and the limits of
its effective settings.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..codes import ENTITY_TYPE_NOT_FOUND, INVALID_PARAMETER
from ..faults.scenario import shipped_scenarios
from ..resources import schemas_dir
from ..settings import Settings
from ..validation import SchemaRegistry
from .common import CONTROL_PREFIX


def document_path() -> Path:
    """The shipped ``openapi.yaml``, in a checkout or inside an installed wheel."""
    return schemas_dir() / "openapi.yaml"


@functools.lru_cache(maxsize=1)
def _shipped() -> dict[str, Any]:
    import yaml  # imported here: the document is built on the first GET of it, never at start

    # safe_load: the document is data, never a recipe for building Python objects.
    with document_path().open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"{document_path()}: expected a mapping at the top level")
    return loaded


def shipped_document() -> dict[str, Any]:
    """A private copy of ``schemas/openapi.yaml`` as loaded, without this server's additions."""
    return copy.deepcopy(_shipped())


# The sibling schema files the document refers to, and the component each becomes when served.
FILE_SCHEMAS = {
    "scenario.schema.json": "Scenario",
    "state.schema.json": "StateBundle",
    "verify.schema.json": "VerifyExpectations",
    "har.schema.json": "HarCapture",
}


def _file_schemas(file: str, name: str) -> dict[str, Any]:
    """A schema file as component schemas: ``name`` plus one per ``$defs`` entry (``name_<def>``)."""
    schema = json.loads((schemas_dir() / file).read_text(encoding="utf-8"))
    defs: dict[str, Any] = schema.pop("$defs", {})
    parts = {name: schema, **{f"{name}_{key}": value for key, value in defs.items()}}
    for part in parts.values():
        part.pop("$schema", None)
        part.pop("$id", None)
    bundled: dict[str, Any] = _rewrite_refs(
        parts, lambda ref: f"#/components/schemas/{name}_" + ref.removeprefix("#/$defs/")
    )
    return bundled


def _rewrite_refs(node: Any, rename: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {
            key: rename(value) if key == "$ref" and isinstance(value, str) else _rewrite_refs(value, rename)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, rename) for item in node]
    return node


# The drafts before 2020-12 an entity schema may declare (``$schema``), by a part of its URI: the
# served document is OpenAPI 3.1, whose schemas are 2020-12, so an older schema's keywords are
# written as 2020-12 says them there (a client generator read draft-7's ``items: [...]`` as an error
# and its ``definitions`` as a property). The server still validates by the schema as written.
_OLDER_DRAFTS = {"draft-04": 4, "draft-06": 6, "draft-07": 7, "2019-09": 2019}
# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SCHEMA_VALUED = ("additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def draft_of(schema: dict[str, Any]) -> int | None:
    """The older draft an entity schema declares (4, 6, 7, 2019), None for 2020-12 or none."""
    declared = schema.get("$schema")
    if not isinstance(declared, str):
        return None
    return next((draft for part, draft in _OLDER_DRAFTS.items() if part in declared), None)


def as_2020_12(node: Any, draft: int) -> Any:
    """A schema of an older draft, its keywords said as 2020-12 says them: ``definitions`` as
    ``$defs`` (and references into them), an array ``items`` as ``prefixItems`` (``additionalItems``
    then ``items``), ``dependencies`` as ``dependentRequired`` and ``dependentSchemas``, draft-4's
    boolean ``exclusiveMaximum``/``exclusiveMinimum`` as numbers. Values that are data (``enum``,
    ``const``, ``default``, ``examples``) are left as they are."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_VALUED:
            out[key] = as_2020_12(value, draft)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [as_2020_12(item, draft) for item in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            converted = {name: as_2020_12(item, draft) for name, item in value.items()}
            target = "$defs" if key == "definitions" else key
            out[target] = {**out.get(target, {}), **converted}
        elif key == "items":
            if isinstance(value, list):  # a tuple: prefixItems, and what follows it is additionalItems
                out["prefixItems"] = [as_2020_12(item, draft) for item in value]
            else:
                out["items"] = as_2020_12(value, draft)
        elif key == "dependencies" and isinstance(value, dict):
            for name, item in value.items():
                which = "dependentRequired" if isinstance(item, list) else "dependentSchemas"
                out.setdefault(which, {})[name] = item if isinstance(item, list) else as_2020_12(item, draft)
        elif key == "$ref" and isinstance(value, str) and value.startswith("#/definitions/"):
            out[key] = "#/$defs/" + value.removeprefix("#/definitions/")
        else:
            out[key] = value
    if isinstance(node.get("items"), list):  # after a tuple, additionalItems is what items says
        extra = out.pop("additionalItems", None)
        if extra is not None:
            out["items"] = extra
    else:  # with no tuple before it, additionalItems meant nothing (2020-12 has no such keyword)
        out.pop("additionalItems", None)
    if draft == 4:
        for exclusive, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
            flag = out.get(exclusive)
            if isinstance(flag, bool):
                del out[exclusive]
                if flag and bound in out:
                    out[exclusive] = out.pop(bound)
    return out


def _placed(at: str, ref: str) -> str:
    """A schema's reference into itself ('#/$defs/x') once the schema is placed ``at`` a pointer."""
    return at + ref[1:] if ref.startswith("#") else ref


def _bundled(ref: str) -> str:
    """Where a reference to a sibling schema file points once bundled into the served document."""
    if ref.startswith("#"):
        return ref
    if ref in FILE_SCHEMAS:
        return "#/components/schemas/" + FILE_SCHEMAS[ref]
    if ref.startswith("entities/") and ref.endswith(".json"):
        return "#/components/schemas/Entity_" + ref.removeprefix("entities/").removesuffix(".json")
    raise ValueError(f"openapi.yaml refers to {ref!r}, which is not bundled when served")


def build_document(registry: SchemaRegistry, settings: Settings) -> dict[str, Any]:
    """The shipped document, self-contained (sibling schema files bundled in), plus the entity
    schemas and limits this server enforces."""
    shipped = shipped_document()
    for name in FILE_SCHEMAS.values():
        shipped["components"]["schemas"].pop(name)  # a reference to the file, replaced by its content
    doc: dict[str, Any] = _rewrite_refs(shipped, _bundled)
    schemas: dict[str, Any] = doc["components"]["schemas"]
    for file, name in FILE_SCHEMAS.items():
        schemas.update(_file_schemas(file, name))
    entities = schemas["PushRequest"]["properties"]["entities"]
    others = entities["additionalProperties"]
    if settings.max_page_entity_types is None:
        entities.pop("maxProperties", None)
    else:
        entities["maxProperties"] = settings.max_page_entity_types
    max_items = settings.max_page_items
    if max_items is None:
        others.pop("maxItems", None)
    else:
        others["maxItems"] = max_items
    entities["properties"] = {}  # the shipped types' references give way to what this server loaded
    for name, entity in sorted(registry.types.items()):
        draft = draft_of(entity.schema)
        identity = ("$schema", "$id", "id") if draft == 4 else ("$schema", "$id")  # draft-4's is "id"
        body = {k: v for k, v in entity.schema.items() if k not in identity}
        if draft is not None:
            body = as_2020_12(body, draft)
        # Its own references ('#/$defs/common') point into it, wherever the document places it.
        schemas[f"Entity_{name}"] = _rewrite_refs(body, partial(_placed, f"#/components/schemas/Entity_{name}"))
        records: dict[str, Any] = {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": f"#/components/schemas/Entity_{name}"},
        }
        if max_items is not None:
            records["maxItems"] = max_items
        entities["properties"][name] = records
    if settings.unknown_entity_types == "reject":
        entities["additionalProperties"] = False
    _complete_scenarios(doc)
    _add_refusals(doc)
    _add_unknown_entity_type(doc, registry)
    for path in ("/journal", "/journal.har"):
        for parameter in doc["paths"][CONTROL_PREFIX + path]["get"]["parameters"]:
            if parameter["name"] == "limit":
                parameter["schema"]["maximum"] = settings.journal_size
    return doc


def _problem_response(description: str, status: int, code: str) -> dict[str, Any]:
    """A response of one problem ``code``, as the shipped document writes one."""
    only = {"properties": {"status": {"const": status}, "code": {"const": code}}}
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Problem"}, only]}}},
    }


# Every control read refuses a query parameter it does not read (``http/control.py``'s ``read``):
# those it reads are the ones its operation lists.
UNKNOWN_QUERY_PARAMETER = _problem_response(
    "a query parameter the call does not read (`parameter` names it; the detail, the closest it reads)",
    400,
    INVALID_PARAMETER.code,
)


def _add_refusals(doc: dict[str, Any]) -> None:
    """The refusals listed once under ``x-refusals``, and a control read's of a query parameter it
    does not read, added to every operation they apply to; where an operation already documents
    that status otherwise, the answer is either of the two."""
    refusals = {**doc.pop("x-refusals"), "control-reads": {"400": UNKNOWN_QUERY_PARAMETER}}
    for path, item in doc["paths"].items():
        control = path.startswith(CONTROL_PREFIX)
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            write = method != "get"
            groups = ["every-operation"]
            groups += ["control-operations"] if control else []
            groups += ["control-reads"] if control and not write else []
            groups += ["control-writes"] if control and write else []
            groups += ["writes"] if write else []
            responses = operation["responses"]
            for group in groups:
                for status, response in refusals[group].items():
                    responses[status] = _either(doc, responses.get(status), response)


def _add_unknown_entity_type(doc: dict[str, Any], registry: SchemaRegistry) -> None:
    """The records of a type neither applied nor given a schema: 404 ``entity_type_not_found``
    (a type this server has a schema for is 200, with no records until one is applied)."""
    known = ", ".join(sorted(registry.types)) or "none"
    refused = _problem_response(
        f"the integration applied no records of that type and no schema names it (this server's: {known})",
        404,
        ENTITY_TYPE_NOT_FOUND.code,
    )
    records = doc["paths"][CONTROL_PREFIX + "/integrations/{integration_id}/records/{entity_type}"]
    responses = records["get"]["responses"]
    responses["404"] = _either(doc, responses["404"], refused)


def _either(doc: dict[str, Any], documented: dict[str, Any] | None, added: dict[str, Any]) -> dict[str, Any]:
    if documented is None or documented == added:
        return added
    first, second = _resolve(doc, documented), _resolve(doc, added)
    schema = {
        "anyOf": [first["content"]["application/json"]["schema"], second["content"]["application/json"]["schema"]]
    }
    return {
        "description": f"{first['description'].strip()}; or: {second['description'].strip()}",
        "headers": {"X-Request-Id": first["headers"]["X-Request-Id"]},
        "content": {"application/json": {"schema": schema}},
    }


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _when_operation_is_not(operations: list[str], then: dict[str, Any]) -> dict[str, Any]:
    return {
        "if": {
            "required": ["match"],
            "properties": {
                "match": {"required": ["operation"], "properties": {"operation": {"not": {"enum": operations}}}}
            },
        },
        "then": then,
    }


_RULE_MEANING = [
    # 'page', 'entity_type' and 'page_hint' only apply to push_page (or any)
    _when_operation_is_not(
        ["push_page", "any"],
        {"properties": {"match": {"properties": {"page": False, "entity_type": False, "page_hint": False}}}},
    ),
    # integration_status and activity address no session: no 'session' match, no expire_session
    _when_operation_is_not(
        ["start_session", "get_session", "push_page", "close_session", "any"],
        {
            "properties": {
                "match": {"properties": {"session": False}},
                "lifecycle": {"properties": {"expire_session": False}},
            }
        },
    ),
]


def _complete_scenarios(doc: dict[str, Any]) -> None:
    """What a scenario PUT accepts, exactly: a shipped name (not any string matching the pattern),
    and in a scenario's ``settings`` the same overrides an integration's settings PUT takes."""
    body = doc["components"]["requestBodies"]["Scenario"]["content"]["application/json"]["schema"]
    for branch in body["oneOf"]:
        if branch.get("type") == "string":
            branch["enum"] = sorted(shipped_scenarios())
    overrides = doc["paths"][CONTROL_PREFIX + "/integrations/{integration_id}/settings"]["put"]["requestBody"]
    scenario = doc["components"]["schemas"]["Scenario"]
    scenario["properties"]["settings"] = copy.deepcopy(overrides["content"]["application/json"]["schema"])
    # The meaning checks of faults/scenario.py that JSON Schema can state (min_seconds <=
    # max_seconds it cannot: that one is documented as a 400 only).
    rule = doc["components"]["schemas"]["Scenario_rule"]
    rule["allOf"] = [*rule.get("allOf", []), *_RULE_MEANING]


__all__ = ["build_document", "document_path", "shipped_document"]
