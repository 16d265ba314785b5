"""The probe's plan: the same short lifecycle against any server (a start, a few closes, a handful
of pages), and what each answer says about an assumption the emulator makes (``Seen``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..clock import parse_time
from .client import Client, ProbeError, Reply

DOCS_LIMIT = 5_000_000  # the docs' "5 MB", read as bytes
MIB_LIMIT = 5 * 1024 * 1024  # the other reading: 5 MiB
REFERENCE = "mock-sprinto-probe"  # client_reference_id of every session the probe starts


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
        # Sprinto's schema sets no minimum on a type's records: staged or refused? (The session is
        # discarded, never applied: an accepted empty User page would empty the dataset.)
        self.seen["empty_pages"] = _choice(self.push(_page()), "accept", "reject")
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
    "empty_pages",
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
