"""The probe's HTTP side: where to send (``Target``), what came back (``Reply``), and ``Client``,
the blocking requests to one integration of one server, within the probe's budget."""

from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..errors import MockSprintoError
from ..exitcodes import FAILED, USAGE_ERROR
from ..httpclient import connect, exchange, nothing_listens
from ..naming import is_loopback

BUDGET_SECONDS = 300.0  # the whole probe of one server, whatever the per-request timeout
MAX_REQUESTS = 30  # a guard: the plan sends at most 28 (19 of them pages), 15-20 usually
MAX_THROTTLE_WAITS = 2
MAX_RETRY_AFTER = 10.0
MAX_REPLY_BYTES = 1 << 20


class ProbeError(MockSprintoError):
    """Stops the probe: one line for the user, and the exit code."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int | None
    prefix: str  # the base URL's path, e.g. /api/external/push
    shown: str  # the base URL as printed

    @classmethod
    def parse(cls, base_url: str) -> Target:
        try:
            parts = urllib.parse.urlsplit(base_url.strip())
            port = parts.port
        except ValueError as exc:
            raise ProbeError(f"--base-url is not a URL ({exc})", USAGE_ERROR) from None
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise ProbeError(
                "--base-url must be an http(s) URL such as https://api.sprinto.com/api/external/push", USAGE_ERROR
            )
        if parts.username is not None or parts.password is not None:
            raise ProbeError("--base-url must not carry credentials; the api-key goes in --api-key", USAGE_ERROR)
        if parts.query or parts.fragment:
            raise ProbeError("--base-url must not have a query or a fragment", USAGE_ERROR)
        if scheme == "http" and not is_loopback(host):
            raise ProbeError(
                f"refusing to send the api-key in clear text to {host}: use https:// "
                "(plain http:// only for loopback: 127.0.0.0/8, ::1, localhost)",
                USAGE_ERROR,
            )
        prefix = parts.path.rstrip("/")
        return cls(scheme, host, port, prefix, urllib.parse.urlunsplit((scheme, parts.netloc, prefix, "", "")))


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the JSON answer, or None
    retry_after: str | None = None  # the Retry-After header, on a 429

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, str) else None

    def brief(self) -> str:
        """``400 validation_failed``: the status, and the error code when the server sends one."""
        return f"{self.status} {self.code[:40]}" if self.code else str(self.status)


@dataclass
class Client:
    """Blocking requests to one integration of one server; a fresh connection each (no retry
    of a request that may have been processed), the per-request timeout within the budget."""

    target: Target
    integration_id: str
    api_key: str
    timeout: float
    requests: int = 0
    throttle_waits: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + BUDGET_SECONDS)
    cap: int = MAX_REQUESTS

    def allow_cleanup(self) -> None:
        """Room for the last discard (and its read) of a probe stopped by the cap or the budget."""
        self.cap = self.requests + 2
        self.deadline = max(self.deadline, time.monotonic() + self.timeout)

    def path(self, tail: str) -> str:
        ident = urllib.parse.quote(self.integration_id, safe="")
        return f"{self.target.prefix}/v1/integrations/{ident}{tail}"

    def call(
        self, method: str, tail: str, body: Any = None, *, raw: bytes | None = None, json_type: bool = True
    ) -> Reply:
        """Send ``body`` as JSON (or ``raw`` bytes; ``json_type=False`` leaves Content-Type out)."""
        payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {
            "api-key": self.api_key,
            "User-Agent": f"mock-sprinto-probe/{__version__}",
            "Accept": "application/json",
        }
        if payload is not None and json_type:
            headers["Content-Type"] = "application/json"
        while True:
            reply = self._send(method, self.path(tail), payload, headers)
            if reply.status == 401:
                raise ProbeError(
                    f"the api-key was refused (401 on {method} {self.path(tail)}): "
                    "check --api-key and --integration-id (the probe stopped there)",
                    USAGE_ERROR,
                )
            if reply.status != 429:
                return reply
            if self.throttle_waits >= MAX_THROTTLE_WAITS:
                raise ProbeError(f"throttled (429 on {method} {self.path(tail)}) again; try later")
            self.throttle_waits += 1
            time.sleep(self._retry_after(reply))

    def _retry_after(self, reply: Reply) -> float:
        try:
            wait = float(reply.retry_after or 1)  # delta-seconds; a date reads as the 1 s default
        except ValueError:
            wait = 1.0
        return min(max(wait, 0.0), MAX_RETRY_AFTER, max(self.deadline - time.monotonic(), 0.0))

    def _send(self, method: str, path: str, payload: bytes | None, headers: dict[str, str]) -> Reply:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeError(f"the probe of {self.target.shown} ran over its {BUDGET_SECONDS:g} s budget")
        if self.requests >= self.cap:
            raise ProbeError(f"the probe of {self.target.shown} would pass {MAX_REQUESTS} requests; stopped")
        self.requests += 1
        timeout = min(self.timeout, left)
        conn = connect(self.target.host, self.target.port, timeout, tls=self.target.scheme == "https")
        where = f"{method} {path}"
        try:
            answer = exchange(conn, method, path, payload, {**headers, "Connection": "close"}, limit=MAX_REPLY_BYTES)
        except TimeoutError:
            raise ProbeError(f"{where}: no answer within {timeout:g} s") from None
        except ssl.SSLError as exc:
            raise ProbeError(f"{where}: TLS failed ({exc.reason or exc})") from None
        except ConnectionRefusedError:
            refused = nothing_listens(self.target.host, self.target.port, tls=self.target.scheme == "https")
            raise ProbeError(f"{where}: {refused}: is the server running, and is --base-url its address?") from None
        except OSError as exc:  # a Python class name told a user nothing: the system's own words
            raise ProbeError(f"{where}: {exc.strerror or exc}".rstrip(": ")) from None
        except http.client.HTTPException as exc:
            raise ProbeError(f"{where}: not an HTTP answer ({type(exc).__name__}: {exc})".rstrip(": ")) from None
        finally:
            conn.close()
        try:
            body = json.loads(answer.body) if answer.body else None
        except ValueError:
            body = None
        return Reply(answer.status, body, answer.headers.get("Retry-After"))
