"""``mock-sprinto probe``: ask a server that speaks Sprinto's Entities Sync API what the docs leave open.

The same short lifecycle runs against the probed server (a real Sprinto tenant, or another
emulator) and against an emulator with default settings started here on 127.0.0.1: a start, a
few closes, a handful of pages. The answers are printed side by side, one row per assumption the
emulator makes, and a settings file (the ``settings:`` mapping ``--config`` reads) is written that
makes the emulator answer as the probed server did.

Safe on a real tenant: the probe closes the sessions it starts with ``{"status": "discard"}`` only,
and never touches a session it did not start (an active one stops it). A close without ``status``
(or with ``action``) is NOT sent unless ``--probe-close`` asks for it: Sprinto's documented default
is apply, so even a session with no page could be applied there (an empty apply may replace data).
With ``--probe-close`` those closes go to a session with no accepted page, and only when
``{"action": "discard"}`` was refused. The api-key is sent in its header and nowhere
else: every line printed and the file written are scrubbed of it, whatever a server echoes.

Plain ``http://`` is refused unless the host is loopback, so the key never crosses a network in
clear text. Exit codes: 0 the probe ran, 1 a transport or server problem, 2 a usage problem or a
refused api-key.
"""

from __future__ import annotations

import gc
import http.client
import ipaddress
import json
import logging
import os
import ssl
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .clock import parse_time
from .settings import SettingsError, load_config

USAGE_ERROR = 2
FAILED = 1
API_KEY_ENV = "SPRINTO_API_KEY"
DEFAULT_OUT = "probe-settings.yaml"
DEFAULT_TIMEOUT = 30.0
BUDGET_SECONDS = 300.0  # the whole probe of one server, whatever the per-request timeout
MAX_REQUESTS = 30  # a guard: the plan below sends at most 28 (19 of them pages), 15-20 usually
MAX_THROTTLE_WAITS = 2
MAX_RETRY_AFTER = 10.0
MAX_REPLY_BYTES = 1 << 20
DOCS_LIMIT = 5_000_000  # the docs' "5 MB", read as bytes
MIB_LIMIT = 5 * 1024 * 1024  # the other reading: 5 MiB
REFERENCE = "mock-sprinto-probe"  # client_reference_id of every session the probe starts
EMULATOR_ID, EMULATOR_KEY = "probe", "probe-key"


