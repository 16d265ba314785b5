"""Part A: Sprinto's Custom Integration Entities Sync API (v1), served under /api/external/push.

Each handler builds the domain's ``Call``, hands the request body over as a ``BodySource``, makes
one call to the vendor plane's door (``Emulator``) and serializes the ``Outcome``.
"""

from __future__ import annotations

from aiohttp import HttpVersion11, hdrs, web

from ..faults.vocabulary import Operation
from ..service import Call, malformed_api_key
from .body import RequestBody
from .common import API_PREFIX, CALL, EMULATOR, REQUEST_ID, STARTED
from .faults import render

BASE = API_PREFIX + "/{version}/integrations/{integration_id}"


def _call(request: web.Request, operation: Operation) -> Call:
    match = request.match_info
    keys = request.headers.getall("api-key", ())
    call = Call(
        operation=operation,
        integration_id=match["integration_id"],
        api_key=keys[0] if keys else None,
        request_id=request[REQUEST_ID],
        started=request[STARTED],
        version=match["version"],
        session_id=match.get("session_id"),
    )
    request[CALL] = call  # the envelope journals it, whatever the outcome
    if len(keys) > 1:  # which one would be meant? Refused rather than guessed
        raise malformed_api_key("it was sent twice")
    return call


def _body(request: web.Request) -> RequestBody:
    """The request's body, read under the process-wide memory budget."""
    return RequestBody(request, request.app[EMULATOR].budget)


async def start_session(request: web.Request) -> web.StreamResponse:
    call = _call(request, "start_session")
    return render(request, await request.app[EMULATOR].start(call, _body(request)))


async def get_session(request: web.Request) -> web.StreamResponse:
    call = _call(request, "get_session")
    return render(request, await request.app[EMULATOR].get_session(call))


async def push_expect(request: web.Request) -> None:
    """Invite the body ('100 Continue') only when it will be read; otherwise stay silent so
    the handler's final answer (404, 409, 413, ...) reaches the client before it sends anything."""
    if request.version != HttpVersion11 or request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
        return
    limit = request.app[EMULATOR].request_limit(request.match_info["integration_id"])
    declared = request.content_length
    if declared is not None and declared > limit:
        return
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0


async def push_page(request: web.Request) -> web.StreamResponse:
    call = _call(request, "push_page")
    return render(request, await request.app[EMULATOR].push(call, _body(request)))


async def close_session(request: web.Request) -> web.StreamResponse:
    call = _call(request, "close_session")
    return render(request, await request.app[EMULATOR].close(call, _body(request)))


async def integration_status(request: web.Request) -> web.StreamResponse:
    call = _call(request, "integration_status")
    return render(request, await request.app[EMULATOR].integration_status(call))


async def activity(request: web.Request) -> web.StreamResponse:
    call = _call(request, "activity")
    query = request.query
    outcome = await request.app[EMULATOR].activity(call, query.get("since"), query.get("page"), query.get("page_size"))
    return render(request, outcome)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_post(BASE + "/sessions", start_session)
    router.add_get(BASE + "/sessions/{session_id}", get_session, allow_head=False)
    router.add_route("POST", BASE + "/sessions/{session_id}/entities", push_page, expect_handler=push_expect)
    router.add_post(BASE + "/sessions/{session_id}/close", close_session)
    router.add_get(BASE + "/status", integration_status, allow_head=False)
    router.add_get(BASE + "/activity", activity, allow_head=False)


__all__ = ["add_routes"]
