"""The one table of the emulator's rules, each with its basis: what Sprinto's published contract says
(``doc``), or what the emulator chose where it is silent (``mock``, a setting where one exists).

Every error body carries its rule's basis (``ApiError.problem``), every validation error too
(``validation.py``), and the README's doc-versus-emulator table is generated from this table
(``mock-sprinto rules --markdown``), so the answer, the code and the docs cannot drift apart. A rule
names the entries of the error-code catalogue (``codes.py``) whose answers carry it; every entry
has its rule (``tests/test_readme.py``).
Where the docs are silent the choice is the one that fails locally rather than in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from . import codes
from .codes import ErrorCode
from .markdown import table_row

Basis = Literal["doc", "mock"]


@dataclass(frozen=True)
class Rule:
    topic: str
    basis: Basis
    says: str  # what the emulator does
    why: str  # doc: where Sprinto says it; mock: why this choice
    codes: tuple[ErrorCode, ...] = ()  # the catalogue entries whose answers carry this rule
    setting: str | None = None

    def basis_members(self) -> dict[str, Any]:
        """What an answer carries of this rule: ``{"basis": ..., "setting": ...}``."""
        members: dict[str, Any] = {"basis": self.basis}
        if self.setting is not None:
            members["setting"] = self.setting
        return members


RULES: tuple[Rule, ...] = (
    # ---- where Sprinto's contract speaks -----------------------------------------------------
    Rule(
        "paths and version",
        "doc",
        "`/{version}/integrations/{id}/...` under `/api/external/push`; only `v1`",
        "OpenAPI servers and the `version` parameter (enum `v1`)",
        (codes.UNSUPPORTED_VERSION,),
    ),
    Rule(
        "authentication",
        "doc",
        "the `api-key` header; missing or wrong: 401",
        "OpenAPI `ApiKeyAuth` (header `api-key`); every operation lists 401",
        (codes.MISSING_API_KEY, codes.INVALID_API_KEY),
    ),
    Rule(
        "one active session",
        "doc",
        "a second start while one is active: 409 naming `active_session_id`",
        "guide: 'returns 409 Conflict'",
        (codes.SESSION_ALREADY_ACTIVE,),
    ),
    Rule(
        "unknown session",
        "doc",
        "an unknown or foreign session: 404",
        "GET session and push list 404",
        (codes.SESSION_NOT_FOUND,),
    ),
    Rule(
        "push to an inactive session",
        "doc",
        "409 with the session's `state`",
        "push lists 409 'Session not active'",
        (codes.SESSION_NOT_ACTIVE,),
    ),
    Rule(
        "close",
        "doc",
        '`{"status": "apply" | "discard"}`; `status` is required; another state: 409',
        "session-management: 'status string · enum Required Default: apply'; 'Session not in a closable state'",
        (codes.INVALID_CLOSE_STATUS, codes.SESSION_NOT_CLOSABLE),
    ),
    Rule(
        "expired data",
        "doc",
        "an expired session can still be closed with apply; its staged pages apply",
        "guide: expired data is retained temporarily and can still be applied",
    ),
    Rule(
        "request size",
        "doc",
        "a body over 5 MB on the wire: 413; gzip and deflate bodies accepted",
        "guide: 'Max request size: e.g., 5 MB (compressed allowed)'",
        (codes.PAYLOAD_TOO_LARGE,),
        "max_request_bytes",
    ),
    Rule(
        "page validation",
        "doc",
        "any invalid record rejects the whole page: 400 with `validation_errors`, and an anomaly in the activity log",
        "push lists 400 'Validation error; batch rejected'",
        (codes.VALIDATION_FAILED,),
    ),
    Rule(
        "record fields",
        "doc",
        "records may carry fields beyond their type's known ones",
        "`EntitiesEnvelope` items are `additionalProperties: true`",
        (),
        "unknown_fields",
    ),
    Rule(
        "inactivity",
        "doc",
        "a session expires 60 minutes after the last request that addressed it",
        "guide: sessions expire after 60 minutes of inactivity",
        (),
        "inactivity_timeout_seconds",
    ),
    Rule(
        "processing",
        "doc",
        "a failed processing attempt is retried once, then the session is `failed`",
        "close: 'Processing retries once on Sprinto side'",
    ),
    Rule(
        "throttling",
        "doc",
        "429 with `Retry-After` (whole seconds) and `retry_after_seconds`",
        "operations list 429; guide: back off exponentially, respect Retry-After",
        (codes.RATE_LIMITED,),
        "rate_limit",
    ),
    Rule(
        "status and activity",
        "doc",
        "session counts by state; activity events, `page` ≥ 1, `page_size` 1–200",
        "models: `IntegrationStatusCounts`, `ActivityLogPage`; activity query parameters",
    ),
    # ---- where it is silent: the emulator's choices ------------------------------------------
    Rule(
        "close without status",
        "mock",
        "a close without `status` (no body, `{}`) or with `action`: 400 naming the fix",
        "a published client sends `action`; on Sprinto its discard may apply: fail here, not there",
        (),
        "lenient_close",
    ),
    Rule(
        "close answer", "mock", "close answers 202 with the Session", "the docs show no status code or body for close"
    ),
    Rule(
        "5 MB",
        "mock",
        "5 MB is 5,000,000 bytes, not 5 MiB",
        "the smaller reading fails locally first",
        (),
        "max_request_bytes",
    ),
    Rule(
        "decoded size",
        "mock",
        "a body over 25 MiB once decoded: 413",
        "bounds a compression bomb",
        (),
        "max_decoded_bytes",
    ),
    Rule(
        "page size",
        "mock",
        "more than 100 records a page: 400 `too_many_items`",
        "the docs call 100 'recommended'; strict fails locally first",
        (codes.TOO_MANY_ITEMS,),
        "max_page_items",
    ),
    Rule(
        "entity types a page",
        "mock",
        "a page naming more than 100 entity types, with records or without: 400 `too_many_entity_types`",
        "Sprinto's schema sets no bound; with 100 records a page none has records in more types, and a page "
        "naming a million empty ones must not cost a million of anything",
        (codes.TOO_MANY_ENTITY_TYPES,),
        "max_page_entity_types",
    ),
    Rule(
        "empty page",
        "mock",
        "a page with no records: 400 `empty_page`",
        "an empty page is a client bug; Sprinto's schema sets no minimum, so `accept` stages it",
        (codes.EMPTY_PAGE,),
        "empty_pages",
    ),
    Rule(
        "media type",
        "mock",
        "a body that is not JSON, or has no Content-Type: 415",
        "the docs' examples send application/json",
        (codes.UNSUPPORTED_MEDIA_TYPE,),
        "missing_content_type",
    ),
    Rule(
        "content coding",
        "mock",
        "a Content-Encoding other than gzip or deflate: 415",
        "the docs say 'compressed allowed' without naming codings",
        (codes.UNSUPPORTED_CONTENT_ENCODING,),
    ),
    Rule(
        "JSON",
        "mock",
        "not UTF-8 or not JSON, NaN, corrupt gzip or deflate, data after their end: 400 `malformed_body`",
        "what a strict parser would refuse; the answer says which",
        (codes.MALFORMED_BODY,),
    ),
    Rule(
        "repeated member names",
        "mock",
        "a member name repeated in one object of a page: 400 `malformed_body`",
        "a parser elsewhere would silently keep the last repeated name",
        (),
        "duplicate_names",
    ),
    Rule(
        "nesting",
        "mock",
        "a body nested deeper than 64 levels: 400 `malformed_body`",
        "bounds the work one body costs",
        (),
        "max_json_depth",
    ),
    Rule(
        "entity schemas",
        "mock",
        "records are checked against `schemas/entities/<Type>.json`: `User` requires "
        "`employeeId`, `firstName`, `lastName`, `workEmail`, `employmentStartDate`, `employmentType`",
        "the docs publish an example record, not a schema: a missing field fails locally first "
        "(loosen it with `--schemas`)",
    ),
    Rule(
        "page_hint",
        "mock",
        "`page_hint` (an integer or a string of ≤ 256 characters) sits beside `entities` "
        "and is echoed as `echoes.page_hint`",
        "the docs show only the echo",
    ),
    Rule(
        "entity types",
        "mock",
        "records of a type with no schema are accepted as any JSON objects",
        "the envelope allows any type",
        (),
        "unknown_entity_types",
    ),
    Rule(
        "apply",
        "mock",
        "accepted pages apply in order; each type present replaces its dataset; `x-key` de-duplicates",
        "the docs say staged pages apply, not how",
        (),
        "apply_mode",
    ),
    Rule(
        "processing time", "mock", "processing takes 2 s of emulator time", "not documented", (), "processing_seconds"
    ),
    Rule(
        "retention",
        "mock",
        "expired data is kept 24 h, then apply: 409 `expired_data_purged`",
        "the docs say 'temporarily'",
        (codes.EXPIRED_DATA_PURGED,),
        "expired_retention_seconds",
    ),
    Rule(
        "staging bound",
        "mock",
        "an integration staging over 1 GiB: 507",
        "keeps memory finite",
        (codes.STAGING_LIMIT_REACHED,),
        "max_staged_bytes",
    ),
    Rule(
        "memory budget",
        "mock",
        "all integrations together holding over 2 GiB of staged and applied data: 507",
        "an emulator left running on a laptop must not exhaust it",
        (codes.MEMORY_BUDGET_EXCEEDED,),
        "memory_budget_bytes",
    ),
    Rule(
        "hostile headers",
        "mock",
        "an `api-key` sent twice or not valid UTF-8: 401; a Transfer-Encoding other than chunked: 400",
        "which one would be meant? refused rather than guessed",
        (codes.MALFORMED_API_KEY, codes.UNSUPPORTED_TRANSFER_ENCODING),
    ),
    Rule(
        "connections",
        "mock",
        "deadlines for headers and bodies (408), parser refusals as problem objects, "
        "a client that hangs up mid-upload journaled 499, shutdown answering what is in flight (503)",
        "a server left running on a laptop or a CI runner must stay answerable",
        (
            codes.REQUEST_TIMEOUT,
            codes.MALFORMED_REQUEST,
            codes.REQUEST_HEADER_FIELDS_TOO_LARGE,
            codes.CLIENT_DISCONNECTED,
            codes.SHUTTING_DOWN,
        ),
        "header_timeout_seconds",
    ),
    Rule(
        "connection cap",
        "mock",
        "one connection over the cap is answered 503 with `Retry-After` and closed",
        "connections leaked by a client (or a flood of them) must not use up the process's descriptors",
        (codes.TOO_MANY_CONNECTIONS,),
        "max_connections",
    ),
    Rule(
        "other sites",
        "mock",
        "a control-plane request a page on another site sent: 403 (no setting turns this off)",
        "any web page the developer has open could otherwise drive the emulator",
        (codes.CROSS_SITE_REQUEST,),
    ),
    Rule(
        "host names",
        "mock",
        "a Host name not served, in the Host header or an absolute-form target: 421",
        "a web page could otherwise read the emulator through DNS rebinding",
        (codes.HOST_NOT_ALLOWED,),
        "allowed_hosts",
    ),
    Rule(
        "integrations",
        "mock",
        "open mode: an unknown integration is created on its first request, bound to its key",
        "no tenant exists locally until a test makes one",
        (),
        "auto_create_integrations",
    ),
    Rule(
        "integration limit",
        "mock",
        "a new integration beyond 10,000 held: 403 `integration_limit_reached`",
        "a suite making an integration per test, run again and again, must not grow the emulator without end",
        (codes.INTEGRATION_LIMIT_REACHED,),
        "max_integrations",
    ),
    Rule(
        "parameters",
        "mock",
        "a bad query or body parameter (e.g. `page_size` 201, or `page` sent twice): 400 `invalid_parameter`",
        "the docs list only 200 for status and activity",
        (codes.INVALID_PARAMETER,),
    ),
    Rule(
        "error bodies",
        "mock",
        "every error is an RFC 9457 problem object with a stable `code`",
        "the docs show no error body",
        (codes.NOT_FOUND, codes.METHOD_NOT_ALLOWED, codes.BAD_REQUEST, codes.HTTP_ERROR),
    ),
    Rule(
        "control plane",
        "mock",
        "`/_mock`: clocks, scenarios, settings, views; optional admin token",
        "the emulator's own API",
        (
            codes.INTEGRATION_NOT_FOUND,
            codes.ENTITY_TYPE_NOT_FOUND,
            codes.INTEGRATION_EXISTS,
            codes.CLOCK_BACKWARDS,
            codes.CLOCK_STEP_TOO_LARGE,
            codes.CLOCK_OUT_OF_RANGE,
            codes.INVALID_SCENARIO,
            codes.ADMIN_TOKEN_REQUIRED,
        ),
    ),
    Rule(
        "state bundles",
        "mock",
        "one integration or the whole emulator exported as one versioned file and imported whole "
        "(`/_mock/state`, `serve --state`, `--persist`); a damaged bundle or another version: 400, nothing changed",
        "a failing test's run carried home and opened again, answering as it would have",
        (codes.INVALID_STATE, codes.UNSUPPORTED_STATE_VERSION, codes.PERSISTENCE_OFF, codes.STATE_NOT_SAVED),
        "max_state_bytes",
    ),
    Rule(
        "verification",
        "mock",
        "`POST /_mock/integrations/{id}/verify`: expectations on the journal (counts, a sequence, nothing "
        "unexpected); unmet: 422 with the diff, not understood: 400",
        "tests in any language check what their client sent without parsing the journal",
        (codes.INVALID_EXPECTATIONS, codes.EXPECTATIONS_NOT_MET),
    ),
    Rule(
        "judging captured traffic",
        "mock",
        "`mock-sprinto judge FILE.har` and `POST /_mock/judge`: the client report on a HAR 1.2 capture; "
        "what a HAR cannot show is listed as not judged",
        "traffic with the real Sprinto is judged by the same checks as traffic with the emulator",
        (codes.INVALID_HAR, codes.INTEGRATION_NOT_IN_HAR),
        "max_har_bytes",
    ),
    Rule(
        "Prefer header",
        "mock",
        "`Prefer: code=NNN[, retry_after=N]` or `Prefer: fault=reset|close|truncated_body|malformed_body` "
        "forces that one request's answer (`Preference-Applied` says so); a value it cannot use: 400",
        "poking by hand, and clients that cannot reach /_mock",
        (codes.INVALID_PREFER,),
        "prefer_header",
    ),
    Rule(
        "injected faults",
        "mock",
        "a scenario rule's status, body or broken connection",
        "a test asked for it",
        (
            codes.INJECTED_FAULT,
            codes.FORBIDDEN,
            codes.CONFLICT,
            codes.BAD_GATEWAY,
            codes.SERVICE_UNAVAILABLE,
            codes.GATEWAY_TIMEOUT,
        ),
    ),
    Rule(
        "emulator bug",
        "mock",
        "500 `internal_error`: a bug in the emulator, logged with its traceback",
        "never caused by client input",
        (codes.INTERNAL_ERROR,),
    ),
)

BY_CODE: dict[str, Rule] = {error.code: rule for rule in RULES for error in rule.codes}
# Validation errors name the JSON Schema keyword that failed: which rule that is depends on where.
ENVELOPE = next(rule for rule in RULES if rule.topic == "page validation")
RECORDS = next(rule for rule in RULES if rule.topic == "entity schemas")
PAGE_HINT = next(rule for rule in RULES if rule.topic == "page_hint")
ENTITY_TYPES = next(rule for rule in RULES if rule.topic == "entity types")
PAGE_SIZE = BY_CODE[codes.TOO_MANY_ITEMS.code]
PAGE_TYPES = BY_CODE[codes.TOO_MANY_ENTITY_TYPES.code]
EMPTY_PAGE = BY_CODE[codes.EMPTY_PAGE.code]
UNKNOWN_FIELDS_STRICT = Rule(
    "record fields (strict)",
    "mock",
    "a field beyond the type's known ones: 400",
    "opt-in strict setting",
    (),
    "unknown_fields",
)


def basis_of(code: str) -> dict[str, Any]:
    """The basis members an error with this code carries (``mock`` for a code not in the table)."""
    rule = BY_CODE.get(code)
    return rule.basis_members() if rule is not None else {"basis": "mock"}


def markdown_table() -> str:
    """The README's doc-versus-emulator table."""
    rows = ["| rule | basis | what the emulator does | why | setting | codes |", "|---|---|---|---|---|---|"]
    for rule in RULES:
        setting = f"`{rule.setting}`" if rule.setting else ""
        answered = ", ".join(f"`{error.code}`" for error in rule.codes)
        rows.append(table_row(rule.topic, rule.basis, rule.says, rule.why, setting, answered))
    return "\n".join(rows)


def rules_text() -> str:
    """``mock-sprinto rules``: one rule a line, for a terminal."""
    lines = []
    for rule in RULES:
        setting = f"  (setting {rule.setting})" if rule.setting else ""
        lines.append(f"[{rule.basis}] {rule.topic}: {rule.says}{setting}")
    return "\n".join(lines)
