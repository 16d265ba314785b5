"""``create_app``: the aiohttp application around one Emulator, plus the runner options it needs.

The envelope middleware gives every answer its request id and one error shape, and journals each
vendor request through the domain; the planes' routes come from ``vendor``, ``control`` and
``openapi``, which share only ``common``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import HttpVersion, HttpVersion10, HttpVersion11, hdrs, web, web_app
from yarl import URL

from ..calls import Call, Exchange, Learned
from ..codes import (
    ADMIN_TOKEN_REQUIRED,
    BAD_REQUEST,
    CLIENT_DISCONNECTED,
    HTTP_ERROR,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
)
from ..control import ControlPlane
from ..errors import ApiError, let_go_of_frames
from ..service import Emulator
from . import bundles, control, openapi, vendor
from .common import (
    API_PREFIX,
    CALL,
    CONTROL,
    CONTROL_PREFIX,
    EMULATOR,
    ERROR_CODE,
    REQUEST_ID,
    STARTED,
    declared_media,
    problem_response,
)
from .guards import HostCheck, cross_site_refusal
from .nearmiss import closest_endpoint
from .server import new_request_id

log = logging.getLogger("mock_sprinto")

# Bodies are decoded by mock_sprinto.http.body under its own limits, never by aiohttp. Serving the
# app with EmulatorRunner (mock_sprinto.http.server) applies this and the connection limits.
RUNNER_KWARGS: dict[str, Any] = {"auto_decompress": False}

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HOSTS: web.AppKey[HostCheck] = web.AppKey("hosts", HostCheck)


_HTTP_CODES = {404: NOT_FOUND.code, 405: METHOD_NOT_ALLOWED.code, 413: PAYLOAD_TOO_LARGE.code, 400: BAD_REQUEST.code}


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> ApiError:
    code = _HTTP_CODES.get(exc.status, HTTP_ERROR.code)
    extra: dict[str, str] = {}
    if exc.status == 404:
        detail = f"no such endpoint: {request.method} {request.path[:200]}"
        if (near := closest_endpoint(request.method, request.path[:2000])) is not None:
            detail += f"; did you mean {near}?"
            extra["did_you_mean"] = near
    elif exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        detail = f"{request.method} is not allowed here; allowed: {allowed}"
    else:
        detail = exc.reason
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return ApiError(exc.status, code, detail, extra=extra, headers=headers)


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, uniform error bodies, the journal, and a catch-all that turns bugs into 500s."""
    request[STARTED] = time.perf_counter()
    client_id = request.headers.get("X-Request-Id")  # most clients send none: no match tried then
    request_id = request[REQUEST_ID] = (
        client_id if client_id is not None and _CLIENT_REQUEST_ID.match(client_id) else new_request_id()
    )
    try:
        _refuse_foreign_callers(request)
        response = await handler(request)
    except ApiError as error:
        response = problem_response(error)
        let_go_of_frames(error)  # answered: its frames (the request among their locals) go now, not in a collection
    except web.HTTPException as exc:
        response = problem_response(_from_http_exception(exc, request))
        let_go_of_frames(exc)
    except Exception as exc:
        log.exception("internal error on %s %s (request %s)", request.method, request.path, request_id)
        response = problem_response(
            ApiError.of(INTERNAL_ERROR, f"the emulator failed on this request; see its log (request {request_id})")
        )
        let_go_of_frames(exc)  # logged with its traceback first
    response.headers["X-Request-Id"] = request_id
    call = request.get(CALL)
    if call is not None and not response.prepared:
        learned = call.learned
        if learned.rate_limit_headers or learned.preference_applied:  # most calls learned none
            _add_learned_headers(response, learned)
    if request.path.startswith(API_PREFIX):  # the vendor API only: not /_mock, not a favicon
        _journal(request, response, call)
    return response


