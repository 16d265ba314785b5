"""The connection layer under the application: aiohttp's protocol handler with the emulator's
deadlines, connection cap, problem-object refusals and shutdown.

aiohttp gives a connection no deadline for its request headers (only a keep-alive timeout, by
default an hour), answers what its parser refuses as plain text, lets connections pile up until
the process runs out of descriptors (and the event loop logs every failed ``accept()`` with a
traceback), and on shutdown leaves a request that is still reading its body without an answer.
``EmulatorRunner`` serves an app with:

* a **header deadline** (``header_timeout_seconds``): a new connection must complete its first
  request's headers in time, a kept-alive one from the first byte of the next request; a client
  that sent part of a request gets 408 ``request_timeout``, one that sent nothing is just closed.
  The body deadline (``body_timeout_seconds``) is kept by ``body.read_body``;
* a **connection cap** (``max_connections``, never more than the open-file limit allows, less
  ``FD_RESERVE`` for the server's own files): a connection beyond it gets 503
  ``too_many_connections`` with ``Retry-After`` and is closed at once; a failed ``accept()``
  (out of descriptors anyway) is logged once every ``MUTE_SECONDS``, without a traceback. It
  counts open connections: a request answered before its body was read stops its lingering read
  of the rest when the client hangs up (aiohttp's read waited up to 10 s with no connection);
* **problem objects** for what aiohttp's parser refuses (400 ``malformed_request``, 431
  ``request_header_fields_too_large``), with an ``X-Request-Id``;
* a **send deadline** (``send_timeout_seconds``): a client that reads nothing of an answer for that
  long is dropped, and the answer's bytes with it;
* a **bounded shutdown** (``shutdown_timeout_seconds``): a body being read is cut short with 503
  ``shutting_down``, other requests get the grace period to finish, then the same 503.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import math
import secrets
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import HttpVersion10, web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server

from ..clock import LOOP_TURNS
from ..codes import (
    CLIENT_DISCONNECTED,
    INTERNAL_ERROR,
    MALFORMED_REQUEST,
    REQUEST_HEADER_FIELDS_TOO_LARGE,
    REQUEST_TIMEOUT,
    TOO_MANY_CONNECTIONS,
    UNSUPPORTED_TRANSFER_ENCODING,
)
from ..errors import ApiError, let_go_of_frames, shutting_down
from ..settings import Settings
from .common import EMULATOR

log = logging.getLogger("mock_sprinto")

FD_RESERVE = 160  # kept for the server: one accept() burst (up to 128 connections), files, threads
MUTE_SECONDS = 10.0  # a resource error of the event loop is reported at most this often

# Request ids need to be unique, not secret: a per-process random prefix and a counter, so no
# request pays for a getrandom() system call.
_ID_PREFIX = secrets.token_hex(6)
_REQUEST_NUMBERS = itertools.count(1)


def new_request_id() -> str:
    return f"req_{_ID_PREFIX}{next(_REQUEST_NUMBERS):08x}"


class BodyInterrupted(asyncio.TimeoutError):
    """Set on a request's payload to stop a body being read: its deadline passed, the server is
    stopping, or the client left after its answer. A TimeoutError, so aiohttp's lingering read after
    the answer stops on it quietly.

    Not a ``MockSprintoError``: it is control flow inside the server, never raised to a user (the
    reader turns it into its ``error``, an ApiError), and a user's ``except MockSprintoError``
    around a read must not swallow what aiohttp takes for a timeout."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.detail)
        self.error = error


# All of a request's header lines together (nginx: 4 buffers of 8 KB): aiohttp alone takes 128 lines
# of 8,190 bytes each, ~1 MB a request. A head still arriving past it is refused at once, a complete
# one as the parser's refusals are.
MAX_HEADER_BYTES = 32_768


# The parser does not say which value it refused (llhttp's message quotes an empty line).
UNSUPPORTED_TRANSFER_ENCODING_DETAIL = (
    "the request's Transfer-Encoding is not supported: only 'chunked' is; send 'Transfer-Encoding: chunked' "
    "alone or a Content-Length (compress the body with Content-Encoding: gzip or deflate)"
)


