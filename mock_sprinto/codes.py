"""The catalogue of error codes: every ``code`` the emulator answers, with its HTTP status and what it means.

An error is raised from an entry, never from a spelled-out string (``ApiError.of(SESSION_NOT_FOUND,
detail)``), so a code is written once, here; ``rules.py`` files each entry under the rule that
says whether Sprinto's docs say so or the emulator chose (``tests/test_readme.py`` checks that every
entry has its rule, and that no error is raised with a literal code).

This module imports nothing of the package, so every layer can use it: the domain, ``http/``,
the fault engine's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One ``code`` of a problem object, the status it is answered with, and what it means.

    ``status`` is None for the two codes whose status is that of what they stand for: a refusal
    of aiohttp's (``http_error``) and a scenario rule's own status (``injected_fault``)."""

    code: str
    status: int | None
    meaning: str


# ---- the vendor API: what Sprinto's contract lists --------------------------------------------
UNSUPPORTED_VERSION = ErrorCode("unsupported_version", 404, "the path names an API version other than v1")
MISSING_API_KEY = ErrorCode("missing_api_key", 401, "no `api-key` header")
INVALID_API_KEY = ErrorCode("invalid_api_key", 401, "the `api-key` is not the integration's (or no such integration)")
SESSION_ALREADY_ACTIVE = ErrorCode("session_already_active", 409, "a start while the integration has an active session")
SESSION_NOT_FOUND = ErrorCode("session_not_found", 404, "no such session for this integration")
SESSION_NOT_ACTIVE = ErrorCode("session_not_active", 409, "a push to a session that is not active")
SESSION_NOT_CLOSABLE = ErrorCode("session_not_closable", 409, "a close of a session that is neither active nor expired")
INVALID_CLOSE_STATUS = ErrorCode("invalid_close_status", 400, "a close without `status` apply or discard")
PAYLOAD_TOO_LARGE = ErrorCode("payload_too_large", 413, "a body over the size limit, on the wire or once decoded")
VALIDATION_FAILED = ErrorCode("validation_failed", 400, "an invalid record or envelope: the whole page is rejected")
RATE_LIMITED = ErrorCode("rate_limited", 429, "throttled: retry after `Retry-After` seconds")

# ---- the vendor API: the emulator's choices where the contract is silent ----------------------
TOO_MANY_ITEMS = ErrorCode("too_many_items", 400, "a page with more records than `max_page_items`")
TOO_MANY_ENTITY_TYPES = ErrorCode(
    "too_many_entity_types", 400, "a page naming more entity types than `max_page_entity_types`, empty ones too"
)
EMPTY_PAGE = ErrorCode("empty_page", 400, "a page with no records")
UNSUPPORTED_MEDIA_TYPE = ErrorCode("unsupported_media_type", 415, "a body that is not JSON, or has no Content-Type")
UNSUPPORTED_CONTENT_ENCODING = ErrorCode(
    "unsupported_content_encoding", 415, "a Content-Encoding other than gzip or deflate"
)
UNSUPPORTED_TRANSFER_ENCODING = ErrorCode(
    "unsupported_transfer_encoding", 400, "a Transfer-Encoding other than chunked"
)
MALFORMED_BODY = ErrorCode("malformed_body", 400, "a body that is not acceptable JSON, or corrupt gzip or deflate")
MALFORMED_API_KEY = ErrorCode("malformed_api_key", 401, "an `api-key` sent twice or not UTF-8 text")
EXPIRED_DATA_PURGED = ErrorCode("expired_data_purged", 409, "an apply of an expired session whose data was purged")
STAGING_LIMIT_REACHED = ErrorCode("staging_limit_reached", 507, "the integration stages more than `max_staged_bytes`")
MEMORY_BUDGET_EXCEEDED = ErrorCode(
    "memory_budget_exceeded", 507, "all integrations together hold more than `memory_budget_bytes`"
)
INVALID_PARAMETER = ErrorCode("invalid_parameter", 400, "a bad query or body parameter, or one sent twice")
INVALID_PREFER = ErrorCode("invalid_prefer", 400, "a `Prefer` header the emulator cannot carry out")

