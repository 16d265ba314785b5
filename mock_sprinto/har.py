"""The journal as HAR 1.2 (HTTP Archive): what browser developer tools, proxies and HAR libraries
read. Pure: journal entries in, one JSON-ready mapping out; the route is ``GET /_mock/journal.har``.

Headers are always there (the envelope keeps a reference to the request's and the answer's own
header objects, so the journal copies nothing); bodies only when the ``journal_bodies_bytes``
setting turned capture on, each cut at that many bytes (``comment`` says so). ``api-key``,
``Authorization``, ``Proxy-Authorization``, ``Cookie`` and ``Set-Cookie`` are redacted unless the
export asks otherwise. What HAR has no field for (the operation, the rule that fired, the error
``code``, a broken connection) is in ``_``-prefixed fields, as HAR 1.2 allows.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .clock import format_time
from .journal import JournalEntry

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"})
# statusText: the reason phrase HTTPStatus gives, for the statuses the export has always named, and
# RFC 9110's "Content Too Large" for 413 (HTTPStatus says so only from Python 3.13). Every other status
# has an empty one, as it always had: 0 (no answer at all), 499 (the client hung up: no standard phrase)
# and those only a scenario or a deadline gives (408, 418, ...).
_NAMED_STATUSES = (200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 502, 503, 504, 507)
_STATUS_TEXT = {status: HTTPStatus(status).phrase for status in _NAMED_STATUSES} | {413: "Content Too Large"}


_COMMENT = "the vendor-API requests mock-sprinto's journal held; times are emulator time"


# How a session was closed, by integration and session id (``apply`` or ``discard``; None when not
# known): what the judge reads of a close whose bodies the journal did not keep.
ClosedAs = Callable[[str | None, str | None], str | None]


def har(
    entries: Iterable[JournalEntry],
    origin: str,
    version: str,
    *,
    redact: bool = True,
    closed_as: ClosedAs | None = None,
) -> dict[str, Any]:
    """A HAR 1.2 log of ``entries`` (oldest first); ``origin`` (``http://host:port``) makes each
    URL absolute when a request carried no ``Host``."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "mock-sprinto", "version": version},
            "entries": [_entry(entry, origin, redact, closed_as) for entry in entries],
            "comment": _COMMENT,
        }
    }


def har_parts(
    entries: Iterable[JournalEntry],
    origin: str,
    version: str,
    *,
    redact: bool = True,
    closed_as: ClosedAs | None = None,
) -> tuple[bytes, Iterator[bytes], bytes]:
    """The same log as ``har``, as JSON text in parts to write one after the other: what comes
    before the entries, each entry (serialized only when asked for), and what closes the log. A
    large export is then never held whole (``GET /_mock/journal.har`` streams it)."""
    head = {"version": "1.2", "creator": {"name": "mock-sprinto", "version": version}, "comment": _COMMENT}
    opening = b'{"log":' + orjson.dumps(head)[:-1] + b',"entries":['
    return opening, (orjson.dumps(_entry(entry, origin, redact, closed_as)) for entry in entries), b"]}}"


