"""Reading request bodies within limits: size on the wire, content coding, size decoded.

aiohttp's own decompression is switched off (``auto_decompress=False``) so a compression bomb
is inflated here (``coding.inflate``), in bounded steps, and refused as soon as it passes
``max_decoded_bytes``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from aiohttp import hdrs, web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestPayloadError

from ..budget import ALWAYS_READ_BYTES, MemoryBudget
from ..codes import (
    CLIENT_DISCONNECTED,
    MALFORMED_BODY,
    UNSUPPORTED_CONTENT_ENCODING,
    UNSUPPORTED_MEDIA_TYPE,
    UNSUPPORTED_TRANSFER_ENCODING,
)
from ..coding import BeyondInlineShare, inflate, unreadable
from ..errors import ApiError
from ..payload import ON_THE_WIRE, Body, SizeLimit
from ..settings import Settings
from .common import declared_media, is_json_media
from .server import BodyInterrupted, decodes_bodies_itself, request_timeout

# Inflating more than this much compressed input moves to a worker thread (zlib releases the
# GIL), so one large compressed upload never stalls the other clients' requests.
INLINE_INFLATE_LIMIT = 64 * 1024
# ... and so does a small upload that decodes to more than this (~3 ms of zlib): 25 kB of gzip can
# hold 24 MB of JSON, which inflated on the loop held every other request ~100 ms (issue 22's soak).
INLINE_DECODED_LIMIT = 1024 * 1024


_PLAIN_JSON = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})
_ENCODINGS = {"": "identity", "identity": "identity", "gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


def vendor_limits(settings: Settings) -> tuple[SizeLimit, SizeLimit]:
    """A vendor page's bounds: Sprinto's 5 MB on the wire, and the emulator's bomb bound decoded."""
    return _vendor_limits(settings.max_request_bytes, settings.max_decoded_bytes)


@functools.lru_cache(maxsize=16)  # made once for a pair of settings, not twice a push
def _vendor_limits(max_request_bytes: int, max_decoded_bytes: int) -> tuple[SizeLimit, SizeLimit]:
    return SizeLimit(max_request_bytes, "max_request_bytes"), SizeLimit(max_decoded_bytes, "max_decoded_bytes")


def declared_coding(request: web.BaseRequest) -> str:
    """The Content-Encoding declared, every line of it: two lines are one list (RFC 9110 5.3), so
    ``gzip`` and ``gzip`` on two lines is ``gzip, gzip`` (a page staged from its first line alone
    was one that the same list on one line had refused 415)."""
    return ", ".join(request.headers.getall(hdrs.CONTENT_ENCODING, ())).strip().lower()


def content_encoding(request: web.BaseRequest) -> str:
    raw = declared_coding(request)
    encoding = _ENCODINGS.get(raw)
    if encoding is None:
        raise ApiError.of(
            UNSUPPORTED_CONTENT_ENCODING,
            f"Content-Encoding {raw[:60]!r} is not supported; use gzip, deflate or none",
            supported=["gzip", "deflate", "identity"],
        )
    return encoding


def check_media_type(request: web.BaseRequest, settings: Settings) -> None:
    """JSON only. A body with no Content-Type at all is refused unless the setting
    ``missing_content_type`` reads it as JSON: Sprinto's examples always send application/json."""
    declared = request.headers.get(hdrs.CONTENT_TYPE)
    if declared in _PLAIN_JSON:
        return  # the common case, without parsing the header
    if declared is None:
        if settings.missing_content_type == "json" or not request.body_exists:
            return
        raise ApiError.of(
            UNSUPPORTED_MEDIA_TYPE,
            "the body has no Content-Type; send 'Content-Type: application/json'",
        )
    mime, charset = declared_media(request) or ("", None)
    if not is_json_media(mime) or (charset or "utf-8") not in ("utf-8", "utf8"):
        shown = request.headers[hdrs.CONTENT_TYPE][:80]
        # No setting accepts a declared non-JSON type (missing_content_type is about a missing
        # header only): the answer says what helps, and names no setting, nor a client that does
        # not send this type.
        raise ApiError.of(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {shown!r} is not accepted: send the body as JSON with the header "
            f"'Content-Type: application/json' (UTF-8){_WHO_SENDS.get(mime, '')}",
            setting=False,
        )