def header_fields_too_large(what: str = "") -> ApiError:
    return ApiError.of(
        REQUEST_HEADER_FIELDS_TOO_LARGE,
        f"the request's headers are larger than {MAX_HEADER_BYTES} bytes in all{what}; send fewer or shorter ones",
        setting=False,
    )


def request_timeout(what: str, setting: str = "header_timeout_seconds") -> ApiError:
    return ApiError.of(REQUEST_TIMEOUT, f"{what}; the connection is closed", setting=setting)


def raw_problem(error: ApiError, request_id: str | None = None) -> bytes:
    """A whole HTTP/1.1 response for a connection that has no request (or no handler) to answer."""
    body = orjson.dumps(error.problem())
    reason = HTTPStatus(error.status).phrase
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Request-Id": request_id or new_request_id(),
        **error.headers,
        "Connection": "close",
    }
    head = f"HTTP/1.1 {error.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


def decodes_bodies_itself(request: BaseRequest) -> bool:
    """Whether the server under this request decodes compressed bodies itself: aiohttp's default
    (``auto_decompress=True``) where a host app serves ``create_app`` with a plain ``AppRunner`` or
    aiohttp's ``TestServer``, not ``EmulatorRunner`` or ``RUNNER_KWARGS``. aiohttp keeps the option
    only in its server's keyword arguments; a request whose connection is gone reads False."""
    manager = getattr(request.protocol, "_manager", None)
    options = getattr(manager, "_kwargs", None)
    return isinstance(options, dict) and options.get("auto_decompress", True) is not False


@dataclass(frozen=True)
class Limits:
    header_timeout: float
    max_connections: int
    send_timeout: float = 60.0

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.header_timeout_seconds,
            effective_connection_cap(settings.max_connections),
            settings.send_timeout_seconds,
        )


