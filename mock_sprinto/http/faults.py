"""Serializing a vendor use case's ``Outcome``: the operation's own answer, or the one a scenario
rule injects (a chosen status and body, or a broken connection). The decision itself was carried
out by the domain (``Emulator._under_scenario``); what is left here is what only a socket can do."""

from __future__ import annotations

import asyncio
import socket
import struct
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from ..calls import Answer, Outcome
from ..codes import (
    BAD_GATEWAY,
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    GATEWAY_TIMEOUT,
    INJECTED_FAULT,
    INTERNAL_ERROR,
    INVALID_API_KEY,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    SERVICE_UNAVAILABLE,
    ErrorCode,
)
from ..errors import ApiError
from ..faults import Decision
from ..faults.vocabulary import Respond, TransportFault
from .common import ERROR_CODE, error_response, json_response

# The code an injected status gets unless the rule names one: what a real gateway would say.
DEFAULT_CODES: dict[int, ErrorCode] = {
    400: BAD_REQUEST,
    401: INVALID_API_KEY,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: CONFLICT,
    413: PAYLOAD_TOO_LARGE,
    429: RATE_LIMITED,
    500: INTERNAL_ERROR,
    502: BAD_GATEWAY,
    503: SERVICE_UNAVAILABLE,
    504: GATEWAY_TIMEOUT,
}


def render(request: web.Request, outcome: Outcome) -> web.StreamResponse:
    """The response for a use case's outcome."""
    if isinstance(outcome, Answer):
        return json_response(outcome.body, outcome.status, outcome.headers or None)
    real = None if outcome.real is None else json_response(outcome.real.body, outcome.real.status, outcome.real.headers)
    return injected_response(request, outcome.decision, real, outcome.batch)


def _problem(decision: Decision, respond: Respond, batch: dict[str, Any] | None = None) -> web.Response:
    status = respond.status
    headers = dict(respond.headers)
    retry_after = respond.retry_after
    if retry_after is None and status == 429 and not respond.without_retry_after:
        retry_after = 1  # a 429 without Retry-After would leave a client guessing, unless the rule says so
    body: Any
    if respond.has_body:
        body = respond.body
    else:  # an error: a scenario's status and a Prefer code are 400-599 (the successes are the emulator's own)
        # A push refused 400 (batch: its BatchIngestResponse members) is a page rejected as invalid,
        # the one 400 Sprinto's push answers, unless the rule names another code.
        if batch is not None:
            code = decision.rejection_code
        else:
            code = respond.code or DEFAULT_CODES.get(status, INJECTED_FAULT).code
        detail = decision.detail
        extra: dict[str, Any] = {"retry_after_seconds": retry_after} if retry_after is not None else {}
        if batch is not None:  # a push refused as invalid: Sprinto's 400 shape, the rule's error listed
            injected = {"issue": detail, "pointer": "", "code": "injected", "basis": "mock"}
            extra.update(batch, validation_errors=[injected])
        # Injected, whatever code it wears: the emulator's doing (basis mock, the rule "injected
        # faults"), never the setting its code stands for (a 429 here is not rate_limit's). Only a
        # Prefer header's answer has a setting that would change it: prefer_header switches it off.
        setting: str | bool = "prefer_header" if decision.forced_by_prefer else False
        body = ApiError(status, code, detail, extra={**extra, "basis": "mock"}, setting=setting).problem()
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    declared = next((name for name in headers if name.lower() == "content-type"), None)
    if declared is None:
        return error_response(body, status, headers)
    # The rule names its own Content-Type (a gateway's HTML error page, say): a string body is sent
    # as it is under a type that is not JSON; anything else is JSON, under the type the rule named.
    content_type = headers.pop(declared)
    media = content_type.split(";")[0].strip().lower()
    json_like = media == "application/json" or media.endswith("+json")
    raw = body.encode() if isinstance(body, str) and not json_like else orjson.dumps(body)
    response = web.Response(body=raw, status=status, headers={**headers, "Content-Type": content_type})
    if isinstance(body, dict) and isinstance(answered := body.get("code"), str):
        response[ERROR_CODE] = answered
    return response


def injected_response(
    request: web.Request,
    decision: Decision,
    real: web.StreamResponse | None,
    batch: dict[str, Any] | None = None,
) -> web.StreamResponse:
    """The answer of the firing rule; ``real`` is the operation's own answer in the 'after' phase;
    ``batch``, a push's BatchIngestResponse members when the rule refuses it as invalid."""
    if decision.transport is None:
        assert decision.respond is not None
        return _problem(decision, decision.respond, batch)
    kind = decision.transport
    transport = request.transport
    if transport is None or transport.is_closing():
        return web.Response(status=499)
    if kind == "reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: closing sends RST, which clients report as 'connection reset by peer'.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    elif kind == "close":
        transport.close()  # nothing at all was written: an empty reply
    else:
        status = _write_half(transport, kind, decision, real)
        return web.Response(status=status)  # never sent (the transport is closed): feeds the journal
    return web.Response(status=499)


def _write_half(
    transport: asyncio.Transport, kind: TransportFault, decision: Decision, real: web.StreamResponse | None
) -> int:
    """Write half an answer's body and close: ``malformed_body`` is complete HTTP whose JSON is cut
    where a parser chokes on it, ``truncated_body`` headers that promise the whole body. The status
    written is returned (a rule breaking the connection gives no status of its own: the
    operation's, or 200 when it never ran)."""
    status = real.status if real is not None else 200
    if real is not None and isinstance(real, web.Response) and isinstance(real.body, bytes):
        body = real.body
    else:
        body = orjson.dumps({"detail": f"injected by scenario rule '{decision.rules[0]}'"})
    sent = body[: max(1, len(body) // 2)]
    if kind == "malformed_body":
        body = sent
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    transport.write(head + sent)
    transport.close()
    return status