def _refuse_foreign_callers(request: web.Request) -> None:
    """A foreign Host name (DNS rebinding: a name that resolves here; in the Host header, or in an
    absolute-form target, which RFC 9112 3.2.2 says wins over it), and on the control plane a
    request another site's page sent, are refused before any handler runs. (An HTTP/0.9 request
    and a head too large in all never get here: ``server.py`` refuses them as the parser's.)"""
    host = request.headers.get(hdrs.HOST)
    hosts = request.app[HOSTS]
    if not hosts.allows(host):
        assert host is not None
        raise hosts.refusal(host)
    if not request.raw_path.startswith("/"):  # GET http://evil.example/... (or '*'), with a Host or none
        authority = _target_authority(request.raw_path)
        if authority is not None and not hosts.allows(authority):
            raise hosts.refusal(authority)
    if request.path.startswith(CONTROL_PREFIX) and (refusal := cross_site_refusal(request)) is not None:
        raise refusal


def _target_authority(target: str) -> str | None:
    """The host (and port) an absolute-form request target names, as a Host header writes it
    (``[::1]:8080``: the bare ``::1`` aiohttp keeps reads as no name); None for any other form
    (``*``). Read from the target itself: with no Host header (HTTP/1.0) nothing else says it."""
    try:
        url = URL(target)
    except ValueError:  # aiohttp parsed it already; a target yarl cannot read names no host served
        return target[:100]
    return url.raw_authority if url.absolute else None


def _add_learned_headers(response: web.StreamResponse, learned: Learned) -> None:
    """The headers of what the door learned: the rate limit, and a Prefer it applied (RFC 7240)."""
    if learned.rate_limit_headers:
        response.headers.update(learned.rate_limit_headers)
    if learned.preference_applied:
        response.headers["Preference-Applied"] = learned.preference_applied


def _journal(request: web.Request, response: web.StreamResponse, call: Call | None) -> None:
    """Hand the domain's journal what the HTTP layer saw of a vendor request and its answer."""
    emulator = request.app[EMULATOR]
    status = response.status
    code = response.get(ERROR_CODE) if status >= 400 else None  # a miss raises inside: errors only
    transport = request.transport
    if (transport is None or transport.is_closing()) and not response.prepared and not _faulted(call):
        # The client hung up before its answer was even sent (a timeout while a scenario held the
        # request): it never reads this answer. Journaled as the answer it got, a late 409 read as
        # a page refused and left out, and the careful client that timed out and sent the page
        # again was blamed with an error. (An answer already sent is journaled as it was sent, and
        # a scenario's transport fault, which closed the connection itself, as the fault.)
        status, code = HUNG_UP_STATUS, CLIENT_DISCONNECTED.code
    exchange = Exchange(  # positional: on every vendor request, keywords cost more (benchmarks/ANALYSIS.md)
        request[REQUEST_ID],
        request[STARTED],
        request.method,
        request.path,
        request.query_string,
        _http_version(request.version),
        request.content_length,
        request.raw_headers,
        status,
        code,
        response.headers,
        response.content_type if isinstance(response, web.Response) else None,
        None,
        _client_port(transport),
    )
    if emulator.settings.journal_bodies_bytes and isinstance(response, web.Response):
        exchange.response_body = response.body if isinstance(response.body, bytes) else None
    emulator.journal_call(call, exchange)


def _client_port(transport: asyncio.BaseTransport | None) -> int | None:
    """The client's port: what tells one of its connections from another (None off TCP)."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[1] if type(peer) is tuple and len(peer) > 1 and type(peer[1]) is int else None


def _faulted(call: Call | None) -> bool:
    """A scenario rule broke this request's connection on purpose (a reset, a cut answer)."""
    return call is not None and call.learned.transport is not None


HUNG_UP_STATUS = 499  # CLIENT_DISCONNECTED's: journal only, nothing is sent
assert CLIENT_DISCONNECTED.status == HUNG_UP_STATUS


def _http_version(version: HttpVersion) -> str:
    """``HTTP/1.1`` for aiohttp's version tuple: the usual ones written once, not per request."""
    text = _HTTP_VERSIONS.get(version)
    return text if text is not None else f"HTTP/{version.major}.{version.minor}"


_HTTP_VERSIONS = {version: f"HTTP/{version.major}.{version.minor}" for version in (HttpVersion10, HttpVersion11)}


ADMIN_COOKIE = "mock_sprinto_admin"


def _same(sent: str, expected: str) -> bool:
    # The bytes as sent (a header that is not UTF-8 arrives with lone surrogates): such a value can
    # never equal the token, and comparing it must not fail.
    return secrets.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode())