# The clients that send a JSON body as another type unless told otherwise, by the type they send.
_WHO_SENDS = {
    "text/plain": "; fetch() sends text/plain for a string body unless that header is set",
    "application/x-www-form-urlencoded": (
        "; Ruby's Net::HTTP, Java's HttpURLConnection, Perl's LWP, curl -d and PHP's curl send "
        "application/x-www-form-urlencoded for a body unless that header is set"
    ),
    "application/octet-stream": (
        "; Perl's HTTP::Tiny and raw byte bodies in many libraries send application/octet-stream unless "
        "that header is set"
    ),
}


def check_transfer_encoding(request: web.BaseRequest) -> None:
    """``chunked`` alone or nothing: aiohttp reads 'gzip, chunked' as plain chunked, so a body that
    says it is compressed would be taken as it is."""
    codings = ",".join(request.headers.getall(hdrs.TRANSFER_ENCODING, ()))
    if codings and codings.strip().lower() != "chunked":
        raise ApiError.of(
            UNSUPPORTED_TRANSFER_ENCODING,
            f"Transfer-Encoding {codings[:60]!r} is not supported; send 'chunked' or a Content-Length "
            "(compress with Content-Encoding)",
        )


async def read_body(
    request: web.BaseRequest,
    settings: Settings,
    *,
    strict_media_type: bool = True,
    budget: MemoryBudget | None = None,
    remedy: str = "",
    limits: tuple[SizeLimit, SizeLimit] | None = None,
    wire_read: Callable[[int], None] | None = None,
) -> Body:
    """Read, size-check and decode the body; raises ApiError (413/415/400/507) on any problem.

    The control plane passes ``strict_media_type=False`` (its own guard wants JSON for what a
    browser could send). While the body arrives its bytes are reserved in ``budget``, the
    process-wide memory budget: a body that cannot fit is refused (507) before it is read.
    ``limits`` (on the wire, once decoded) replace a vendor page's ``max_request_bytes`` and
    ``max_decoded_bytes``, and their 413 names the setting that governs them (a control-plane body
    takes ``max_scenario_bytes`` for both: gzip cannot take a scenario past it; a state bundle
    ``max_state_bytes``, a HAR ``max_har_bytes``). ``remedy`` is what a 507 tells the caller to do
    (the control plane's choices differ from a vendor client's). ``wire_read`` is told the size on
    the wire once the whole body is read (a body refused once decoded was within its wire limit).
    """
    on_wire, decoded_cap = limits or vendor_limits(settings)
    check_transfer_encoding(request)
    declared = request.content_length  # parsed from the header on each look: looked at once
    if declared is not None and declared > on_wire.limit:
        raise on_wire.refusal(ON_THE_WIRE)
    encoding = content_encoding(request)
    if strict_media_type:
        check_media_type(request, settings)
    budget = budget or MemoryBudget(None)
    payload = request.content
    timer = None
    if not payload.is_eof():  # the body deadline (setting body_timeout_seconds)
        seconds = settings.body_timeout_seconds
        late = request_timeout(f"the request body did not arrive within {seconds:g}s", "body_timeout_seconds")
        timer = asyncio.get_running_loop().call_later(seconds, _interrupt, payload, late)
    try:
        wire = await _read_wire(request, declared, on_wire, budget, remedy)
        if wire_read is not None:
            wire_read(len(wire))
        return await _decoded(wire, encoding, decoded_cap)
    except BodyInterrupted as interrupted:  # too slow, or the server is stopping
        raise interrupted.error from None
    except ConnectionError:  # the client hung up: its doing, journaled apart from the 5xx
        raise ApiError.of(
            CLIENT_DISCONNECTED, "the client closed the connection before its body arrived", setting=False
        ) from None
    except ApiError as error:
        if error.code == MALFORMED_BODY.code and encoding != "identity" and decodes_bodies_itself(request):
            raise _decoded_twice(error) from None
        raise
    finally:
        if timer is not None:
            timer.cancel()


