"""A blocking HTTP/1.1 client on the standard library: one request on a connection, its answer.

Two callers, one way of sending: the probe (a fresh connection per request, to any server,
https included) and the test server's ``control`` (one kept-alive connection to the emulator's
``/_mock``). Each keeps its own policy (retries, budgets, what an error becomes) around it.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

_BODY_METHODS = frozenset({"PATCH", "POST", "PUT"})  # a request without a body says Content-Length: 0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: http.client.HTTPMessage
    will_close: bool  # the server closes the connection after this answer


def nothing_listens(host: str, port: int | None, *, tls: bool = False) -> str:
    """How a refused connection is said to a user (not ``ConnectionRefusedError: [Errno 111]``). The
    port asked, as said: only None is the scheme's default (a port 0 is refused, not port 80)."""
    return f"nothing listens at {host}:{(443 if tls else 80) if port is None else port} (connection refused)"


def connect(host: str, port: int | None, timeout: float, *, tls: bool = False) -> http.client.HTTPConnection:
    """A connection (opened by the first request on it), verifying the server's certificate under TLS."""
    if tls:
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    return http.client.HTTPConnection(host, port, timeout=timeout)


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    payload: bytes | None,
    headers: Mapping[str, str],
    *,
    limit: int | None = None,
) -> Answer:
    """Send one request on ``conn`` and read its answer (at most ``limit`` bytes of the body).

    Exactly ``headers`` go out besides Host and Content-Length (no Accept-Encoding is added). A
    server may answer early (a 413 for a body too large) and stop reading: when sending the body
    fails, the answer it already sent is still read, and the send's error raised only without one.
    """
    conn.putrequest(method, path, skip_accept_encoding=True)
    if payload is not None or method in _BODY_METHODS:
        conn.putheader("Content-Length", str(len(payload or b"")))
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    stopped: OSError | None = None
    try:
        conn.send(payload or b"")
    except (BrokenPipeError, ConnectionResetError) as exc:
        stopped = exc
    try:
        response = conn.getresponse()
        body = response.read() if limit is None else response.read(limit)
    except (OSError, http.client.HTTPException) as exc:
        raise (stopped or exc) from None
    return Answer(response.status, body, response.msg, response.will_close)