def _bearer_is(authorization: str, token: str) -> bool:
    """``Authorization: Bearer <token>``, the scheme in any case (RFC 9110 11.1: case-insensitive)."""
    scheme, _, credentials = authorization.partition(" ")
    return scheme.lower() == "bearer" and _same(credentials.lstrip(" "), token)


def _cookie_allows(request: web.Request, cookie: str) -> bool:
    """The dashboard's cookie (HttpOnly, SameSite=Strict) stands for the token on a read, and on a
    write only as the dashboard sends it: JSON (a cross-origin page cannot send that without a
    CORS preflight this server never grants) from this origin (``Origin``, ``Sec-Fetch-Site``)."""
    if not _same(request.cookies.get(ADMIN_COOKIE, ""), cookie):
        return False
    if request.method in ("GET", "HEAD"):
        return True
    origin = request.headers.get("Origin")
    return (
        (declared_media(request) or ("",))[0] == "application/json"
        and request.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
        and (origin is None or origin == f"{request.scheme}://{request.host}")
    )


def admin_guard(token: str) -> Any:
    # The cookie holds a digest of the token, not the token.
    cookie = hashlib.sha256(b"mock-sprinto dashboard\0" + token.encode()).hexdigest()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            if request.path == CONTROL_PREFIX + "/" and _same(request.query.get("token", ""), token):
                # The dashboard opened in a browser as /_mock/?token=T: a cookie, and the token
                # out of the address bar.
                response = web.Response(status=303, headers={"Location": CONTROL_PREFIX + "/"})
                response.set_cookie(ADMIN_COOKIE, cookie, path=CONTROL_PREFIX, httponly=True, samesite="Strict")
                return response
            sent = request.headers.get("Authorization", "")
            if not _bearer_is(sent, token) and not _cookie_allows(request, cookie):
                # A token sent and refused is said so: "needs a token" read as if none had been sent.
                said = "the admin token sent is not this server's (its admin_token setting); " if sent else ""
                raise ApiError.of(
                    ADMIN_TOKEN_REQUIRED,
                    f"{said}the control API needs 'Authorization: Bearer <admin token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await handler(request)

    return guard


def create_app(emulator: Emulator) -> web.Application:
    """The whole server: vendor API under /api/external/push, control plane under /_mock."""
    token = emulator.settings.admin_token
    # The guard only exists when there is a token: one middleware less on every vendor request.
    app = web.Application(middlewares=[envelope, admin_guard(token)] if token else [envelope])
    app[EMULATOR] = emulator
    app[CONTROL] = ControlPlane(emulator)
    app[HOSTS] = HostCheck(emulator.settings)
    vendor.add_routes(app)
    control.add_routes(app)
    bundles.add_routes(app)  # state bundles, verification, the judge on a HAR
    openapi.add_routes(app)
    app.on_startup.append(_build_handler_chains)
    app.on_shutdown.append(_end_delays)
    return app


async def _build_handler_chains(app: web.Application) -> None:
    """Every route's middleware chain, built at start instead of on the route's first request.

    aiohttp builds a handler's chain (a partial per middleware, with a copy of the handler's
    attributes) on its first request and keeps it. Built during a long run, between its
    short-lived objects, each piece kept an otherwise empty 1 MiB pymalloc arena alive after a
    reset (issue 21: the reset route's own chain, built by the first reset, held ~8); built here,
    they sit among start-up's objects. Private to aiohttp (3.14), so looked up with care: where
    it has no such cache, nothing happens."""
    build = getattr(web_app, "_cached_build_middleware", None)
    if build is None:
        return
    app.pre_freeze()  # the runner freezes the app after start-up; the chains need its middlewares
    try:
        for resource in app.router.resources():
            for route in resource:
                build(route.handler, (app,))  # the key aiohttp looks them up by: (handler, apps)
    except (AttributeError, TypeError):  # another aiohttp's internals: built on first use instead
        return


async def _end_delays(app: web.Application) -> None:
    """Before the runner waits for running requests: a request a scenario holds ends now, not at
    the end of the shutdown grace."""
    app[EMULATOR].stop_delays()