class ProbeError(Exception):
    """Stops the probe: one line for the user, and the exit code."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ---- where to send, and how ---------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        conn: http.client.HTTPConnection
        if self.target.scheme == "https":
            conn = http.client.HTTPSConnection(
                self.target.host, self.target.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self.target.host, self.target.port, timeout=timeout)
        where = f"{method} {path}"
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in {**headers, "Connection": "close"}.items():
                conn.putheader(name, value)
            if payload is not None or method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(payload or b"")))
            conn.endheaders()
            stopped: OSError | None = None
            try:
                conn.send(payload or b"")
            except (BrokenPipeError, ConnectionResetError) as exc:
                stopped = exc  # a server may answer early (a 413) and stop reading: its answer may be there
            try:
                response = conn.getresponse()
                data = response.read(MAX_REPLY_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise (stopped or exc) from None
        except TimeoutError:
            raise ProbeError(f"{where}: no answer within {timeout:g} s") from None
        except ssl.SSLError as exc:
            raise ProbeError(f"{where}: TLS failed ({exc.reason or exc})") from None
        except (OSError, http.client.HTTPException) as exc:
            raise ProbeError(f"{where}: {type(exc).__name__}: {exc}".rstrip(": ")) from None
        finally:
            conn.close()
        try:
            body = json.loads(data) if data else None
        except ValueError:
            body = None
        return Reply(response.status, body, response.getheader("Retry-After"))


# ---- what one server answered --------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """One assumption as a server answered it: what the table shows, and the setting value that
    reproduces it (``None`` when there is none to write: reported only, or not determined)."""

    shown: str
    value: Any = None
    written: bool = False
    note: str = ""  # the settings file's comment, or why nothing is written


def _set(shown: str, value: Any, note: str = "") -> Seen:
    return Seen(shown, value, True, note)


def _user(i: int, **fields: Any) -> dict[str, Any]:
    """A valid ``User`` record (Sprinto's documented example, the emulator's required fields)."""
    record = {
        "employeeId": f"{REFERENCE}-{i}",
        "firstName": "Probe",
        "lastName": "Record",
        "fullName": "Probe Record",
        "workEmail": f"probe{i}@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
        **fields,
    }
    return {k: v for k, v in record.items() if v is not None}


def _page(*records: dict[str, Any], entity_type: str = "User", hint: Any = None) -> dict[str, Any]:
    page: dict[str, Any] = {"entities": {entity_type: list(records)}}
    if hint is not None:
        page["page_hint"] = hint
    return page


def _padded(size: int) -> bytes:
    """A valid one-record page of exactly ``size`` bytes: JSON whitespace pads it (nothing a
    server could refuse but the size)."""
    text = json.dumps(_page(_user(1), hint="size")).encode()
    if size < len(text):
        raise ValueError(size)
    return text[:-1] + b" " * (size - len(text)) + b"}"


def _interval(session: Any) -> float | None:
    """``expires_at`` minus ``updated_at`` (or ``created_at``) of a session, in seconds."""
    if not isinstance(session, dict):
        return None
    try:
        expires = parse_time(str(session["expires_at"]))
        since = parse_time(str(session.get("updated_at") or session["created_at"]))
    except (KeyError, ValueError):
        return None
    return expires - since


class Probe:
    """The lifecycle, against one server. ``run`` returns every assumption's ``Seen``."""

    def __init__(self, client: Client, probe_close: bool = False) -> None:
        self.client = client
        self.probe_close = probe_close  # send closes without "status" (may apply on a real tenant)
        self.active: str | None = None  # the session the probe started and has not closed
        self.seen: dict[str, Seen] = {}
        self.close_status: int | None = None
        self.started = 0  # sessions the probe started
        self.bare_closed = 0  # of them, closed without a status (no page in it: nothing applied)

    # sessions
    def start(self) -> dict[str, Any]:
        reply = self.client.call("POST", "/sessions", {"client_reference_id": REFERENCE})
        if reply.status == 409:
            other = reply.body.get("active_session_id") if isinstance(reply.body, dict) else None
            raise ProbeError(
                f"the integration has an active session{f' ({other})' if other else ''}; the probe never "
                "closes a session it did not start: let that sync finish (or close it), then run the probe again"
            )
        if not reply.ok or not isinstance(reply.body, dict) or not isinstance(reply.body.get("id"), str):
            raise ProbeError(f"starting a session answered {reply.brief()}, not a session (check --base-url)")
        self.active = reply.body["id"]
        self.started += 1
        return reply.body

    def _close(self, body: Any = None, *, raw: bytes | None = None, json_type: bool = True) -> tuple[Reply, str]:
        """Close the active session; (the reply, the state it ended in: '' when still active)."""
        assert self.active is not None
        session = self.active
        reply = self.client.call("POST", f"/sessions/{session}/close", body, raw=raw, json_type=json_type)
        if not reply.ok:
            return reply, ""
        self.active = None
        if self.close_status is None:
            self.close_status = reply.status
        state = reply.body.get("state") if isinstance(reply.body, dict) else None
        if not isinstance(state, str):
            read = self.client.call("GET", f"/sessions/{session}")
            state = read.body.get("state") if isinstance(read.body, dict) else None
        return reply, state if isinstance(state, str) else "?"

    def discard(self) -> None:
        if self.active is None:
            return
        reply, _ = self._close({"status": "discard"})
        if not reply.ok:
            session, self.active = self.active, None
            raise ProbeError(f"discarding session {session} answered {reply.brief()}; check it on the server")

    def push(self, page: Any = None, *, raw: bytes | None = None, json_type: bool = True) -> Reply:
        if self.active is None:
            self.start()
        assert self.active is not None
        reply = self.client.call("POST", f"/sessions/{self.active}/entities", page, raw=raw, json_type=json_type)
        if reply.status in (404, 409) and not self._still_active():
            # the session ended under us (expired, failed): once more, in a new one
            self.active = None
            self.start()
            reply = self.client.call("POST", f"/sessions/{self.active}/entities", page, raw=raw, json_type=json_type)
        return reply

    def _still_active(self) -> bool:
        read = self.client.call("GET", f"/sessions/{self.active}")
        return read.ok and isinstance(read.body, dict) and read.body.get("state") == "active"

    # the plan
    def run(self) -> dict[str, Seen]:
        try:
            self._sessions()
            self._pages()
            self.discard()
        finally:
            if self.active is not None:  # a probe stopped half-way still discards what it started
                self.client.allow_cleanup()
                try:
                    self.discard()
                except ProbeError:
                    pass
        return self.seen

    def _sessions(self) -> None:
        first = self.start()
        interval = _interval(first)
        declared = first.get("inactivity_timeout_seconds")
        if interval is not None and round(interval) >= 1:
            self.seen["inactivity"] = _set(f"{round(interval)} s", round(interval))
        elif isinstance(declared, (int, float)) and not isinstance(declared, bool) and round(declared) >= 1:
            self.seen["inactivity"] = _set(f"{round(declared)} s (its inactivity_timeout_seconds)", round(declared))
        else:
            self.seen["inactivity"] = Seen("no expires_at", note="not determined: no expires_at to read")
        if self.probe_close:
            self._lenient_close()
        else:
            self.seen["close"] = Seen(
                "not probed", note="not probed (it may apply on Sprinto): --probe-close where that is safe"
            )
            self.discard()
        self.seen["close_status"] = Seen(str(self.close_status or "-"), note="reported")

    def _lenient_close(self) -> None:
        # {"action": "discard"} first: accepted as a discard, it settles the question and no close
        # without a status is ever sent; a server that *applied* it (ignoring "action") is Sprinto's
        # documented default at work, which the emulator must refuse so a client learns to send status.
        reply, state = self._close({"action": "discard"})
        if reply.ok:
            if state == "cancelled":
                self.seen["close"] = _set(f"action {reply.status} (discarded)", True)
            else:
                self.seen["close"] = _set(
                    f"action {reply.status}, but {state}",
                    False,
                    f'{{"action": "discard"}} ended {state}: refused here, so a client sends status',
                )
            return
        if reply.status != 400:
            self.seen["close"] = Seen(f"action: {reply.brief()}", note="not determined")
            self.discard()
            return
        # Refused: now without a status, on this session with no accepted page (nothing to apply).
        shown = [f"action {reply.status}"]
        for label, body in (("no body", None), ("{}", {})):
            bare, state = self._close(body, json_type=body is not None)
            shown.append(f"{label} {bare.status}{f' ({state})' if bare.ok else ''}")
            if bare.ok:
                self.bare_closed += 1
                self.seen["close"] = _set(
                    ", ".join(shown),
                    False,
                    "no status accepted but action refused; lenient_close (both) stays off: stricter",
                )
                return
        self.seen["close"] = _set(", ".join(shown), False)
        self.discard()

    def _pages(self) -> None:
        if self.active is None:
            self.start()
        whole = self.push(_page(_user(1), hint=7))
        if not whole.ok:
            for key in ("page_hint", *PAGE_PROBES):
                self.seen[key] = Seen(
                    f"valid page: {whole.brief()}", note="not determined: a valid User page was refused"
                )
            return
        text = self.push(_page(_user(2), hint="p-7"))
        self.seen["page_hint"] = Seen(f"{_echo(whole, 7)}, {_echo(text, 'p-7')}", note="reported")
        field = self.push(_page(_user(3, department="R&D")))
        self.seen["unknown_fields"] = _choice(field, "accept", "reject")
        missing = self.push(_page(_user(4, employmentType=None)))
        self.seen["required"] = Seen(
            missing.brief() + ("" if missing.status == 400 else " (loosen User with --schemas)"),
            note="reported",
        )
        repeated = json.dumps(_user(5))[:-1] + ', "firstName": "Probe again"}'
        self.seen["duplicate_names"] = _choice(
            self.push(raw=b'{"entities": {"User": [' + repeated.encode() + b"]}}"), "last_wins", "reject"
        )
        self.seen["unknown_entity_types"] = _choice(
            self.push(_page({"id": "W1"}, entity_type="Widget")), "accept", "reject"
        )
        bare = self.push(raw=json.dumps(_page(_user(6))).encode(), json_type=False)
        if bare.ok or bare.status == 415:
            self.seen["missing_content_type"] = _set(bare.brief(), "json" if bare.ok else "reject")
        else:
            self.seen["missing_content_type"] = Seen(bare.brief(), note="not determined")
        # The size probes before the last ones: a server that answered 413 early may still be
        # reading (and dropping) the rest of the body for a moment.
        self._request_bytes()
        self._page_items()

    def _page_items(self) -> None:
        def fits(n: int) -> bool:
            reply = self.push(_page(*(_user(100 + i) for i in range(n))))
            tried.append(f"{n}: {reply.status}")
            return reply.ok

        tried: list[str] = []
        if not fits(101):
            if fits(100):
                self.seen["max_page_items"] = _set(", ".join(tried), 100)
            else:
                self.seen["max_page_items"] = Seen(", ".join(tried), note="not determined: 100 records refused too")
            return
        if fits(200):
            if fits(201):
                self.seen["max_page_items"] = _set(", ".join(tried), None, "no limit found up to 201 records")
            else:
                self.seen["max_page_items"] = _set(", ".join(tried), 200)
            return
        accepted, refused = 101, 200  # the limit is in between: halve it (at most 7 pages)
        while refused - accepted > 1:
            middle = (accepted + refused) // 2
            if fits(middle):
                accepted = middle
            else:
                refused = middle
        self.seen["max_page_items"] = _set(f"limit {accepted} ({', '.join(tried)})", accepted)

    def _request_bytes(self) -> None:
        over_docs = self.push(raw=_padded(DOCS_LIMIT + 1))
        shown = f"{DOCS_LIMIT + 1:,} B: {over_docs.status}"
        if over_docs.status == 413:
            self.seen["max_request_bytes"] = _set(shown, DOCS_LIMIT)
            return
        if not over_docs.ok:
            self.seen["max_request_bytes"] = Seen(shown, note="not determined")
            return
        over_mib = self.push(raw=_padded(MIB_LIMIT + 1))
        shown += f", {MIB_LIMIT + 1:,} B: {over_mib.status}"
        if over_mib.status == 413:
            self.seen["max_request_bytes"] = _set(shown, MIB_LIMIT)
        elif over_mib.ok:
            self.seen["max_request_bytes"] = Seen(shown, note="larger than 5 MiB")
        else:
            self.seen["max_request_bytes"] = Seen(shown, note="not determined")


