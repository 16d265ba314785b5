"""``create_app``: the aiohttp application around one Emulator, plus the runner options it needs."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from ..errors import ApiError
from ..journal import JournalEntry
from ..service import Emulator

log = logging.getLogger("mock_sprinto")

EMULATOR: web.AppKey[Emulator] = web.AppKey("emulator", Emulator)

# Bodies are decoded by mock_sprinto.http.body under its own limits, never by aiohttp.
RUNNER_KWARGS: dict[str, Any] = {"auto_decompress": False}

API_PREFIX = "/api/external/push"
CONTROL_PREFIX = "/_mock"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Request ids need to be unique, not secret: a per-process random prefix and a counter, so no
# request pays for a getrandom() system call.
_ID_PREFIX = secrets.token_hex(6)
_REQUEST_NUMBERS = itertools.count(1)

# Request-scoped facts the handlers leave for the journal.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
OPERATION: web.RequestKey[str] = web.RequestKey("operation", str)
TENANT: web.RequestKey[str] = web.RequestKey("integration_id", str)
SESSION: web.RequestKey[str] = web.RequestKey("session_id", str)
RULE: web.RequestKey[str] = web.RequestKey("rule", str)
STARTED: web.RequestKey[float] = web.RequestKey("started", float)
TRANSPORT: web.RequestKey[str] = web.RequestKey("transport", str)
RATE_LIMIT_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("rate_limit_headers", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers, content_type="application/json")


def problem_response(error: ApiError) -> web.Response:
    response = json_response(error.problem(), error.status, dict(error.headers))
    if error.status == 413:
        # The rest of an oversized body is drained (bounded) by aiohttp's lingering read, so the
        # client reads this answer instead of a reset; the connection is not reused afterwards.
        response.force_close()
    return response


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request"}


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> ApiError:
    code = _HTTP_CODES.get(exc.status, "http_error")
    if exc.status == 404:
        detail = f"no such endpoint: {request.method} {request.path[:200]}"
    elif exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        detail = f"{request.method} is not allowed here; allowed: {allowed}"
    else:
        detail = exc.reason
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return ApiError(exc.status, code, detail, headers=headers)


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, uniform error bodies, the journal, and a catch-all that turns bugs into 500s."""
    request[STARTED] = time.perf_counter()
    client_id = request.headers.get("X-Request-Id", "")
    request_id = client_id if _CLIENT_REQUEST_ID.match(client_id) else f"req_{_ID_PREFIX}{next(_REQUEST_NUMBERS):08x}"
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except ApiError as error:
        response = problem_response(error)
    except web.HTTPException as exc:
        response = problem_response(_from_http_exception(exc, request))
    except Exception:
        log.exception("internal error on %s %s (request %s)", request.method, request.path, request_id)
        response = problem_response(
            ApiError(500, "internal_error", f"the emulator failed on this request; see its log (request {request_id})")
        )
    response.headers["X-Request-Id"] = request_id
    if RATE_LIMIT_HEADERS in request and not response.prepared:
        response.headers.update(request[RATE_LIMIT_HEADERS])
    if request.path.startswith(API_PREFIX):  # the vendor API only: not /_mock, not a favicon
        _journal(request, response)
    return response


def _journal(request: web.Request, response: web.StreamResponse) -> None:
    emulator = request.app[EMULATOR]
    integration_id = request.get(TENANT)
    tenant = emulator.tenants.get(integration_id) if integration_id else None
    now = tenant.now() if tenant else emulator.clock.now()
    code = None
    status = response.status
    if TRANSPORT in request:
        code = f"transport_{request[TRANSPORT]}"
        status = 0 if request[TRANSPORT] in ("reset", "close") else status
    elif response.status >= 400 and isinstance(response, web.Response) and isinstance(response.body, bytes):
        try:
            code = orjson.loads(response.body).get("code")
        except (orjson.JSONDecodeError, AttributeError):
            code = None
    emulator.journal.add(
        JournalEntry(
            request_id=request[REQUEST_ID],
            at=now,
            method=request.method,
            path=request.path[:300],
            operation=request.get(OPERATION, "unknown"),
            status=status,
            code=code,
            latency_ms=round((time.perf_counter() - request[STARTED]) * 1000, 3),
            integration_id=integration_id,
            session_id=request.get(SESSION),
            bytes_in=request.content_length,
            rule=request.get(RULE),
        )
    )


def admin_guard(token: str) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            sent = request.headers.get("Authorization", "")
            if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                raise ApiError(
                    401,
                    "admin_token_required",
                    "the control API needs 'Authorization: Bearer <admin token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await handler(request)

    return guard


def create_app(emulator: Emulator) -> web.Application:
    """The whole server: vendor API under /api/external/push, control plane under /_mock."""
    from . import control, openapi, vendor

    token = emulator.settings.admin_token
    # The guard only exists when there is a token: one middleware less on every vendor request.
    app = web.Application(middlewares=[envelope, admin_guard(token)] if token else [envelope])
    app[EMULATOR] = emulator
    vendor.add_routes(app)
    control.add_routes(app)
    openapi.add_routes(app)
    return app


class EmulatorTestServer(TestServer):
    """aiohttp's TestServer ignores runner options given to its constructor; this one applies
    RUNNER_KWARGS so an in-process emulator decodes bodies exactly as ``mock-sprinto serve`` does.
    Use it with pytest-aiohttp as ``await aiohttp_client(EmulatorTestServer(create_app(emulator)))``."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return web.AppRunner(self.app, **{**kwargs, **RUNNER_KWARGS})