def effective_connection_cap(wanted: int) -> int:
    """``wanted``, but never so many that the process runs out of descriptors first."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # not Unix
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


class EmulatorRequestHandler(RequestHandler):
    """One connection, with a header deadline, a place under the cap, and JSON refusals."""

    __slots__ = (
        "_head_bytes",
        "_header_deadline",
        "_last_payload",
        "_limits",
        "_partial",
        "_send_deadline",
        "_socket_transport",
        "_unsent",
    )

    def __init__(self, manager: Server, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._header_deadline: asyncio.TimerHandle | None = None
        self._partial = False  # bytes of a request arrived, its headers are not complete
        self._head_bytes = 0  # of the request whose headers are arriving
        self._send_deadline: asyncio.TimerHandle | None = None
        self._unsent = 0  # bytes the transport held when the send deadline was armed
        self._last_payload: StreamReader | None = None  # the body of the request parsed last
        # The transport as connection_made had it: aiohttp's force_close (every deadline, every
        # refusal) lets go of ``self.transport`` before connection_lost.
        self._socket_transport: asyncio.BaseTransport | None = None

    # ---- the send deadline -------------------------------------------------------------------
    # asyncio pauses writing when the transport holds more than its high-water mark of unsent bytes
    # (a client that does not read). Until it resumes, the deadline checks every send_timeout
    # whether the client took anything; a client that took nothing is dropped, and the answer it
    # held (a whole HAR export: 89 MB) with it. As nginx's send_timeout: between two successful
    # reads, not for the whole answer.
    def pause_writing(self) -> None:
        super().pause_writing()
        self._arm_send_deadline()

    def resume_writing(self) -> None:
        self._disarm_send_deadline()
        super().resume_writing()

    def _arm_send_deadline(self) -> None:
        transport = self.transport
        if transport is None or self._send_deadline is not None:
            return
        self._unsent = _unsent(transport)
        self._send_deadline = self._loop.call_later(self._limits.send_timeout, self._send_late)

    def _disarm_send_deadline(self) -> None:
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None

    def _send_late(self) -> None:
        self._send_deadline = None
        transport = self.transport
        if transport is None or not self.writing_paused:
            return
        if _unsent(transport) < self._unsent:
            self._arm_send_deadline()  # the client read some: a new period
            return
        log.debug("dropped a client that read nothing for %gs", self._limits.send_timeout)
        transport.abort()

    # ---- the connection cap and the header deadline ----------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._socket_transport = transport
        manager = self._manager
        if isinstance(manager, EmulatorServer) and manager.open_connections > self._limits.max_connections:
            refusal = ApiError.of(
                TOO_MANY_CONNECTIONS,
                f"the emulator already has {self._limits.max_connections} open connections "
                "(setting max_connections); retry, or reuse a connection",
                headers={"Retry-After": "1"},
            )
            self._refuse(refusal)
            return
        self._arm()

    def _arm(self) -> None:
        if self._header_deadline is None and self._limits.header_timeout > 0:
            self._header_deadline = self._loop.call_later(self._limits.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        self._partial = False
        self._head_bytes = 0

    def _idle(self) -> bool:
        """Waiting for the next request (not handling one, not lingering over a body)."""
        if self._messages or self._request_in_progress:
            return False
        return self._waiter is not None or self._request_count == 0

    def data_received(self, data: bytes) -> None:
        starts_request = bool(data) and self._idle()
        queued = len(self._messages)
        reading = self._last_payload
        super().data_received(data)
        if (
            len(self._messages) > queued
            and reading is not None
            and not reading.is_eof()
            and isinstance(refused := self._messages[queued][0], _ErrInfo)
        ):
            # The parser refused what came in a body it had begun (a chunked body's trailer section
            # over its bounds, sent after the last chunk): that request gets the refusal now, and
            # the connection closes after its answer. Queued as a request of its own, it waited for
            # the body deadline (a 408 "the body did not arrive" 60 s later), then was answered too.
            while len(self._messages) > queued:
                self._messages.pop()
            if reading.exception() is None:
                reading.set_exception(BodyInterrupted(_parser_refusal(refused.status, refused.exc)))
            self._close = True
            return
        if len(self._messages) > queued:
            # Only the request parsed last can still be missing body bytes (HTTP/1.1 parses the next
            # request after this one's body), so it is the one a lingering read may wait on.
            self._last_payload = self._messages[-1][1]
        for at in range(queued, len(self._messages)):
            self._refuse_unfit(at)
        if self._messages:  # a request's headers are complete
            self._disarm()
        elif starts_request or self._partial:
            # Armed only when this chunk left the headers incomplete: the usual request, whose
            # headers arrive in one read, schedules and cancels no timer.
            self._partial = True
            self._arm()
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES:
                self._refuse(header_fields_too_large(" (still arriving)"))

    def _refuse_unfit(self, at: int) -> None:
        """A request the parser took that the emulator does not serve: HTTP/0.9 (no version, no
        Host), or a head over ``MAX_HEADER_BYTES`` in all. It is handed on as the parser's own
        refusals are (``handle_error``: a problem object, not journaled)."""
        message, _ = self._messages[at]
        if not isinstance(message, RawRequestMessage):
            return
        refusal: BadHttpMessage | None = None
        if message.version < HttpVersion10:
            refusal = BadHttpMessage("HTTP/0.9 requests are not served; send HTTP/1.1 with a Host header")
        elif sum(map(len, itertools.chain.from_iterable(message.raw_headers))) > MAX_HEADER_BYTES:  # names, values
            refusal = BadHttpMessage(f"Too many header bytes: over {MAX_HEADER_BYTES} in all")
        if refusal is not None:
            self._messages[at] = (_ErrInfo(status=400, exc=refusal, message=refusal.message), EMPTY_PAYLOAD)

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self._messages or self._request_in_progress or self.transport is None:
            return  # the headers are in
        if self._partial:
            limit = self._limits.header_timeout
            self._refuse(request_timeout(f"the request's headers did not arrive within {limit:g}s"))
        elif self._request_count == 0:
            self.force_close()  # a new connection that asked nothing: closed without an answer
        # else: idle between requests, which the keep-alive timeout governs

    def _refuse(self, error: ApiError) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(raw_problem(error))
        self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._disarm_send_deadline()
        task, transport = self._task_handler, self._socket_transport  # aiohttp lets go of the task below
        self._socket_transport = None
        super().connection_lost(exc)  # a request being handled has its body cancelled (499)
        if getattr(transport, "_read_ready_cb", None) is not None:
            # asyncio's socket transport keeps its read callback as a bound method of itself: a cycle
            # (transport, socket, 7 objects) every connection leaves for the collector. Python 3.12
            # drops it in close(); not on 3.10 and 3.11, nor on 3.12 when the client resets. Nothing
            # reads from a transport after its connection_lost.
            transport._read_ready_cb = None  # type: ignore[union-attr]
        payload, self._last_payload = self._last_payload, None
        if payload is not None and not payload.is_eof() and payload.exception() is None:
            # Answered before its body was read: aiohttp reads the rest for up to 10 s (its
            # lingering read, so the client sees the answer, not a reset), and nothing tells that read
            # the client is gone. Its handler, the request and the place under the cap lingered on
            # with no connection (a client that did this twice a second shut everyone out).
            gone = BodyInterrupted(
                ApiError.of(CLIENT_DISCONNECTED, "the client hung up after its answer", setting=False)
            )
            payload.set_exception(gone)
            if task is not None:
                # Raised through the read, the error's traceback holds the read's frames, which hold
                # the payload that holds the error: a cycle with the handler and its request in it,
                # left for a full collection (issue 21). Once the connection's task is over, no one
                # reads that payload again.
                task.add_done_callback(lambda _: let_go_of_frames(gone))

    # ---- what aiohttp's parser refuses ---------------------------------------------------------
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        error = _parser_refusal(status, exc)
        if error.status >= 500:
            log.error("internal error handling a request from %s", request.remote, exc_info=exc)
        else:
            log.debug("refused a request from %s: %s", request.remote, error.detail)
        if exc is not None:
            # Its traceback holds the parser's frames, and with them this connection: a cycle per
            # refused request, left for a full collection (issue 21's soak). It is answered now.
            let_go_of_frames(exc)
        response = web.Response(
            body=orjson.dumps(error.problem()),
            status=error.status,
            content_type="application/json",
            headers={"X-Request-Id": new_request_id(), **error.headers},
        )
        response.force_close()
        return response

    # ---- shutdown ------------------------------------------------------------------------------
    async def shutdown(self, timeout: float | None = 15.0) -> None:
        """Stop this connection within ``timeout``: a body being read is cut short with 503
        ``shutting_down``; a request still running when the time is up gets the same 503."""
        self._force_close = True
        self._disarm()
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
        request = self._current_request
        if self._request_in_progress and request is not None:
            if not request.content.is_eof():
                request.content.set_exception(BodyInterrupted(shutting_down()))
            self._handler_waiter = self._loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._handler_waiter), timeout)
            except asyncio.TimeoutError:
                self._handler_waiter = None
                if request.writer.output_size == 0 and self.transport is not None:
                    self.transport.write(raw_problem(shutting_down()))
        if self._task_handler is not None and not self._task_handler.done():
            self._task_handler.cancel()
        self.force_close()


def _unsent(transport: asyncio.BaseTransport) -> int:
    """Bytes of answers the client has not taken: the transport's buffer and, where the system
    tells (Linux: SIOCOUTQ), the socket's send queue. Bytes moving from one to the other (the
    kernel growing its buffer) are not the client reading."""
    assert isinstance(transport, asyncio.WriteTransport)
    held = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None and _OUTQ is not None:
        try:
            held += struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
        except (OSError, ValueError):
            pass
    return held


try:  # Unix: the ioctl that reads a socket's unsent bytes (TIOCOUTQ is SIOCOUTQ on Linux)
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):  # Windows
    _OUTQ = None


_SHOWN_BYTES = 80  # of a refused request line or header, repeated in the answer


def _parser_refusal(status: int, exc: BaseException | None) -> ApiError:
    if status >= 500:
        return ApiError.of(INTERNAL_ERROR, "the emulator failed on this request; see its log")
    text = [line.strip() for line in str(getattr(exc, "message", "") or exc or "").strip().splitlines()]
    said = text[0][:200].rstrip(":") if text else HTTPStatus(status).phrase  # the parser's own words
    why = said[:1].lower() + said[1:]
    # The parser's message goes on to the bytes it refused (a repr) and a caret under them: the
    # bytes are worth saying, the caret's column means nothing on one line. The answer is chosen
    # from the parser's words alone: the client's bytes ("Too Many Headers: x") never choose it.
    shown = next((line for line in text[1:] if line.startswith(("b'", 'b"'))), None)
    if shown is not None:
        why = f"{why} in {shown if len(shown) <= _SHOWN_BYTES else shown[: _SHOWN_BYTES - 1] + '…'}"
    if isinstance(exc, LineTooLong) or "too many header" in said.lower():
        return ApiError.of(
            REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"the request line or its headers are too large ({why}): at most 128 headers of 8190 bytes each, "
            f"{MAX_HEADER_BYTES} bytes in all",
            setting=False,  # fixed bounds (aiohttp's, MAX_HEADER_BYTES), not header_timeout_seconds
        )
    if "`Transfer-Encoding`" in said:
        # llhttp and aiohttp's Python parser refuse a Transfer-Encoding whose last coding is not
        # chunked ('gzip', 'identity', 'chunked, gzip') before any handler runs; the handler refuses
        # the rest ('gzip, chunked': body.check_transfer_encoding). One answer for both, as documented.
        return ApiError.of(UNSUPPORTED_TRANSFER_ENCODING, UNSUPPORTED_TRANSFER_ENCODING_DETAIL)
    if "PRI/Upgrade" in said:
        # HTTP/2's opening ("PRI * HTTP/2.0"), from a client told to speak HTTP/2 with no upgrade
        # (curl --http2-prior-knowledge): the parser's words name its own pause, not the cause.
        return ApiError.of(
            MALFORMED_REQUEST,
            "the emulator speaks HTTP/1.1 only, and this opened an HTTP/2 connection without an upgrade "
            "(HTTP/2 prior knowledge): let the client use HTTP/1.1 (an 'Upgrade: h2c' offer is fine: it is declined)",
            setting=False,
        )
    return ApiError.of(MALFORMED_REQUEST, f"the request is not valid HTTP/1.1: {why}", setting=False)


class EmulatorServer(Server):
    """aiohttp's Server, making ``EmulatorRequestHandler`` connections, and counting the open ones.

    aiohttp's own list of connections keeps a handler until its task ends, which can be after its
    client is gone: the cap counts connections (descriptors), not handlers."""

    def __init__(self, handler: Any, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits
        self.open_connections = 0

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        self.open_connections += 1
        super().connection_made(handler, transport)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self.open_connections -= 1  # called once a connection (RequestHandler.connection_lost)
        super().connection_lost(handler, exc)

    def __call__(self) -> RequestHandler:
        return EmulatorRequestHandler(self, loop=self._loop, limits=self._limits, **self._kwargs)


class EmulatorRunner(web.AppRunner):
    """``web.AppRunner`` for an emulator app: its limits, its shutdown, a quiet accept loop."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        settings = app[EMULATOR].settings
        kwargs.setdefault("shutdown_timeout", settings.shutdown_timeout_seconds)
        kwargs.setdefault("keepalive_timeout", settings.keepalive_timeout_seconds)
        kwargs["auto_decompress"] = False  # bodies are decoded by http/body.py under its limits
        # A client that hangs up does not cancel its handler (aiohttp's TestServer would): the
        # handler sees the hang-up as 499 client_disconnected, and the journal records it.
        kwargs["handler_cancellation"] = False
        super().__init__(app, **kwargs)
        self._limits = Limits.of(settings)
        self._restore: Callable[[], None] | None = None

    async def _make_server(self) -> Server:
        plain = await super()._make_server()
        loop = asyncio.get_running_loop()
        unmute, not_eagerly = mute_resource_errors(loop), start_request_tasks_eagerly(loop)
        untimed = time_loop_turns(loop)

        def restore() -> None:
            unmute()
            not_eagerly()
            untimed()

        self._restore = restore
        return EmulatorServer(
            plain.request_handler,
            limits=self._limits,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )

    async def cleanup(self) -> None:
        try:
            await super().cleanup()
        finally:
            if self._restore is not None:
                self._restore()
                self._restore = None


