"""One checker for every response the HTTP tests receive: does it match schemas/openapi.yaml, and
does a vendor-API answer decode with Sprinto's own types (``vendor_models.py``, issue 9)?

``watch(app)`` hooks the app's ``on_response_prepare`` signal, so it sees the final status,
headers and body of every response the server sends, whoever made it (handler, middleware,
aiohttp's own 404/405), and records each contract violation instead of raising (raising inside
the server would only show up as a confusing connection error in the test). The ``serve``
fixture asserts the list is empty when the test ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mock_sprinto.http.common import API_PREFIX, CALL, EMULATOR
from mock_sprinto.http.openapi import build_document
from mock_sprinto.payload import json_pointer
from mock_sprinto.service import Emulator

from . import vendor_models as sprinto

DOC_URI = "urn:mock-sprinto:openapi"
_FORMATS = FormatChecker()

# What a client whose models are generated from Sprinto's published schema decodes each vendor-API
# answer as. The push 400 is one only when it carries `validation_errors` (a rejected page: both a
# problem object and a BatchIngestResponse); close's body is not in Sprinto's docs, the emulator
# answers a Session (shared/API.md).
_VENDOR = API_PREFIX + "/{version}/integrations/{integration_id}"
VENDOR_TYPES: dict[tuple[str, str, int], type[BaseModel]] = {
    ("POST", _VENDOR + "/sessions", 201): sprinto.Session,
    ("GET", _VENDOR + "/sessions/{session_id}", 200): sprinto.SessionStatus,
    ("POST", _VENDOR + "/sessions/{session_id}/entities", 202): sprinto.BatchIngestResponse,
    ("POST", _VENDOR + "/sessions/{session_id}/entities", 400): sprinto.BatchIngestResponse,
    ("POST", _VENDOR + "/sessions/{session_id}/close", 202): sprinto.Session,
    ("GET", _VENDOR + "/status", 200): sprinto.IntegrationStatusCounts,
    ("GET", _VENDOR + "/activity", 200): sprinto.ActivityLogPage,
}
_SHOWN = 10  # decoding errors listed per response


def vendor_type_problems(method: str, template: str | None, status: int, body: bytes | None, data: Any) -> list[str]:
    """Why Sprinto's typed model of this vendor-API answer cannot decode it (empty when it does, or
    when the answer has no vendor type). Each problem names the field's path and the value sent."""
    model = VENDOR_TYPES.get((method, template or "", status))
    if model is None or body is None:
        return []
    if status == 400 and not (isinstance(data, dict) and "validation_errors" in data):
        return []  # a 400 that is only a problem object (malformed body, too many items, ...)
    try:
        model.model_validate_json(body)  # strict JSON mode: the models' validators are built once, at import
    except ValidationError as error:
        found = error.errors(include_url=False)
        shown = [
            f"Sprinto's {model.__name__} does not decode /{'/'.join(str(p) for p in e['loc'])}: {e['msg']}"
            f" (got {e['input']!r:.120})"
            for e in found[:_SHOWN]
        ]
        if len(found) > _SHOWN:
            shown.append(f"Sprinto's {model.__name__} does not decode it: {len(found) - _SHOWN} more errors")
        return shown
    return []