PAGE_PROBES = (
    "unknown_fields",
    "required",
    "duplicate_names",
    "unknown_entity_types",
    "missing_content_type",
    "max_page_items",
    "max_request_bytes",
)


def _choice(reply: Reply, accepted: str, refused: str) -> Seen:
    if reply.ok:
        return _set(reply.brief(), accepted)
    if reply.status == 400:
        return _set(reply.brief(), refused)
    return Seen(reply.brief(), note="not determined")


def _echo(reply: Reply, sent: Any) -> str:
    echoes = reply.body.get("echoes") if isinstance(reply.body, dict) else None
    if not reply.ok:
        return f"{sent!r}: {reply.brief()}"
    if not isinstance(echoes, dict) or "page_hint" not in echoes:
        return f"{sent!r} not echoed"
    got = echoes["page_hint"]
    return f"{sent!r} as sent" if got == sent and type(got) is type(sent) else f"{sent!r} -> {got!r}"


# ---- the report ------------------------------------------------------------------------------------
# (key, what the table calls it, the setting it writes or None: reported only)
ASSUMPTIONS: tuple[tuple[str, str, str | None], ...] = (
    ("close", 'close without "status" ("action", no body)', "lenient_close"),
    ("close_status", "close status code on success", None),
    ("inactivity", "inactivity timeout (expires_at - updated_at)", "inactivity_timeout_seconds"),
    ("page_hint", "page_hint echoed (integer, string)", None),
    ("unknown_fields", 'User + unknown field "department"', "unknown_fields"),
    ("required", "User without employmentType", None),
    ("duplicate_names", "repeated member name in an object", "duplicate_names"),
    ("unknown_entity_types", "type with no schema (Widget)", "unknown_entity_types"),
    ("missing_content_type", "page without Content-Type", "missing_content_type"),
    ("max_page_items", "records in one page", "max_page_items"),
    ("max_request_bytes", "request size limit", "max_request_bytes"),
)


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _written(seen: Seen, setting: str | None) -> str:
    if setting is None:
        return "- (reported)"
    if not seen.written:
        return f"- ({seen.note or 'not determined'})"
    return f"{setting}: {_yaml_scalar(seen.value)}"


