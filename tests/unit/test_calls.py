"""A vendor call's shapes (``mock_sprinto.calls``): what the transport knows is frozen, what the
door learns is written once on ``Call.learned``, and the journal reads a push's page facts from
its one ``Wire``; an error answer carries its code, so nothing reads the body back."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import orjson
import pytest
from aiohttp import web

from mock_sprinto.calls import Answer, Call, Exchange
from mock_sprinto.errors import ApiError
from mock_sprinto.http.common import ERROR_CODE, error_response, problem_response
from mock_sprinto.journal import JournalEntry
from mock_sprinto.payload import Body, BytesBody
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Settings

from ..helpers import user


def exchange(call: Call | None, status: int, code: str | None = None) -> Exchange:
    return Exchange(
        request_id=call.request_id if call is not None else "req_x",
        started=call.started if call is not None else time.perf_counter(),
        method="POST",
        path="/api/external/push/v1/integrations/acme/sessions/x/entities",
        query="",
        http_version="HTTP/1.1",
        bytes_in=None,
        request_headers=(),
        status=status,
        code=code,
        response_headers={},
    )


def last_entry(emulator: Emulator, call: Call | None, status: int, code: str | None = None) -> JournalEntry:
    emulator.journal_call(call, exchange(call, status, code))
    return emulator.journal.entries[-1]


def test_what_the_transport_knows_is_final() -> None:
    """mypy refuses a write to any of these once the call is made; the door writes on ``learned``."""
    annotations = {f.name: str(f.type) for f in dataclasses.fields(Call)}
    assert all(kind.startswith("Final[") for kind in annotations.values()), annotations
    call = Call("integration_status", "acme", "k", "req", time.perf_counter())
    assert call.learned.tenant is None and call.learned.arrival == 0


def test_the_door_records_what_it_learns_on_the_call(emulator: Emulator) -> None:
    start = Call("start_session", "acme", "k", "req_1", time.perf_counter())
    outcome = asyncio.run(emulator.start(start, BytesBody(b"")))
    assert isinstance(outcome, Answer)
    learned = start.learned
    assert learned.tenant is emulator.tenants["acme"] and learned.arrival > 0 and learned.arrived_at is not None
    assert learned.created_session == outcome.body["id"] and start.session_id is None
    assert learned.rate_limit_headers is not None
    again = Call("start_session", "acme", "k", "req_2", time.perf_counter())
    with pytest.raises(ApiError):
        asyncio.run(emulator.start(again, BytesBody(b"")))
    assert again.learned.names_session == outcome.body["id"]
    assert last_entry(emulator, again, 409, "session_already_active").names_session == outcome.body["id"]
    assert last_entry(emulator, start, 201).session_id == outcome.body["id"]


def test_a_push_journals_its_page_facts_from_its_one_wire(emulator: Emulator) -> None:
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    raw = orjson.dumps({"entities": {"User": [user(1)]}})
    call = Call("push_page", "acme", "k", "req_p", time.perf_counter(), session_id=session.id)
    asyncio.run(emulator.push(call, BytesBody(raw)))
    wire = call.learned.wire
    assert wire is not None and wire.page == 1 and wire.digest is not None
    entry = last_entry(emulator, call, 202)
    assert (entry.encoding, entry.body_bytes, entry.digest, entry.page) == ("identity", len(raw), wire.digest, 1)
    assert (entry.session_id, entry.integration_id) == (session.id, "acme")


class RefusedBody:
    """A body whose read is refused (too large), as ``http/body.py`` refuses one."""

    present = True
    declared_length: int | None = 5000
    content_encoding = "gzip"
    wire_bytes_read: int | None = None  # refused before the whole body was read

    async def read(self, settings: Settings) -> Body:
        raise ApiError(413, "payload_too_large", "too large")


@pytest.mark.parametrize(("declared", "journaled"), [(5000, 5000), (None, None)])
def test_a_refused_read_journals_the_declared_length(
    emulator: Emulator, declared: int | None, journaled: int | None
) -> None:
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    call = Call("push_page", "acme", "k", "req_r", time.perf_counter(), session_id=session.id)
    source = RefusedBody()
    source.declared_length = declared
    with pytest.raises(ApiError):
        asyncio.run(emulator.push(call, source))
    entry = last_entry(emulator, call, 413, "payload_too_large")
    assert (entry.encoding, entry.body_bytes, entry.digest, entry.page) == ("gzip", journaled, None, 1)


def test_an_empty_page_read_journals_zero_bytes(emulator: Emulator) -> None:
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    call = Call("push_page", "acme", "k", "req_e", time.perf_counter(), session_id=session.id)
    with pytest.raises(ApiError):
        asyncio.run(emulator.push(call, BytesBody(b"")))
    assert last_entry(emulator, call, 400, "malformed_body").body_bytes == 0


def test_a_path_no_operation_serves_is_journaled_with_nothing_learned(emulator: Emulator) -> None:
    entry = last_entry(emulator, None, 404, "not_found")
    assert (entry.operation, entry.integration_id, entry.session_id, entry.rule) == ("unknown", None, None, None)
    assert entry.arrival == entry.answer and entry.arrived_at == entry.at


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "custom", "x": 1}, 503, "custom"),
        ({"code": 5}, 418, None),
        ([1, 2], 502, None),
        ({"code": "ok_code"}, 200, None),
    ],
)
def test_an_error_answer_carries_the_code_its_body_says(body: Any, status: int, code: str | None) -> None:
    response = error_response(body, status)
    assert response.get(ERROR_CODE) == code


def test_a_problem_response_carries_its_error_code() -> None:
    response: web.Response = problem_response(ApiError(409, "conflict_here", "no"))
    assert response[ERROR_CODE] == "conflict_here"
    assert isinstance(response.body, bytes) and orjson.loads(response.body)["code"] == "conflict_here"


def test_a_journaled_push_reads_back_every_field_by_name(make_emulator: Any) -> None:
    """The journal makes its row straight from the call and the exchange (no ``JournalEntry`` in
    between): each field read back by name, so a value written in another field's place shows."""
    emulator = make_emulator(journal_bodies_bytes=4, journal_header_bytes=20)
    tenant = emulator.authenticate("acme", "k")
    session = emulator.sessions.start_session(tenant, None)
    raw = orjson.dumps({"entities": {"User": [user(1)]}})
    call = Call("push_page", "acme", "k", "req_f", time.perf_counter(), session_id=session.id)
    asyncio.run(emulator.push(call, BytesBody(raw)))
    sent = Exchange(
        "req_f",
        call.started,
        "POST",
        "/p" * 200,
        "a=1&b=2&c=3&d=4&e=5&f=6",
        "HTTP/1.0",
        len(raw),
        ((b"api-key", b"k"), (b"Content-Type", b"application/json")),
        202,
        None,
        {"Retry-After": "7", "X-Request-Id": "req_f"},
        "application/json",
        b"{'answer': 1}",
    )
    emulator.journal_call(call, sent)
    entry = emulator.journal.entries[-1]
    wire = call.learned.wire
    assert wire is not None and wire.digest is not None
    expected = {
        "request_id": "req_f",
        "method": "POST",
        "path": ("/p" * 200)[:300],
        "operation": "push_page",
        "status": 202,
        "code": None,
        "integration_id": "acme",
        "session_id": session.id,
        "bytes_in": len(raw),
        "rule": None,
        "arrived_at": call.learned.arrived_at,
        "arrival": call.learned.arrival,
        "retry_after": 7,
        "encoding": "identity",
        "body_bytes": len(raw),
        "digest": wire.digest,
        "page": 1,
        "names_session": None,
        "query": "a=1&b=2&c=3&d=4&e=5&"[:20],
        "http_version": "HTTP/1.0",
        "request_headers": ((b"api-key", b"k"),),
        "request_headers_dropped": 1,
        "response_headers": (("Retry-After", "7"), ("X-Request-Id", "req_f")),
        "request_body": raw[:4],
        "response_body": b"{'an",
        "request_body_bytes": len(raw),
        "response_body_bytes": len(b"{'answer': 1}"),
        "response_type": "application/json",
        "loop_busy_before": call.learned.loop_busy,
    }
    assert {name: getattr(entry, name) for name in expected} == expected
    assert entry.answer > entry.arrival and entry.at >= entry.arrived_at and entry.latency_ms >= 0
