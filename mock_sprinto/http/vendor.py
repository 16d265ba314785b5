"""Part A: Sprinto's Custom Integration Entities Sync API (v1), served under /api/external/push."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import HttpVersion11, hdrs, web

from ..errors import ApiError, not_found
from ..payload import parse_json
from ..service import Wire
from ..store import Tenant
from .app import (
    API_PREFIX,
    EMULATOR,
    OPERATION,
    RATE_LIMIT_HEADERS,
    REQUEST_ID,
    RULE,
    SESSION,
    STARTED,
    TENANT,
    json_response,
)
from .body import read_body
from .faults import injected_response

Operation = Callable[[], Awaitable[web.Response]]

SUPPORTED_VERSIONS = ("v1",)
BASE = API_PREFIX + "/{version}/integrations/{integration_id}"


def _enter(request: web.Request, operation: str) -> Tenant:
    """What every vendor request does first: version, api-key, tenant, rate limit."""
    request[OPERATION] = operation
    version = request.match_info["version"]
    if version not in SUPPORTED_VERSIONS:
        raise not_found(
            "unsupported_version",
            f"API version {version[:40]!r} is not served; use {', '.join(SUPPORTED_VERSIONS)}",
            supported_versions=list(SUPPORTED_VERSIONS),
        )
    emulator = request.app[EMULATOR]
    integration_id = request.match_info["integration_id"]
    tenant = emulator.authenticate(integration_id, request.headers.get("api-key"))
    request[TENANT] = tenant.id
    if "session_id" in request.match_info:
        request[SESSION] = request.match_info["session_id"]
    limits = emulator.throttle(tenant, operation)
    if limits:
        request[RATE_LIMIT_HEADERS] = limits
    return tenant


async def _optional_json(request: web.Request, tenant: Tenant) -> Any:
    """A small optional JSON body (start, close): None when there is none."""
    if not request.body_exists:
        return None
    body = await read_body(request, tenant.settings)
    if not body.decoded.strip():
        return None
    return parse_json(
        body.decoded, tenant.settings.max_json_depth, reject_repeated_names=tenant.settings.duplicate_names == "reject"
    )


async def _with_faults(
    request: web.Request,
    tenant: Tenant,
    operation: str,
    run: Operation,
    entity_types: frozenset[str] = frozenset(),
    page_hint: int | str | None = None,
) -> web.StreamResponse:
    """Run the operation under the tenant's scenario: delay, lifecycle actions, and an answer
    injected before the operation (it never runs) or after it (it ran; the client never knows)."""
    emulator = request.app[EMULATOR]
    session_id = request.match_info.get("session_id")
    decision = emulator.decide(tenant, operation, session_id, entity_types, page_hint)
    if decision is None:
        return await run()
    request[RULE] = ", ".join(decision.rules)
    if decision.delay_seconds:
        await asyncio.sleep(decision.delay_seconds)
    if decision.lifecycle:
        emulator.apply_lifecycle(tenant, session_id, decision.lifecycle)
    if not decision.replaces_response:
        return await run()
    if decision.phase == "before":
        return injected_response(request, decision, None)
    try:
        real = await run()
    except ApiError as error:
        real = json_response(error.problem(), error.status, dict(error.headers))
    return injected_response(request, decision, real)


async def start_session(request: web.Request) -> web.StreamResponse:
    tenant = _enter(request, "start_session")
    body = await _optional_json(request, tenant)

    async def run() -> web.Response:
        session = request.app[EMULATOR].start_session(tenant, body)
        request[SESSION] = session.id
        return json_response(session.public(), 201)

    return await _with_faults(request, tenant, "start_session", run)


async def get_session(request: web.Request) -> web.StreamResponse:
    tenant = _enter(request, "get_session")

    async def run() -> web.Response:
        session = request.app[EMULATOR].addressed_session(tenant, request.match_info["session_id"])
        return json_response(session.public())

    return await _with_faults(request, tenant, "get_session", run)


async def push_expect(request: web.Request) -> None:
    """Invite the body ('100 Continue') only when it will be read; otherwise stay silent so
    the handler's final answer (404, 409, 413, ...) reaches the client before it sends anything."""
    if request.version != HttpVersion11 or request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
        return
    emulator = request.app[EMULATOR]
    tenant = emulator.tenants.get(request.match_info["integration_id"])
    limit = (tenant.settings if tenant else emulator.settings).max_request_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        return
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0


async def push_page(request: web.Request) -> web.StreamResponse:
    tenant = _enter(request, "push_page")
    emulator = request.app[EMULATOR]
    session_id = request.match_info["session_id"]
    emulator.push_target(tenant, session_id)
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower() or "identity"
    wire = Wire(request[REQUEST_ID], request.content_length or 0, 0, encoding, request[STARTED])
    try:
        body = await read_body(request, tenant.settings)
    except ApiError as error:
        emulator.reject_push(tenant, session_id, wire, error)
        raise
    wire.wire_bytes = len(body.wire)
    wire.decoded_bytes = len(body.decoded)
    wire.encoding = body.encoding
    entity_types, page_hint = _page_facts(body.decoded) if tenant.faults.needs_body else (frozenset(), None)

    async def run() -> web.Response:
        return json_response(emulator.push_page(tenant, session_id, body.decoded, wire), 202)

    return await _with_faults(request, tenant, "push_page", run, entity_types, page_hint)


def _page_facts(decoded: bytes) -> tuple[frozenset[str], int | str | None]:
    """Entity types and page_hint of a page, for rules that match on them (best effort)."""
    try:
        page = orjson.loads(decoded)
    except orjson.JSONDecodeError:
        return frozenset(), None
    if not isinstance(page, dict):
        return frozenset(), None
    entities = page.get("entities")
    hint = page.get("page_hint")
    types = frozenset(entities) if isinstance(entities, dict) else frozenset()
    return types, hint if isinstance(hint, (int, str)) and not isinstance(hint, bool) else None


async def close_session(request: web.Request) -> web.StreamResponse:
    tenant = _enter(request, "close_session")
    body = await _optional_json(request, tenant)

    async def run() -> web.Response:
        session = request.app[EMULATOR].close_session(tenant, request.match_info["session_id"], body)
        return json_response(session.public(), 202)

    return await _with_faults(request, tenant, "close_session", run)


async def integration_status(request: web.Request) -> web.StreamResponse:
    tenant = _enter(request, "integration_status")

    async def run() -> web.Response:
        return json_response(request.app[EMULATOR].integration_status(tenant))

    return await _with_faults(request, tenant, "integration_status", run)


async def activity(request: web.Request) -> web.StreamResponse:
    tenant = _enter(request, "activity")
    query = request.query

    async def run() -> web.Response:
        emulator = request.app[EMULATOR]
        return json_response(emulator.activity(tenant, query.get("since"), query.get("page"), query.get("page_size")))

    return await _with_faults(request, tenant, "activity", run)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_post(BASE + "/sessions", start_session)
    router.add_get(BASE + "/sessions/{session_id}", get_session, allow_head=False)
    router.add_route("POST", BASE + "/sessions/{session_id}/entities", push_page, expect_handler=push_expect)
    router.add_post(BASE + "/sessions/{session_id}/close", close_session)
    router.add_get(BASE + "/status", integration_status, allow_head=False)
    router.add_get(BASE + "/activity", activity, allow_head=False)


__all__ = ["add_routes"]
