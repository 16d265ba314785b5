"""Entity schemas and page validation.

The verdict comes from jsonschema-rs, compiled code that answers a page far sooner than the
pure-Python ``jsonschema`` (``make bench`` section 8 compares them); the full error list is only
built when a page fails.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from . import rules
from .codes import EMPTY_PAGE, TOO_MANY_ENTITY_TYPES, TOO_MANY_ITEMS, VALIDATION_FAILED, ErrorCode
from .errors import MockSprintoError
from .payload import MAX_PAGE_HINT_CHARS, json_pointer, many_values, page_beyond
from .resources import schemas_dir
from .rules import Rule
from .settings.values import did_you_mean

ENTITY_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}\Z")
# ENTITY_TYPE_NAME said for people, whole: a name refused for its length alone was told
# "(letters, digits, '_')" and nothing else.
ENTITY_TYPE_NAME_RULE = "a letter, then up to 63 letters, digits or '_' (64 characters at most)"
NAME_SHOWN_CHARS = 100  # a refused name is quoted whole up to this length, else cut with its length said
# A validation error never repeats a large part of the page (as Pydantic cuts ``input_value``): the
# value an ``issue`` quotes is cut to its first and last characters with its length said, and the
# whole issue, its pointer and the names it carries are bounded, so a 250 kB bad value costs a few
# hundred bytes in the answer, the session's page list and the activity log.
MAX_ISSUE_CHARS = 300
MAX_POINTER_CHARS = 512
MAX_NAME_CHARS = 256  # a field or entity type name an error carries
_QUOTED_HEAD, _QUOTED_TAIL = 40, 12


class SchemaFileError(MockSprintoError, ValueError):
    """A schema file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class EntitySchema:
    name: str
    schema: dict[str, Any]
    key_field: str | None
    validator: Any  # a jsonschema_rs validator: compiled once, shared by all requests
    source: str
    flat: bool  # a valid record holds no nested object or array (lets parsing skip a walk)
    # The same schema as an array's "items": one call checks a page's records of this type, cheaper
    # than a call per record (the per-call overhead is paid once). None when the schema has
    # references (they would resolve against the wrapper): then records are checked one by one.
    records_validator: Any = None
    # The opt-in strict variant (setting unknown_fields: reject): no field beyond ``properties``.
    strict_validator: Any = None
    strict_records_validator: Any = None
    strict_flat: bool = False
    # The fields the schema declares, its parts' included (``declared_fields``): read at load, as
    # every report and apply asks for them.
    known_fields: tuple[str, ...] = ()


_COMPOSING = ("allOf", "anyOf", "oneOf", "if", "then", "else")


def declared_fields(schema: dict[str, Any]) -> tuple[str, ...]:
    """The field names a record's schema declares: its own ``properties`` and those of the schemas
    it is composed of (``allOf``, ``anyOf``, ``oneOf``, ``if``/``then``/``else`` and ``$ref`` into
    itself), in the order met. A field declared only in a part was once "unknown": the judge blamed a
    correct client and ``unknown_fields: reject`` refused it."""
    found: dict[str, None] = {}
    seen: set[int] = set()
    parts: list[Any] = [schema]
    while parts:
        part = parts.pop(0)
        if not isinstance(part, dict) or id(part) in seen:
            continue
        seen.add(id(part))
        found.update(dict.fromkeys(part.get("properties") or ()))
        for word in _COMPOSING:
            sub = part.get(word)
            parts.extend(sub if isinstance(sub, list) else [sub])
        ref = part.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            parts.append(_pointed(schema, ref))
    return tuple(found)


def _pointed(schema: dict[str, Any], ref: str) -> Any:
    """What a local ``$ref`` ('#/$defs/name') points at in ``schema`` (None when nothing)."""
    node: Any = schema
    for step in ref[2:].split("/"):
        step = step.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node


def _refuse_remote(uri: str) -> Any:
    raise ValueError(f"{uri!r} was not fetched")