# ---- connections and callers -----------------------------------------------------------------
REQUEST_TIMEOUT = ErrorCode("request_timeout", 408, "headers or body not in within their deadline")
TOO_MANY_CONNECTIONS = ErrorCode("too_many_connections", 503, "more open connections than `max_connections`")
SHUTTING_DOWN = ErrorCode("shutting_down", 503, "the server is stopping: the request was not finished")
MALFORMED_REQUEST = ErrorCode("malformed_request", 400, "a request aiohttp's HTTP parser refuses")
REQUEST_HEADER_FIELDS_TOO_LARGE = ErrorCode(
    "request_header_fields_too_large", 431, "a request line or headers over the parser's limits"
)
CLIENT_DISCONNECTED = ErrorCode(
    "client_disconnected", 499, "the client hung up before its body arrived (journal only: nothing is sent)"
)
HOST_NOT_ALLOWED = ErrorCode("host_not_allowed", 421, "a Host name the emulator does not serve")
CROSS_SITE_REQUEST = ErrorCode("cross_site_request", 403, "a control-plane request a page on another site made")
ADMIN_TOKEN_REQUIRED = ErrorCode("admin_token_required", 401, "a control-plane request without the admin token")

# ---- the control plane -----------------------------------------------------------------------
INTEGRATION_EXISTS = ErrorCode("integration_exists", 409, "a create of an integration that exists")
INTEGRATION_NOT_FOUND = ErrorCode(
    "integration_not_found", 404, "a control-plane read of an integration the emulator does not hold"
)
ENTITY_TYPE_NOT_FOUND = ErrorCode(
    "entity_type_not_found", 404, "a records read of a type neither applied in the integration nor given a schema"
)
INTEGRATION_LIMIT_REACHED = ErrorCode(
    "integration_limit_reached", 403, "the emulator already holds `max_integrations` integrations"
)
INVALID_SCENARIO = ErrorCode("invalid_scenario", 400, "a scenario with problems, each listed")
CLOCK_BACKWARDS = ErrorCode("clock_backwards", 409, "a clock set to a time before its own")
CLOCK_STEP_TOO_LARGE = ErrorCode("clock_step_too_large", 409, "a clock set more than ten years ahead")
CLOCK_OUT_OF_RANGE = ErrorCode("clock_out_of_range", 409, "a clock moved past the year 9999")
INVALID_STATE = ErrorCode(
    "invalid_state", 400, "a state bundle that is damaged or inconsistent: refused whole, each problem listed"
)
UNSUPPORTED_STATE_VERSION = ErrorCode(
    "unsupported_state_version", 400, "a state bundle of another format or version than this emulator reads"
)
PERSISTENCE_OFF = ErrorCode("persistence_off", 409, "a save asked of a server started without `--persist`")
STATE_NOT_SAVED = ErrorCode("state_not_saved", 507, "the state could not be written to the `--persist` file")
INVALID_EXPECTATIONS = ErrorCode(
    "invalid_expectations", 400, "verification expectations that are not understood, each listed"
)
EXPECTATIONS_NOT_MET = ErrorCode(
    "expectations_not_met", 422, "the journal does not hold the requests expected (a diff shows it)"
)
INVALID_HAR = ErrorCode("invalid_har", 400, "a HAR document that cannot be read as HAR 1.2")
INTEGRATION_NOT_IN_HAR = ErrorCode(
    "integration_not_in_har", 404, "a HAR judged for one integration holds none of its requests (those it holds named)"
)

# ---- routing, and what an injected status says unless its rule names a code -------------------
NOT_FOUND = ErrorCode("not_found", 404, "no such endpoint")
METHOD_NOT_ALLOWED = ErrorCode("method_not_allowed", 405, "a method the endpoint does not serve (`Allow` lists them)")
BAD_REQUEST = ErrorCode("bad_request", 400, "a request aiohttp refused with 400")
HTTP_ERROR = ErrorCode("http_error", None, "another refusal of aiohttp's, with its status")
INTERNAL_ERROR = ErrorCode("internal_error", 500, "a bug in the emulator, logged with its traceback")
FORBIDDEN = ErrorCode("forbidden", 403, "an injected 403")
CONFLICT = ErrorCode("conflict", 409, "an injected 409")
BAD_GATEWAY = ErrorCode("bad_gateway", 502, "an injected 502")
SERVICE_UNAVAILABLE = ErrorCode("service_unavailable", 503, "an injected 503")
GATEWAY_TIMEOUT = ErrorCode("gateway_timeout", 504, "an injected 504")
INJECTED_FAULT = ErrorCode("injected_fault", None, "an injected status no other code stands for")

# Every entry above, in the order written: collected rather than listed again, so an entry cannot
# be defined and left out of the catalogue.
CATALOGUE: tuple[ErrorCode, ...] = tuple(value for value in dict(globals()).values() if isinstance(value, ErrorCode))