def _decoded_twice(error: ApiError) -> ApiError:
    """A compressed body refused while the server under the app decodes bodies itself (a host app
    serving ``create_app`` on aiohttp's defaults): the emulator was handed what aiohttp decoded
    (or aiohttp's own decoder failed), so the fix is the server's, not the client's."""
    return unreadable(
        f"{error.detail}; this app is served with aiohttp decoding bodies itself (auto_decompress): "
        "serve it with mock_sprinto.http.EmulatorRunner, or mock_sprinto.http.RUNNER_KWARGS, so the "
        "emulator decodes them under its own limits",
        str(error.extra.get("reason", "unreadable")),
    )


def _interrupt(payload: StreamReader, error: ApiError) -> None:
    if not payload.is_eof():
        payload.set_exception(BodyInterrupted(error))


async def _read_wire(
    request: web.BaseRequest, declared: int | None, limit: SizeLimit, budget: MemoryBudget, remedy: str
) -> bytes:
    if declared == 0:
        # aiohttp gives a body of length 0 an empty stream whose readexactly(0) raises: there is
        # simply nothing to read (an empty body is then the parser's "the body is empty").
        return b""
    if declared is not None:  # known size (within the limit, checked above): one read
        if declared > ALWAYS_READ_BYTES:  # a small body (a close with discard) is always read
            budget.check(declared, remedy)
        budget.reserve(declared)
        try:
            wire = await request.content.readexactly(declared)
        except asyncio.IncompleteReadError:
            raise unreadable("the body ended before its Content-Length", "truncated") from None
        except RequestPayloadError as exc:
            raise unreadable(f"the body could not be read ({exc})", "unreadable") from None
        finally:
            budget.release(declared)
        return wire
    chunks: list[bytes] = []
    received = 0
    try:
        while True:
            try:
                chunk = await request.content.readany()
            except RequestPayloadError as exc:
                # A broken chunked framing or (when a host app left aiohttp's auto_decompress on)
                # a corrupt compressed stream: the client's fault, never a 500.
                raise unreadable(f"the body could not be read ({exc})", "unreadable") from None
            if not chunk:
                break
            if received + len(chunk) > limit.limit:
                raise limit.refusal(ON_THE_WIRE)
            if received + len(chunk) > ALWAYS_READ_BYTES:
                budget.check(len(chunk), remedy)
            budget.reserve(len(chunk))
            received += len(chunk)
            chunks.append(chunk)
    finally:
        budget.release(received)
    return b"".join(chunks)


async def _decoded(wire: bytes, encoding: str, cap: SizeLimit) -> Body:
    if encoding == "identity":
        return Body(wire, wire, encoding)
    if len(wire) <= INLINE_INFLATE_LIMIT:
        try:
            return Body(wire, inflate(wire, encoding, cap, INLINE_DECODED_LIMIT), encoding)
        except BeyondInlineShare:
            pass  # decoded again from the start on a worker: at most INLINE_DECODED_LIMIT is redone
    decoded = await asyncio.get_running_loop().run_in_executor(None, inflate, wire, encoding, cap)
    return Body(wire, decoded, encoding)


class RequestBody:
    """An aiohttp request's body as the domain's ``BodySource``: read with ``read_body``."""

    __slots__ = ("_budget", "_request", "wire_bytes_read")

    def __init__(self, request: web.BaseRequest, budget: MemoryBudget | None = None) -> None:
        self._request = request
        self._budget = budget
        self.wire_bytes_read: int | None = None

    @property
    def present(self) -> bool:
        return self._request.body_exists

    @property
    def declared_length(self) -> int | None:
        return self._request.content_length

    @property
    def content_encoding(self) -> str:
        return declared_coding(self._request) or "identity"

    async def read(self, settings: Settings) -> Body:
        return await read_body(self._request, settings, budget=self._budget, wire_read=self._wire_read)

    def _wire_read(self, size: int) -> None:
        self.wire_bytes_read = size