def _compile(schema: dict[str, Any]) -> Any:
    """A validator for ``schema`` that never reaches out: a ``$ref`` to another file or to the
    network fails the load (start-up stays hermetic and as fast offline as on line)."""
    return jsonschema_rs.validator_for(schema, validate_formats=True, retriever=_refuse_remote)


def _compile_error(exc: Exception) -> str:
    """jsonschema-rs's words for a schema it cannot compile, without its trailer."""
    message = str(exc).split("\n\nFailed validating", 1)[0]
    found = re.search(r"Resource '([^']*)' is not present in a registry", message)
    if found:
        return (
            f"its $ref to {found.group(1)!r} cannot be followed: an entity schema must be self-contained "
            "(put shared parts in its own $defs); other files and URLs are not read"
        )
    return f"cannot compile ({message})"


def _no_repeated_names(where: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of a schema file, refused when it repeats a name (as a page is: with the last
    value winning, {"type": "object", "type": "string"} was read as a schema of strings)."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise SchemaFileError(f"{where}: the member name {name!r} appears twice in one object")
        found[name] = value
    return found


def _load_schema(path: Path) -> EntitySchema:
    name = path.stem
    where = str(path)
    if not ENTITY_TYPE_NAME.match(name):
        raise SchemaFileError(f"{where}: file name must be an entity type name like 'User.json'")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=partial(_no_repeated_names, where))
    except SchemaFileError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaFileError(f"{where}: cannot read JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise SchemaFileError(f"{where}: a schema must be a JSON object")
    schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
    _check_schema(schema, where)
    schema = _of_objects(schema, where)
    key = schema.get("x-key")
    if key is not None and (not isinstance(key, str) or not key):
        raise SchemaFileError(f"{where}: 'x-key' must name a field")
    fields = declared_fields(schema)
    if key is not None and key not in fields:
        hint = did_you_mean(key, fields) or f" (it declares {cut(', '.join(fields) or 'none', 200)})"
        raise SchemaFileError(f"{where}: 'x-key' names {key!r}, a field the schema does not declare{hint}")
    try:
        validator = _compile(schema)
        strict = _strict(schema, fields)
        strict_validator = _compile(strict)
    except Exception as exc:  # jsonschema-rs raises several kinds for unsupported schemas
        raise SchemaFileError(f"{where}: {_compile_error(exc)}") from None
    return EntitySchema(
        name=name,
        schema=schema,
        key_field=key,
        validator=validator,
        source=where,
        flat=_is_flat(schema),
        records_validator=_records_validator(schema),
        strict_validator=strict_validator,
        strict_records_validator=_records_validator(strict),
        strict_flat=_is_flat(strict),
        known_fields=fields,
    )


def _check_schema(schema: dict[str, Any], where: str) -> None:
    """The schema against its meta-schema. jsonschema-rs knows the common drafts; python-jsonschema
    (slow to import, which start-up then does not pay) only answers for a ``$schema`` it does not."""
    try:
        jsonschema_rs.meta.validate(schema)
        return
    except jsonschema_rs.ValidationError as exc:
        raise SchemaFileError(f"{where}: not a valid JSON Schema: {exc.message}") from None
    except Exception:  # jsonschema-rs does not know this meta-schema
        pass
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaFileError(f"{where}: not a valid JSON Schema: {exc.message}") from None


def _of_objects(schema: dict[str, Any], where: str) -> dict[str, Any]:
    """The schema with its root ``type`` "object": Sprinto's page envelope holds records as
    objects, so a record that is not one is refused whatever the schema says (a schema without a
    ``type`` let ``[7]`` through, and the apply then failed on it). A root type that leaves no
    object out can never accept a record: refused at load."""
    kind = schema.get("type")
    if kind == "object":
        return schema
    if kind is None or (isinstance(kind, list) and "object" in kind):
        return {**schema, "type": "object"}
    raise SchemaFileError(
        f"{where}: its root 'type' is {kind!r}, but every record is a JSON object "
        '(Sprinto\'s page envelope); say "type": "object"'
    )


def _strict(schema: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The schema with no fields beyond ``fields``, those it declares (when it does not say
    otherwise). The fields its parts declare (``allOf``, a ``$ref``...) are listed in its own
    ``properties`` too, with no constraint, since ``additionalProperties`` sees only the schema it
    sits in."""
    if schema.get("additionalProperties") not in (None, True):
        return schema
    if not fields:
        return schema
    own = schema.get("properties") or {}
    properties = {**own, **{name: {} for name in fields if name not in own}}
    return {**schema, "properties": properties, "additionalProperties": False}


def _records_validator(schema: dict[str, Any]) -> Any:
    text = json.dumps(schema)
    if any(word in text for word in ('"$ref"', '"$dynamicRef"', '"$recursiveRef"')):
        return None
    items = {k: v for k, v in schema.items() if k != "$schema"}
    try:
        return _compile({"$schema": schema["$schema"], "type": "array", "items": items})
    except Exception:  # not worth failing start-up for: records are then checked one by one
        return None


_SCALAR_TYPES = {"string", "number", "integer", "boolean", "null"}


def _is_flat(schema: dict[str, Any]) -> bool:
    """True when the schema admits only objects whose every value is a scalar."""
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        return False
    for sub in (schema.get("properties") or {}).values():
        if not isinstance(sub, dict):
            return False
        if "enum" in sub or "const" in sub:
            values = sub.get("enum", [sub.get("const")])
            if all(not isinstance(v, (dict, list)) for v in values):
                continue
            return False
        kinds = sub.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(kinds, list) or not set(kinds) <= _SCALAR_TYPES:
            return False
    return True


_LOOKS_LIKE_A_SCHEMA = frozenset({".json", ".yaml", ".yml"})  # read only as '<EntityType>.json'


@dataclass
class SchemaRegistry:
    types: dict[str, EntitySchema] = field(default_factory=dict)
    # The folders ``load`` read, in order: how the large-page judge's child rebuilds the same
    # registry (judging.py). None for a registry made in code, which its thread judges instead.
    sources: tuple[str, ...] | None = None
    # What the banner says beside the types: files that look like schemas but are not read
    # (Device.yaml, Device.JSON), and the types a later folder's file replaced (a user's User).
    ignored: tuple[str, ...] = ()
    replaced: frozenset[str] = frozenset()

    @classmethod
    def load(cls, *folders: Path | str | None) -> SchemaRegistry:
        """Later folders override earlier ones type by type; a broken file stops the load, and
        every broken file is named at once (one at a time made a fix-and-restart loop)."""
        registry = cls(sources=tuple(str(folder) for folder in folders if folder is not None))
        problems: list[str] = []
        ignored: list[str] = []
        replaced: set[str] = set()
        for folder in folders:
            if folder is None:
                continue
            base = Path(folder)
            if not base.is_dir():
                what = "is not a folder" if base.exists() else "does not exist"
                problems.append(f"{base}: schemas folder {what}")
                continue
            ignored += sorted(
                path.name
                for path in base.iterdir()
                if path.suffix.lower() in _LOOKS_LIKE_A_SCHEMA and path.suffix != ".json" and path.is_file()
            )
            for path in sorted(base.glob("*.json")):
                try:
                    entity = _load_schema(path)
                except SchemaFileError as exc:
                    problems.append(str(exc))
                    continue
                if entity.name in registry.types:
                    replaced.add(entity.name)
                registry.types[entity.name] = entity
        if problems:
            raise SchemaFileError("\n".join(problems))
        registry.ignored, registry.replaced = tuple(ignored), frozenset(replaced)
        return registry

    @classmethod
    def shipped(cls, extra_dir: Path | str | None = None) -> SchemaRegistry:
        """The shipped entity schemas, overridden type by type by ``extra_dir`` (``--schemas``)."""
        return cls.load(schemas_dir() / "entities", extra_dir)

    @property
    def flat_types(self) -> frozenset[str]:
        return frozenset(name for name, entity in self.types.items() if entity.flat)

    @property
    def strict_flat_types(self) -> frozenset[str]:
        return frozenset(name for name, entity in self.types.items() if entity.strict_flat)

    @property
    def known_fields(self) -> dict[str, frozenset[str]]:
        """Each typed entity's known fields (types whose schema names none are left out)."""
        return {name: frozenset(entity.known_fields) for name, entity in self.types.items() if entity.known_fields}

    def key_field(self, entity_type: str) -> str | None:
        entity = self.types.get(entity_type)
        return entity.key_field if entity else None

    @property
    def key_fields(self) -> dict[str, str]:
        """Each keyed entity's key field (the HAR judge's, as ``key_field`` is the live one's)."""
        return {name: entity.key_field for name, entity in self.types.items() if entity.key_field}


@dataclass(slots=True)
class PageVerdict:
    """What validation concluded about one page; ``code`` is None when it is accepted."""

    entities: dict[str, list[Any]]
    counts: dict[str, int]
    total: int
    page_hint: int | str | None
    code: ErrorCode | None = None  # the refusal: validation_failed, empty_page, too_many_items
    detail: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_truncated: bool = False


ENVELOPE_NOT_VALID = "the page envelope is not valid"
RECORDS_NOT_VALID = "one or more records are invalid; the whole page was rejected"


def _error(
    issue: str,
    pointer: str,
    code: str,
    *,
    entity_type: str | None = None,
    index: int | None = None,
    field_name: str | None = None,
    rule: Rule = rules.ENVELOPE,
) -> dict[str, Any]:
    """One validation error. ``entity_type``, ``index`` and ``field`` are left out where they do not
    apply (Sprinto types them string, integer, string: never null); ``pointer`` always says where."""
    error: dict[str, Any] = {}
    if entity_type is not None:
        error["entity_type"] = cut(entity_type, MAX_NAME_CHARS)
    if index is not None:
        error["index"] = index
    if field_name is not None:
        error["field"] = cut(field_name, MAX_NAME_CHARS)
    error.update(issue=cut(issue, MAX_ISSUE_CHARS), pointer=cut(pointer, MAX_POINTER_CHARS), code=code)
    error.update(rule.basis_members())
    return error


def cut(text: str, limit: int) -> str:
    """``text``, or its head and tail around a note of how much was left out (never over ``limit``)."""
    if len(text) <= limit:
        return text
    note = f"...({len(text)} characters)..."
    tail = min(_QUOTED_TAIL * 4, (limit - len(note)) // 3)
    return text[: limit - len(note) - tail] + note + text[len(text) - tail :]


def quoting_cut(message: str, instance: Any) -> str:
    """A validator's message with the value it quotes cut (``"aaa...(250002 characters)...a" is longer
    than 256 characters``), then bounded as a whole."""
    if len(message) <= MAX_ISSUE_CHARS:
        return message
    try:
        quoted = orjson.dumps(instance).decode()
    except (TypeError, orjson.JSONEncodeError):
        quoted = ""
    at = message.find(quoted) if len(quoted) > _QUOTED_HEAD + _QUOTED_TAIL else -1
    if at >= 0:
        short = f"{quoted[:_QUOTED_HEAD]}...({len(quoted)} characters)...{quoted[-_QUOTED_TAIL:]}"
        message = message[:at] + short + message[at + len(quoted) :]
    return cut(message, MAX_ISSUE_CHARS)


def _envelope_error(
    verdict: PageVerdict,
    issue: str,
    pointer: str,
    code: str,
    *,
    entity_type: str | None = None,
    field_name: str | None = None,
    rule: Rule = rules.ENVELOPE,
) -> None:
    """List an error about the page as a whole (its shape, ``page_hint``, an entity type, its size):
    one that no record index locates."""
    verdict.errors.append(_error(issue, pointer, code, entity_type=entity_type, field_name=field_name, rule=rule))


# What a page keeps of its unknown fields (``Page.unknown_fields``, kept with its finished session):
# the judge asks of each name whether it is a typo of a known field, which no name longer than this
# is, and a page whose records carry 400 names each kept 1.7 MB of them past the memory budget.
UNKNOWN_FIELDS_KEPT = 100  # names of one type, in sorted order
UNKNOWN_FIELD_CHARS = 64


def unknown_fields(entities: Any, known: dict[str, frozenset[str]]) -> dict[str, list[str]]:
    """The fields of a page's records beyond their type's known ones (``SchemaRegistry.known_fields``):
    one set union per type, in C; the first ``UNKNOWN_FIELDS_KEPT`` of each type, of at most
    ``UNKNOWN_FIELD_CHARS``. Read when a page is applied, or by the judge while it is staged; never
    on the push path."""
    found: dict[str, list[str]] = {}
    if not isinstance(entities, dict):
        return found
    for entity_type, records in entities.items():
        names = known.get(entity_type)
        if names is None or not isinstance(records, list) or not records:
            continue
        try:
            extra = set().union(*records).difference(names)
        except TypeError:  # a schema that admits records other than objects
            continue
        # the first names in sorted order without sorting them all (400,000 names: 460 -> 190 ms)
        kept = heapq.nsmallest(
            UNKNOWN_FIELDS_KEPT, (name for name in extra if type(name) is str and len(name) <= UNKNOWN_FIELD_CHARS)
        )
        if kept:
            found[entity_type] = kept
    return found


def merge_unknown_fields(found: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    """``found`` with ``more`` (both ``unknown_fields`` answers, of records of one page): what one
    read of all those records would have found (types in the order first met, names sorted). How a
    large page is read a slice of its records at a time (the apply's build, the report's reading)."""
    for entity_type, names in more.items():
        held = found.get(entity_type)
        found[entity_type] = names if held is None else sorted({*held, *names})[:UNKNOWN_FIELDS_KEPT]


def check_page(
    body: Any,
    registry: SchemaRegistry,
    *,
    max_items: int | None,
    max_errors: int,
    reject_unknown_types: bool,
    reject_unknown_fields: bool = False,
    reject_empty: bool = True,
    max_types: int | None = None,
) -> PageVerdict:
    """Validate a parsed push body: the envelope first (with the number of entity types it names,
    setting ``max_page_entity_types``: ``max_types``), then the page's size, then every record of
    every typed entity. A rejected page's verdict keeps what was counted, for the answer."""
    if max_types is not None and (named := _types_named(body)) > max_types:
        return _refuse_too_many_types(body, named, max_types)
    verdict = PageVerdict({}, {}, 0, None)
    entities = _read_envelope(body, registry, verdict, reject_unknown_types)
    if entities is None:
        return _reject(verdict, VALIDATION_FAILED, ENVELOPE_NOT_VALID)
    if verdict.total == 0 and reject_empty:  # setting empty_pages
        return _refuse_empty(verdict)
    if max_items is not None and verdict.total > max_items:
        return _refuse_too_many(verdict, max_items)
    verdict.entities = entities
    return _check_records(entities, registry, verdict, max_errors, reject_unknown_fields)


def _reject(verdict: PageVerdict, code: ErrorCode, detail: str) -> PageVerdict:
    verdict.code = code
    verdict.detail = detail
    return verdict


def _read_envelope(
    body: Any, registry: SchemaRegistry, verdict: PageVerdict, reject_unknown_types: bool
) -> dict[str, Any] | None:
    """The page's ``entities``, each type's records counted; None when the envelope is not valid,
    the reasons listed in ``verdict``. A body of the wrong shape stops the reading at once; a wrong
    ``page_hint`` or entity type is listed and the reading goes on, so one answer names them all."""
    if not isinstance(body, dict):
        _envelope_error(verdict, "the body must be a JSON object", "", "type")
        return None
    hint = body.get("page_hint")
    if hint is not None:
        verdict.page_hint = _page_hint(hint, verdict)
    if "entities" not in body:
        _envelope_error(verdict, "'entities' is a required property", "", "required", field_name="entities")
        return None
    entities = body["entities"]
    if not isinstance(entities, dict):
        issue = "'entities' must be an object of entity type to records"
        _envelope_error(verdict, issue, "/entities", "type", field_name="entities")
        return None
    types = registry.types
    for entity_type, records in entities.items():
        if type(records) is list and entity_type in types:  # the usual case: nothing to report
            verdict.counts[entity_type] = len(records)
            verdict.total += len(records)
        else:
            _count_unusual_type(entity_type, records, registry, verdict, reject_unknown_types)
    return None if verdict.errors else entities


def usable_page_hint(hint: Any) -> int | str | None:
    """``hint`` as a page's ``page_hint`` (an integer or a string of at most MAX_PAGE_HINT_CHARS);
    None when it is none. What the verdict echoes, and what the journal keeps of a push a scenario
    rule answered before its page was judged."""
    # JSON Schema (and every JavaScript client) counts 7.0 as the integer 7; only where a double is
    # exact, so an integer literal too large for 64 bits (parsed as a rounded double) is not one.
    if type(hint) is float and hint.is_integer() and -(2**53) <= hint <= 2**53:
        hint = int(hint)
    if isinstance(hint, bool) or not isinstance(hint, (int, str)):
        return None
    if isinstance(hint, str) and len(hint) > MAX_PAGE_HINT_CHARS:
        return None
    return hint


def _page_hint(hint: Any, verdict: PageVerdict) -> int | str | None:
    """The hint to echo back; None, with the error listed, when it is not an integer or a short string."""
    usable = usable_page_hint(hint)
    if usable is not None:
        return usable
    if isinstance(hint, str):
        issue, code = f"page_hint is longer than {MAX_PAGE_HINT_CHARS} characters", "maxLength"
    else:
        issue, code = "page_hint must be an integer or a string", "type"
    _envelope_error(verdict, issue, "/page_hint", code, field_name="page_hint", rule=rules.PAGE_HINT)
    return None


def _count_unusual_type(
    entity_type: str, records: Any, registry: SchemaRegistry, verdict: PageVerdict, reject_unknown_types: bool
) -> None:
    """A type without a schema, or whose records are not an array: its records are counted when
    they are an array, and the type is listed when its name is not valid, its records are not an
    array, or unknown types are refused (setting ``unknown_entity_types: reject``)."""
    pointer = json_pointer(("entities", entity_type))
    if not ENTITY_TYPE_NAME.match(entity_type):
        issue = f"{_name_shown(entity_type)} is not a valid entity type name: {ENTITY_TYPE_NAME_RULE}"
        _envelope_error(verdict, issue, pointer, "entity_type", entity_type=entity_type)
        return
    if not isinstance(records, list):
        _envelope_error(verdict, "the records of a type must be an array", pointer, "type", entity_type=entity_type)
        return
    verdict.counts[entity_type] = len(records)
    verdict.total += len(records)
    if reject_unknown_types and entity_type not in registry.types:
        known = cut(", ".join(sorted(registry.types)) or "none", 160)
        issue = f"unknown entity type {cut(entity_type, 80)!r} (known: {known})"
        rule = rules.ENTITY_TYPES
        _envelope_error(verdict, issue, pointer, "unknown_entity_type", entity_type=entity_type, rule=rule)


def _name_shown(name: str) -> str:
    """A refused entity type name as the issue quotes it: whole, with its length when that is what
    breaks the rule, or cut (``cut`` says the length) when it is longer than ``NAME_SHOWN_CHARS``."""
    quoted = repr(cut(name, NAME_SHOWN_CHARS))
    return f"{quoted} ({len(name)} characters)" if 64 < len(name) <= NAME_SHOWN_CHARS else quoted


def _refuse_empty(verdict: PageVerdict) -> PageVerdict:
    issue = "the page holds no records"
    _envelope_error(verdict, issue, "/entities", "minItems", field_name="entities", rule=rules.EMPTY_PAGE)
    return _reject(verdict, EMPTY_PAGE, "a page must hold at least one record")


def too_many_records(read: int, max_items: int) -> PageVerdict:
    """The verdict on a page whose records were counted before it was parsed: ``read`` is how many
    were read when the count passed ``max_items`` (the rest was never read)."""
    verdict = PageVerdict({}, {}, read, None)
    issue = (
        f"the page holds more than {max_items} records ({read} read, the rest was not); "
        f"at most {max_items} are allowed across all types"
    )
    _envelope_error(verdict, issue, "/entities", "maxItems", field_name="entities", rule=rules.PAGE_SIZE)
    return _reject(verdict, TOO_MANY_ITEMS, f"a page may hold at most {max_items} records, this one holds more")


def refused_unparsed(raw: bytes, max_items: int | None, max_types: int | None) -> PageVerdict | None:
    """The verdict on a page refused before it is parsed, or None (parse it): a text that could hold
    many values (``payload.many_values``) is read type by type and record by record, and refused
    at the first record past ``max_items`` (``max_page_items``) or the first entity type past
    ``max_types`` (``max_page_entity_types``), whichever comes first; the rest is never read."""
    if (max_items is None and max_types is None) or not many_values(raw):
        return None
    found = page_beyond(raw, max_items, max_types)
    if found is None:
        return None
    if found.what == "records":
        assert max_items is not None
        return too_many_records(found.records, max_items)
    assert max_types is not None
    return too_many_entity_types(found.types, max_types, records=found.records, read_all=False)


def too_many_entity_types(
    named: int, max_types: int, *, records: int, read_all: bool, page_hint: int | str | None = None
) -> PageVerdict:
    """The verdict on a page naming more than ``max_types`` entity types (setting
    ``max_page_entity_types``): ``named`` of them, or as many as were read when the count passed the
    limit (``read_all`` False: the rest was never read). It keeps none of their counts: its answer,
    the session's record of it and the activity log stay the same size whatever the page named."""
    verdict = PageVerdict({}, {}, records, page_hint)
    how_many = (
        f"{named} entity types"
        if read_all  # else counted before the parse: names, a name repeated counts again
        else f"more than {max_types} entity types ({named} type names read, the rest was not)"
    )
    issue = (
        f"the page names {how_many}; at most {max_types} are allowed, with records or without "
        "(setting max_page_entity_types)"
    )
    _envelope_error(verdict, issue, "/entities", "maxProperties", field_name="entities", rule=rules.PAGE_TYPES)
    held = str(named) if read_all else "more"
    detail = f"a page may name at most {max_types} entity types (setting max_page_entity_types), this one names {held}"
    return _reject(verdict, TOO_MANY_ENTITY_TYPES, detail)


def _types_named(body: Any) -> int:
    """How many entity types a parsed page names (0 when it has no ``entities`` object)."""
    entities = body.get("entities") if type(body) is dict else None
    return len(entities) if type(entities) is dict else 0


def record_count(entities: Mapping[str, Any]) -> int:
    """How many records a parsed page's ``entities`` hold (a type's value that is no array: none)."""
    return sum(len(records) for records in entities.values() if type(records) is list)


def _refuse_too_many_types(body: dict[str, Any], named: int, max_types: int) -> PageVerdict:
    hint = usable_page_hint(body.get("page_hint"))
    return too_many_entity_types(
        named, max_types, records=record_count(body["entities"]), read_all=True, page_hint=hint
    )


def _refuse_too_many(verdict: PageVerdict, max_items: int) -> PageVerdict:
    total = verdict.total
    issue = f"the page holds {total} records; at most {max_items} are allowed across all types"
    _envelope_error(verdict, issue, "/entities", "maxItems", field_name="entities", rule=rules.PAGE_SIZE)
    return _reject(verdict, TOO_MANY_ITEMS, f"a page may hold at most {max_items} records, this one holds {total}")


def _check_records(
    entities: dict[str, Any], registry: SchemaRegistry, verdict: PageVerdict, max_errors: int, strict: bool
) -> PageVerdict:
    """Every record against its type's schema; a type without one only needs its records to be objects."""
    budget = max_errors + 1  # one more than listed tells us whether to flag truncation
    for entity_type, records in entities.items():
        schema = registry.types.get(entity_type)
        if schema is None:
            _require_objects(entity_type, records, verdict, budget)
        else:
            _validate_records(schema, records, verdict, budget, strict)
        if len(verdict.errors) >= budget:
            break
    if not verdict.errors:
        return verdict
    if len(verdict.errors) > max_errors:
        del verdict.errors[max_errors:]
        verdict.errors_truncated = True
    return _reject(verdict, VALIDATION_FAILED, RECORDS_NOT_VALID)


def _require_objects(entity_type: str, records: list[Any], verdict: PageVerdict, budget: int) -> None:
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            pointer = json_pointer(("entities", entity_type, index))
            verdict.errors.append(
                _error("a record must be a JSON object", pointer, "type", entity_type=entity_type, index=index)
            )
            if len(verdict.errors) >= budget:
                return


def _validate_records(
    schema: EntitySchema, records: list[Any], verdict: PageVerdict, budget: int, strict: bool
) -> None:
    records_validator = schema.strict_records_validator if strict else schema.records_validator
    if records_validator is not None and records_validator.is_valid(records):
        return  # the usual case: one call for the whole page; errors are only listed on failure
    validator = schema.strict_validator if strict else schema.validator
    for index, record in enumerate(records):
        if validator.is_valid(record):
            continue
        verdict.errors.extend(_record_errors(schema.name, validator, record, index, strict, budget))
        if len(verdict.errors) >= budget:
            return


def _record_errors(
    entity_type: str, validator: Any, record: Any, index: int, strict: bool, most: int
) -> list[dict[str, Any]]:
    """An invalid record's errors, in the order of their pointers (of the fields it should not
    have, ``most`` at most: a record of 100,000 made-up names made as many errors to list 101)."""
    found: list[dict[str, Any]] = []
    for err in validator.iter_errors(record):
        path = list(err.instance_path)
        keyword = str(err.schema_path[-1]) if err.schema_path else "schema"
        rule = rules.UNKNOWN_FIELDS_STRICT if keyword == "additionalProperties" and strict else rules.RECORDS
        kind = getattr(err.kind, "name", None)
        if kind in _UNEXPECTED_FIELDS and not path:
            # One error a field the record should not have, pointing at it: the validator's one
            # error named only the first of them in ``field`` (a schema author's review).
            unexpected = [str(name) for name in (getattr(err.kind, "unexpected", None) or ())][:most]
            if unexpected:
                found.extend(
                    _error(
                        f"{_UNEXPECTED_FIELDS[kind]} ({cut(repr(name), MAX_NAME_CHARS)} was unexpected)",
                        json_pointer(("entities", entity_type, index, name)),
                        keyword,
                        entity_type=entity_type,
                        index=index,
                        field_name=name,
                        rule=rule,
                    )
                    for name in unexpected
                )
                continue
        found.append(
            _error(
                quoting_cut(_readable(err.message, keyword), err.instance),
                json_pointer(("entities", entity_type, index, *path)),
                keyword,
                entity_type=entity_type,
                index=index,
                # where it points, or the field a required (or dependentRequired) error names
                field_name=str(path[0]) if path else str(getattr(err.kind, "property", "")) or None,
                rule=rule,
            )
        )
    # jsonschema-rs reports in evaluation order; sort so the same page always lists the same way.
    found.sort(key=lambda e: (e["pointer"], e["code"], e["issue"]))
    return found


# The validator's errors that name the fields a record should not have, and how each is worded.
_UNEXPECTED_FIELDS = {
    "additionalProperties": "Additional properties are not allowed",
    "unevaluatedProperties": "Unevaluated properties are not allowed",
}


_FORMAT_MESSAGE = re.compile(r'^(.*) is not a "([^"]+)"$', re.S)
FORMAT_NAMES = {"email": "email address", "date-time": "RFC 3339 date-time", "date": "date", "uri": "URI"}


def _readable(message: str, keyword: str) -> str:
    """jsonschema-rs says '"x" is not a "email"'; a person reads '"x" is not a valid email address'."""
    if keyword != "format":
        return message
    found = _FORMAT_MESSAGE.match(message)
    if found is None:
        return message
    value, name = found.groups()
    return f"{value} is not a valid {FORMAT_NAMES.get(name, name)}"