def _entry(entry: JournalEntry, origin: str, redact: bool, closed_as: ClosedAs | None = None) -> dict[str, Any]:
    request_headers = [(_text(name), _text(value)) for name, value in entry.request_headers]
    response_headers = list(entry.response_headers)
    host = next((value for name, value in request_headers if name.lower() == "host"), None)
    url = (f"http://{host}" if host else origin) + entry.path + (f"?{entry.query}" if entry.query else "")
    started = entry.arrived_at if entry.arrived_at is not None else entry.at
    found: dict[str, Any] = {
        "startedDateTime": format_time(started),
        "time": entry.latency_ms,
        "request": {
            "method": entry.method,
            "url": url,
            "httpVersion": entry.http_version,
            "cookies": _cookies(request_headers, "cookie", redact),
            "headers": _headers(request_headers, redact),
            "queryString": [{"name": n, "value": v} for n, v in parse_qsl(entry.query, keep_blank_values=True)],
            "headersSize": -1,
            "bodySize": entry.bytes_in if entry.bytes_in is not None else (0 if entry.method == "GET" else -1),
        },
        "response": {
            "status": entry.status,
            "statusText": _STATUS_TEXT.get(entry.status, ""),
            "httpVersion": entry.http_version,
            "cookies": _cookies(response_headers, "set-cookie", redact),
            "headers": _headers(response_headers, redact),
            "content": _content(entry, response_headers),
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": _response_size(entry, response_headers),
        },
        "cache": {},
        "timings": {"send": 0, "wait": entry.latency_ms, "receive": 0},
        **({"connection": str(entry.connection)} if entry.connection is not None else {}),  # HAR 1.2's: the port
        "_requestId": entry.request_id,
        "_operation": entry.operation,
        "_integrationId": entry.integration_id,
        "_sessionId": entry.session_id,
        "_code": entry.code,
        "_rule": entry.rule,
        # What the judge reads back from a HAR of the emulator's (report/har.py): the one order of
        # arrivals and answers, and when the answer left, on the emulator's clock.
        "_arrival": entry.arrival,
        "_answer": entry.answer,
        "_answeredDateTime": format_time(entry.at),
        "_page": entry.page,
        "_pageHint": entry.page_hint,
        "_namesSession": entry.names_session,
    }
    if entry.request_headers_dropped:
        found["request"]["comment"] = (
            f"{entry.request_headers_dropped} more header(s) not kept: past journal_header_bytes"
        )
    if entry.request_body is not None:
        found["request"]["postData"] = _post_data(entry, request_headers)
    if entry.status == 0:
        found["response"]["_error"] = entry.code  # e.g. transport_reset: the client read no answer
    if closed_as is not None and entry.operation == "close_session" and entry.status == 202:
        # Apply or discard, which only the request's body tells, and the journal keeps no body by
        # default: a failing pytest test's HAR judged its applied session as one of unknown close.
        if (status := closed_as(entry.integration_id, entry.session_id)) is not None:
            found["_closeStatus"] = status
    return found


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _headers(headers: list[tuple[str, str]], redact: bool) -> list[dict[str, str]]:
    return [
        {"name": name, "value": REDACTED if redact and name.lower() in SECRET_HEADERS else value}
        for name, value in headers
    ]


def _cookies(headers: list[tuple[str, str]], header: str, redact: bool) -> list[dict[str, str]]:
    cookies: list[dict[str, str]] = []
    for name, value in headers:
        if name.lower() != header:
            continue
        pairs = value.split(";") if header == "cookie" else value.split(";")[:1]
        for pair in pairs:
            key, _, val = pair.strip().partition("=")
            if key:
                cookies.append({"name": key, "value": REDACTED if redact else val})
    return cookies


def _header(headers: Iterable[tuple[str, str]], wanted: str) -> str | None:
    return next((value for name, value in headers if name.lower() == wanted), None)


def _body_text(body: bytes) -> tuple[str, str | None]:
    """The body as HAR text: UTF-8 as is (a character the cut split is left out), anything else
    base64 (``encoding``)."""
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data":  # only the last character was cut short
            return body[: error.start].decode("utf-8"), None
        return base64.b64encode(body).decode("ascii"), "base64"


def _cut(kept: int, whole: int | None) -> str | None:
    return f"cut at {kept} of {whole} bytes (journal_bodies_bytes)" if whole is not None and whole > kept else None


def _post_data(entry: JournalEntry, headers: list[tuple[str, str]]) -> dict[str, Any]:
    body = entry.request_body or b""
    text, encoding = _body_text(body)
    data: dict[str, Any] = {"mimeType": _header(headers, "content-type") or "", "params": [], "text": text}
    if encoding:
        data["encoding"] = encoding
    comment = _cut(len(body), entry.request_body_bytes)
    if comment:
        data["comment"] = comment + "; decoded (after Content-Encoding)"
    else:
        data["comment"] = "decoded (after Content-Encoding)"
    return data


def _content(entry: JournalEntry, headers: list[tuple[str, str]]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "size": max(_response_size(entry, headers), 0),
        "mimeType": entry.response_type or "",
    }
    if entry.response_body is not None:
        text, encoding = _body_text(entry.response_body)
        content["text"] = text
        if encoding:
            content["encoding"] = encoding
        comment = _cut(len(entry.response_body), entry.response_body_bytes)
        if comment:
            content["comment"] = comment
    return content


def _response_size(entry: JournalEntry, headers: list[tuple[str, str]]) -> int:
    if entry.response_body_bytes is not None:
        return entry.response_body_bytes
    length = _header(headers, "content-length")
    return int(length) if length and length.isdigit() else -1
