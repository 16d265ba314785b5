"""What every HTTP module shares: where the planes are mounted, the app and request keys, and how
a value or a domain error becomes a response. It imports nothing of the other HTTP modules, so
``app``, ``vendor``, ``control``, ``openapi`` and ``faults`` all depend on it and none on another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import hdrs, web

from ..calls import Call
from ..codes import SHUTTING_DOWN
from ..control import ControlPlane
from ..errors import ApiError, repeated_parameter
from ..jsontext import array_parts
from ..service import Emulator

API_PREFIX = "/api/external/push"
CONTROL_PREFIX = "/_mock"

# The two doors of the domain, one per plane.
EMULATOR: web.AppKey[Emulator] = web.AppKey("emulator", Emulator)
CONTROL: web.AppKey[ControlPlane] = web.AppKey("control", ControlPlane)

# Request-scoped: when the request arrived, its id, and (vendor API) the domain's Call.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
STARTED: web.RequestKey[float] = web.RequestKey("started", float)
CALL: web.RequestKey[Call] = web.RequestKey("call", Call)

# Response-scoped: the ``code`` an error answer's body carries, set where the answer is rendered,
# so the journal records it without reading the body back.
ERROR_CODE: web.ResponseKey[str] = web.ResponseKey("error_code", str)


def declared_media(request: web.BaseRequest) -> tuple[str, str | None] | None:
    """The request's Content-Type as (media type, charset), both lower case; None without one.

    Read here rather than with aiohttp's ``request.content_type``, which parses the header with the
    standard library's email package: each value it has not seen among its last 56 costs ~0.2 ms
    and makes three classes that only the garbage collector frees, and a client sending a new value a
    request (a random parameter) would make every request pay that (issue 21). Same rules as
    aiohttp's: the media type is what precedes the first ``;``, and anything that is not one
    ``type/subtype`` reads as application/octet-stream; of repeated charsets, the first."""
    raw = request.headers.get(hdrs.CONTENT_TYPE)
    if raw is None:
        return None
    media, _, parameters = raw.partition(";")
    media = media.strip().lower()
    if media.count("/") != 1:
        media = "application/octet-stream"
    charset = None
    for parameter in parameters.split(";"):
        name, equals, value = parameter.partition("=")
        if equals and name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip().lower()
            if "'" in charset:  # RFC 2231's delimiter to the email package, which then reads none
                charset = None
            break
    return media, charset


def is_json_media(media: str) -> bool:
    """application/json, or a JSON-based type such as application/problem+json."""
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers, content_type="application/json")


STREAM_CHUNK_BYTES = 65_536


async def stream_json(
    request: web.Request,
    opening: bytes,
    items: Iterator[bytes],
    closing: bytes,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """A JSON answer of ``opening``, the ``items`` (each a serialized JSON value) separated by
    commas, then ``closing``, written as ``stream_parts`` writes."""
    return await stream_parts(request, array_parts(opening, items, closing), headers)


async def stream_parts(
    request: web.Request, parts: Iterator[bytes], headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """A JSON answer written a chunk at a time from its ``parts`` (``jsontext``), each part made
    only when the chunk before it is written. The client's reading paces the writing, so a large
    answer (a HAR export, every applied record, a state bundle) is never held whole, no step of the
    loop makes more than a chunk of it, and the send deadline drops a client that reads nothing."""
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/json"
    response.headers["X-Request-Id"] = request[REQUEST_ID]  # the envelope's own comes after prepare
    await response.prepare(request)
    chunk = bytearray()
    try:
        for part in parts:
            chunk += part
            if len(chunk) >= STREAM_CHUNK_BYTES:
                await response.write(bytes(chunk))
                chunk.clear()
                await asyncio.sleep(0)  # the other clients' turn, whether or not this one reads fast
        await response.write(bytes(chunk))
        await response.write_eof()
    except ConnectionError:  # the client left, or was dropped for reading nothing: nobody to answer
        pass
    return response


def error_response(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer that may be an error: one of 400 or more keeps its body's ``code`` (a string)
    on the response (``ERROR_CODE``), as the client reads it."""
    response = json_response(body, status, headers)
    if status >= 400 and isinstance(body, dict) and isinstance(code := body.get("code"), str):
        response[ERROR_CODE] = code
    return response


def problem_response(error: ApiError) -> web.Response:
    response = error_response(error.problem(), error.status, dict(error.headers))
    if error.status in (408, 413, 499) or error.code == SHUTTING_DOWN.code:
        # The rest of an oversized body is drained (bounded) by aiohttp's lingering read, so the
        # client reads this answer instead of a reset; the connection is not reused afterwards
        # (nor after a body that came too slowly, a client that left, or a server that stops).
        response.force_close()
    return response


def query_value(request: web.Request, name: str) -> str | None:
    """A query parameter sent at most once (``errors.repeated_parameter`` says why)."""
    values = request.query.getall(name, ())
    if len(values) > 1:
        raise repeated_parameter(name, len(values))
    return values[0] if values else None