def table(emulator: dict[str, Seen], probed: dict[str, Seen]) -> str:
    missing = Seen("-", note="not probed")
    rows: list[tuple[str, ...]] = [("assumption", "emulator (defaults)", "probed server", "setting written")]
    for key, label, setting in ASSUMPTIONS:
        theirs = probed.get(key, missing)
        rows.append((label, emulator.get(key, missing).shown, theirs.shown, _written(theirs, setting)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rows.insert(1, tuple("-" * width for width in widths))
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def settings_file(probed: dict[str, Seen], target: Target, integration_id: str, name: str = DEFAULT_OUT) -> str:
    """The ``settings:`` mapping ``--config`` reads, each value with what the server answered."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# Written by mock-sprinto probe {__version__} at {stamp}",
        f"# from {target.shown} (integration {integration_id}).",
        f"# Use: mock-sprinto serve --config {name}",
        "settings:",
    ]
    skipped: list[str] = []
    for key, label, setting in ASSUMPTIONS:
        if setting is None:
            continue
        seen = probed.get(key, Seen("-", note="not probed"))
        said = _comment(f"{label}: {seen.shown}" + (f"; {seen.note}" if seen.note else ""))
        if seen.written:
            lines.append(f"  {f'{setting}: {_yaml_scalar(seen.value)}':36} # {said}")
        else:
            skipped.append(f"#   {setting} ({said})")
    if skipped:
        lines += ["# not written (the emulator's default stays):", *skipped]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return " ".join(text.split())


# ---- the command ---------------------------------------------------------------------------------
@contextmanager
def _emulator() -> Iterator[Client]:
    """An emulator with default settings on 127.0.0.1, an ephemeral port, on a background thread."""
    from .settings import Config, Settings
    from .testing.server import MockSprintoServer

    server = MockSprintoServer(Config(Settings()))
    server.start()
    try:
        yield Client(Target.parse(server.base_url), EMULATOR_ID, EMULATOR_KEY, DEFAULT_TIMEOUT)
    finally:
        # The 413 probe's connection can still be draining the refused body (aiohttp's lingering
        # read) when the server stops; asyncio then notes a destroyed pending task on stderr.
        # It is this throw-away server's teardown, nothing the user can act on: keep it quiet.
        noise = _DestroyedTaskNoise()
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.addFilter(noise)
        try:
            server.stop()
            gc.collect()
        finally:
            asyncio_log.removeFilter(noise)


class _DestroyedTaskNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Task was destroyed but it is pending")


def _summary(target: Target, integration_id: str, run: Probe) -> str:
    closed = f"{run.started} session(s) started, all discarded"
    if run.bare_closed:
        closed = (
            f"{run.started} session(s) started: {run.bare_closed} closed without a status (it held no page), "
            "the rest discarded"
        )
    return f"mock-sprinto probe: {target.shown}, integration {integration_id}: {run.client.requests} requests, {closed}"


def probe(
    base_url: str,
    integration_id: str,
    api_key: str | None,
    *,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    timeout: float = DEFAULT_TIMEOUT,
    probe_close: bool = False,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """The whole command; returns its exit code. Every line goes out through ``say`` (the report)
    or ``warn`` (the one error line), scrubbed of the api-key."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)

    def scrub(text: str) -> str:
        return text.replace(key, "***") if key else text

    def fail(message: str, code: int = FAILED) -> int:
        warn(scrub(f"mock-sprinto probe: error: {message}"))
        return code

    if not key:
        return fail(f"an api-key is needed: --api-key KEY or the environment variable {API_KEY_ENV}", USAGE_ERROR)
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in key):
        return fail("the api-key holds characters an HTTP header cannot carry", USAGE_ERROR)
    if not integration_id or any(ord(c) < 0x20 or ord(c) == 0x7F for c in integration_id):
        return fail("--integration-id must be non-empty printable text", USAGE_ERROR)
    if not 0 < timeout <= BUDGET_SECONDS:
        return fail(f"--timeout must be a number of seconds above 0 and at most {BUDGET_SECONDS:g}", USAGE_ERROR)
    path = Path(out)
    try:
        target = Target.parse(base_url)
        theirs = Probe(Client(target, integration_id, key, timeout), probe_close)
        probed = theirs.run()
        with _emulator() as client:
            ours = Probe(client, probe_close=True).run()  # the emulator's own answers are always safe to ask
        path.write_text(scrub(settings_file(probed, target, integration_id, path.name)), encoding="utf-8")
        load_config(path, env={})  # what was written is what --config reads
    except ProbeError as exc:
        return fail(str(exc), exc.exit_code)
    except OSError as exc:
        return fail(f"cannot write {str(path)!r}: {exc.strerror or exc}")
    except SettingsError as exc:  # a bug here, never the server's doing
        return fail(f"the settings file written does not load: {exc}")
    except KeyboardInterrupt:
        return fail("interrupted (the sessions the probe had started were discarded)")
    except Exception as exc:  # one line: a traceback could quote a header
        return fail(f"unexpected {type(exc).__name__}: {exc}")
    say(scrub(_summary(target, integration_id, theirs)))
    say("")
    say(scrub(table(ours, probed)))
    say("")
    say(scrub(f"settings written to {path} (use: mock-sprinto serve --config {path})"))
    return 0
