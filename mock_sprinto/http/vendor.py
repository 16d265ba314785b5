"""Part A: Sprinto's Custom Integration Entities Sync API (v1), served under /api/external/push.

Each handler builds the domain's ``Call``, hands the request body over as a ``BodySource``, makes
one call to the vendor plane's door (``Emulator``) and serializes the ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import HttpVersion11, hdrs, web

from ..calls import Call, Outcome
from ..faults.vocabulary import Operation
from ..service import Emulator, malformed_api_key
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
        prefer=request.headers.getall("Prefer", ()),
    )
    request[CALL] = call  # the envelope journals it, whatever the outcome
    if len(keys) > 1:  # which one would be meant? Refused rather than guessed
        raise malformed_api_key("it was sent twice")
    return call


def _body(request: web.Request) -> RequestBody:
    """The request's body, read under the process-wide memory budget."""
    return RequestBody(request, request.app[EMULATOR].budget)


# How each operation reaches the vendor plane's door, given the request's Call.
Door = Callable[[Emulator, Call, web.Request], Awaitable[Outcome]]
DOORS: dict[Operation, Door] = {
    "start_session": lambda emulator, call, request: emulator.start(call, _body(request)),
    "get_session": lambda emulator, call, request: emulator.get_session(call),
    "push_page": lambda emulator, call, request: emulator.push(call, _body(request)),
    "close_session": lambda emulator, call, request: emulator.close(call, _body(request)),
    "integration_status": lambda emulator, call, request: emulator.integration_status(call),
    "activity": lambda emulator, call, request: emulator.activity(
        call, *(request.query.getall(name, ()) for name in ("since", "page", "page_size"))
    ),
}


def _handler(operation: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    door = DOORS[operation]

    async def handle(request: web.Request) -> web.StreamResponse:
        call = _call(request, operation)
        return render(request, await door(request.app[EMULATOR], call, request))

    handle.__name__ = operation
    return handle


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


def add_routes(app: web.Application) -> None:
    router = app.router
    # The push first: aiohttp tries an integration's routes in the order added (their paths never
    # overlap), and a sync is mostly pushes.
    router.add_route(
        "POST", BASE + "/sessions/{session_id}/entities", _handler("push_page"), expect_handler=push_expect
    )
    router.add_post(BASE + "/sessions", _handler("start_session"))
    router.add_get(BASE + "/sessions/{session_id}", _handler("get_session"), allow_head=False)
    router.add_post(BASE + "/sessions/{session_id}/close", _handler("close_session"))
    router.add_get(BASE + "/status", _handler("integration_status"), allow_head=False)
    router.add_get(BASE + "/activity", _handler("activity"), allow_head=False)


__all__ = ["add_routes"]