# aiohttp's coroutines run as a task each: a connection's (``start``) and each request's.
_REQUEST_TASK_CODE = frozenset({RequestHandler.start.__code__, RequestHandler._handle_request.__code__})


def start_request_tasks_eagerly(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """On Python 3.10 and 3.11, start aiohttp's connection and request tasks as aiohttp does from
    3.12 (``eager_start=True``): the task's first step runs as it is created, not on the loop's
    next turn. A request whose handler never waits is then answered in the turn that read it
    (two turns of the loop fewer a request on a new connection, one on a kept-alive one;
    benchmarks/ANALYSIS.md). Only those two coroutines; any other task, and a loop with a task
    factory of its own, are left alone. Returns what puts the loop back."""
    ready = getattr(loop, "_ready", None)  # asyncio's queue of callbacks due on the next turn
    current_tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if sys.version_info >= (3, 12) or loop.get_task_factory() is not None or ready is None or current_tasks is None:
        return _nothing_to_restore

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Task[Any]:
        scheduled = len(ready)
        task = asyncio.Task(coro, loop=loop, **options)
        if len(ready) == scheduled + 1 and getattr(coro, "cr_code", None) in _REQUEST_TASK_CODE:
            first_step = ready.pop()  # the one callback the task scheduled: its first step
            outer = current_tasks.pop(loop, None)  # a request's task is made by its connection's
            try:
                first_step._run()
            finally:
                if outer is not None:
                    current_tasks[loop] = outer
        return task

    loop.set_task_factory(factory)

    def restore() -> None:
        if loop.get_task_factory() is factory:
            loop.set_task_factory(None)

    return restore


def time_loop_turns(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Time each turn of ``loop`` (``clock.LOOP_TURNS``): when its select returned, and how long the
    turn before ran. The judge reads from it how long a request may have waited for the loop before
    it was let in (``report.run.in_flight``: a concurrent client's page on its way when another's
    429 was answered). Only asyncio's selector loops have a selector to wrap; on another the turns
    are not timed. Two emulators serving on one loop share the wrapper. Returns what puts it back."""
    selector = getattr(loop, "_selector", None)
    if selector is None or not callable(getattr(selector, "select", None)):
        return _nothing_to_restore
    users = getattr(selector, "_mock_sprinto_turns", 0)
    if not users:
        original = selector.select
        turns = LOOP_TURNS

        def select(timeout: float | None = None) -> Any:
            ended = time.perf_counter()
            if turns.began is not None:
                turns.previous = ended - turns.began
            events = original(timeout)
            turns.began = time.perf_counter()
            return events

        selector.select = select
        selector._mock_sprinto_original = original
    selector._mock_sprinto_turns = users + 1

    def restore() -> None:
        left = selector._mock_sprinto_turns - 1
        selector._mock_sprinto_turns = left
        if not left:
            selector.select = selector._mock_sprinto_original
            LOOP_TURNS.began = None

    return restore


def _nothing_to_restore() -> None:
    pass


_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def mute_resource_errors(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Report the event loop's "out of descriptors" errors (a failed ``accept()``, repeated as
    long as the condition lasts) once every ``MUTE_SECONDS``, in one line; everything else goes
    to the handler that was there. Returns the function that puts that handler back."""
    previous = loop.get_exception_handler()
    last_reported = -math.inf
    muted = 0

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal last_reported, muted
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRORS:
            now = time.monotonic()
            if now - last_reported < MUTE_SECONDS:
                muted += 1
                return
            last_reported = now
            log.warning(
                "%s: %s (%d more like it muted); new connections wait until descriptors are free "
                "(lower max_connections, or raise the open-file limit: ulimit -n)",
                context.get("message", "event loop error"),
                exc.strerror or exc,
                muted,
            )
            muted = 0
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)

    def restore() -> None:
        if loop.get_exception_handler() is handler:
            loop.set_exception_handler(previous)

    return restore