@dataclass
class Contract:
    """The served document of one emulator, with compiled response validators."""

    doc: dict[str, Any]
    _validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    @classmethod
    def of(cls, emulator: Emulator) -> Contract:
        return cls(build_document(emulator.registry, emulator.settings))

    def __post_init__(self) -> None:
        self._registry: Registry[Any] = Registry().with_resource(
            DOC_URI, Resource.from_contents(self.doc, default_specification=DRAFT202012)
        )

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator(
                {"$ref": f"{DOC_URI}#{pointer}"}, registry=self._registry, format_checker=_FORMATS
            )
            self._validators[pointer] = validator
        return validator

    def check(
        self,
        method: str,
        template: str | None,
        status: int,
        headers: dict[str, str],
        body: bytes | None,
        *,
        scenario_rule: str | None = None,
        streamed: bool = False,
    ) -> list[str]:
        """Every way this response breaks the contract (empty when it conforms). A ``streamed``
        answer (a large control-plane read written a chunk at a time) has no body to see here:
        its status and headers are checked; the tests that read it check what it holds."""
        where = f"{method} {template or '(no route)'} → {status}"
        problems: list[str] = []
        request_id = headers.get("X-Request-Id")
        if request_id is None or not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", request_id):
            problems.append(f"{where}: X-Request-Id missing or malformed: {request_id!r}")
        if scenario_rule is not None:
            return problems  # a scenario may answer anything it was told to; only the envelope is ours
        if status == 499:
            return problems  # client_disconnected: the client left, nothing reaches it (the journal's record)
        data: Any = None
        if body:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                data = None
        problems.extend(f"{where}: {p}" for p in vendor_type_problems(method, template, status, body, data))
        if status >= 400:
            is_problem = isinstance(data, dict) and data.get("status") == status and isinstance(data.get("code"), str)
            if not is_problem and method != "HEAD":  # a HEAD answer has no body to check
                problems.append(f"{where}: an error must be a problem object with its status and code: {body!r:.200}")
        operation = None
        if template is not None:
            operation = self.doc["paths"].get(template, {}).get(method.lower())
            if operation is None and status not in (404, 405):
                problems.append(f"{where}: the route serves this method but schemas/openapi.yaml does not document it")
        if operation is None:
            # Unknown route (404) or method (405): the envelope's generic answers.
            expected = {404: "not_found", 405: "method_not_allowed"}.get(status)
            if method != "HEAD" and (expected is None or not isinstance(data, dict) or data.get("code") != expected):
                problems.append(f"{where}: expected a {expected or '404/405'} problem, got {body!r:.300}")
            if status == 405 and "Allow" not in headers:
                problems.append(f"{where}: a 405 must say Allow")
            return problems
        responses = operation["responses"]
        key = str(status)
        if key not in responses:
            problems.append(f"{where}: status {status} is not documented (documented: {', '.join(responses)})")
            return problems
        base = json_pointer(("paths", template, method.lower(), "responses", key))
        response = self._resolve(responses[key])
        if "$ref" in responses[key]:
            base = responses[key]["$ref"].removeprefix("#")
        for name, declared in response.get("headers", {}).items():
            spec = self._resolve(declared)
            value = headers.get(name)
            if value is None:
                if spec.get("required"):
                    problems.append(f"{where}: required header {name} is missing")
                continue
            candidate: Any = value
            if spec.get("schema", {}).get("type") == "integer":
                candidate = int(value) if re.fullmatch(r"-?\d+", value) else value
            declared_at = base + json_pointer(("headers", name))
            spec_pointer = declared["$ref"].removeprefix("#") if "$ref" in declared else declared_at
            errors = self._validator(spec_pointer + "/schema").iter_errors(candidate)
            problems.extend(f"{where}: header {name}={value!r}: {e.message}" for e in errors)
        content = response.get("content")
        if streamed:
            return problems
        if not content:
            if body:
                problems.append(f"{where}: documented without a body, but sent {len(body)} bytes")
            return problems
        media = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media not in content:
            problems.append(f"{where}: Content-Type {media!r} is not documented ({', '.join(content)})")
            return problems
        if media != "application/json":
            return problems
        if data is None and body != b"null":
            problems.append(f"{where}: the body is not JSON: {body!r:.300}")
            return problems
        pointer = base + json_pointer(("content", media, "schema"))
        for error in self._validator(pointer).iter_errors(data):
            at = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{where}: body at /{at}: {error.message[:300]}")
        return problems


@dataclass
class Watch:
    """Violations seen on one app; ``responses`` counts what was checked (a watch that saw
    nothing proves nothing)."""

    contract: Contract
    violations: list[str] = field(default_factory=list)
    responses: int = 0


WATCH: web.AppKey[Watch] = web.AppKey("contract_watch", Watch)


def watch(app: web.Application) -> Watch:
    """Check every response ``app`` sends against the contract of its emulator."""
    seen = Watch(Contract.of(app[EMULATOR]))
    app[WATCH] = seen

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        info = request.match_info
        route = info.route
        template: str | None = None
        if info.http_exception is None or info.http_exception.status == 405:
            resource = route.resource
            template = resource.canonical if resource is not None else None
        if info.http_exception is not None and info.http_exception.status == 404:
            template = None
        body = response.body if isinstance(response, web.Response) else None
        raw = body if isinstance(body, bytes) else None
        seen.responses += 1
        seen.violations.extend(
            seen.contract.check(
                request.method,
                template,
                response.status,
                dict(response.headers),
                raw,
                scenario_rule=call.learned.rule if (call := request.get(CALL)) is not None else None,
                streamed=not isinstance(response, web.Response),
            )
        )

    app.on_response_prepare.append(on_prepare)
    return seen
