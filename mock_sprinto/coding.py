"""Content codings, gzip and deflate, decoded within a bound: one reader for every door that takes
a compressed body (a vendor page, a state bundle, a HAR) and for a ``.gz`` bundle's bytes sent as they
are or given to ``serve --state``, so each refuses the same damage in the same words."""

from __future__ import annotations

import zlib

from .codes import MALFORMED_BODY
from .errors import ApiError
from .payload import ONCE_DECODED, SizeLimit

INFLATE_STEP = 256 * 1024
INFLATE_FEED = 64 * 1024
# gzip members one body may hold (RFC 1952 allows several; a client concatenating compressed
# chunks sends a few): each costs a decoder, so 250,000 empty ones in 5 MB are refused, not decoded.
MAX_GZIP_MEMBERS = 1_000
GZIP_WBITS = 16 + zlib.MAX_WBITS
GZIP_MAGIC = b"\x1f\x8b"  # how every gzip member begins (RFC 1952)


class BeyondInlineShare(Exception):
    """A small upload decodes to more than its inline share (``http.body``'s
    ``INLINE_DECODED_LIMIT``): the rest goes to a worker. Not a ``MockSprintoError``: control flow
    between ``inflate`` and its one caller, never raised to a user."""


def unreadable(detail: str, reason: str) -> ApiError:
    """400 ``malformed_body`` for a body that could not be read or decoded: no setting changes it."""
    return ApiError.of(MALFORMED_BODY, detail, reason=reason, setting=False)


def inflate(data: bytes, encoding: str, limit: SizeLimit, inline_share: int | None = None) -> bytes:
    """Decode gzip (all members) or deflate (zlib-wrapped or raw) without passing ``limit``; past
    ``inline_share`` decoded bytes (below it), stop with ``BeyondInlineShare``."""
    cap = limit.limit
    share = cap if inline_share is None or inline_share >= cap else inline_share
    if not data:
        return b""
    if encoding == "gzip":
        wbits = GZIP_WBITS
    else:
        # RFC 9110 'deflate' is zlib-wrapped; some clients send raw deflate, so accept both.
        wbits = (
            zlib.MAX_WBITS
            if len(data) >= 2 and (data[0] * 256 + data[1]) % 31 == 0 and data[0] & 0x0F == 8
            else -zlib.MAX_WBITS
        )
    # Decoded steps are kept apart and joined once at the end: bytes.join copies a large result with
    # the GIL released, where growing a bytearray (and copying it into bytes) held it (~15 ms for
    # 24 MB, which the loop waited for at its next syscall while this ran on a worker).
    out: list[bytes] = []
    decoded = 0
    view = memoryview(data)  # input is fed in INFLATE_FEED slices: unconsumed_tail then copies
    start = 0  # at most one slice, not the whole rest of a 1 MB bomb at every step
    members = 1
    try:
        while start < len(data):
            inflater = zlib.decompressobj(wbits)
            fed = start
            pending: bytes | memoryview = b""
            while True:
                if not pending:
                    if fed >= len(data):
                        tail = inflater.flush()
                        out.append(tail)
                        decoded += len(tail)
                        if decoded > cap:
                            raise limit.refusal(ONCE_DECODED)
                        if not inflater.eof:
                            raise unreadable(f"the {encoding} body is truncated", "truncated")
                        break
                    pending = view[fed : fed + INFLATE_FEED]
                    fed += len(pending)
                step = inflater.decompress(pending, INFLATE_STEP)
                out.append(step)
                decoded += len(step)
                if decoded > share:
                    if decoded > cap:
                        raise limit.refusal(ONCE_DECODED)
                    raise BeyondInlineShare
                pending = inflater.unconsumed_tail
                if inflater.eof:
                    break
            start = fed - len(inflater.unused_data)  # the next gzip member, if any, starts here
            # Trailing NUL padding is tolerated, after gzip and deflate alike. Only the next byte is
            # looked at per member (a member never starts with NUL), and the rest is counted in
            # place, once: no copy of the rest of the body per member (quadratic: 250,000 empty
            # members in 5 MB took 84 s of CPU).
            if start >= len(data) or (data[start] == 0 and data.count(b"\x00", start) == len(data) - start):
                break
            # Only gzip has further members, each opening with its magic bytes: anything else after
            # the end of the compressed stream is data a client appended, not a member to decode.
            if encoding != "gzip" or data[start : start + 2] != GZIP_MAGIC:
                raise unreadable(
                    f"the {encoding} body has {len(data) - start} bytes of data after the end of its "
                    f"{encoding} stream (from byte {start}); send the compressed page alone",
                    f"corrupt {encoding}",
                )
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise unreadable(
                    f"the gzip body has more than {MAX_GZIP_MEMBERS} members; compress the page as one",
                    "too many gzip members",
                )
    except zlib.error as exc:
        raise unreadable(f"the body is not valid {encoding} data ({exc})", f"corrupt {encoding}") from None
    return b"".join(out)


def damage_said(error: ApiError, encoding: str) -> str:
    """What ``inflate``'s refusal (``malformed_body``) says of the stream, in a document's words: the
    vendor door's less "the body" and its advice for a page, which a state bundle's and a HAR's
    refusals (``invalid_state``, ``invalid_har``) put after "damaged gzip:"."""
    reason = str(error.extra.get("reason", ""))
    if reason == "truncated":
        return "the compressed data ends too soon"
    said = error.detail.split("; ", 1)[0].removeprefix(f"the {encoding} body has ").removeprefix("the body is ")
    if reason == "too many gzip members":
        said += "; compress it as one"
    if "incorrect header check" in said:  # zlib's words for a stream that does not begin as one
        said += f"; was the document sent uncompressed with 'Content-Encoding: {encoding}'?"
    return said


def gunzip_head(data: bytes, most: int) -> bytes:
    """At most the first ``most`` bytes the first gzip member of ``data`` decodes to, read no
    further: what a command peeks at before it sends a bundle (its scope), a bomb never inflated
    whole. A damaged stream gives what decoded before the damage (the server says what is wrong)."""
    inflater = zlib.decompressobj(GZIP_WBITS)
    try:
        return inflater.decompress(data, most)
    except zlib.error:
        return b""
