"""Issue 21: the journal's ring costs the garbage collector nothing once an entry is recorded."""

from __future__ import annotations

import gc

import pytest

from mock_sprinto.journal import Journal, JournalEntry


def _entry(
    request_headers: tuple[tuple[bytes, bytes], ...], response_headers: tuple[tuple[str, str], ...]
) -> JournalEntry:
    return JournalEntry(
        request_id="req_1",
        at=1.0,
        method="POST",
        path="/x",
        operation="push_page",
        status=202,
        code=None,
        latency_ms=0.5,
        integration_id="acme",
        session_id=None,
        bytes_in=10,
        request_headers=request_headers,
        response_headers=response_headers,
    )


def test_a_recorded_entry_is_untracked_at_the_collectors_first_look() -> None:
    """Before: its headers were kept as tuples of pairs; the collector, which reorders what it
    looks at, often saw the entry before its headers, so entries stayed tracked until a full
    collection walked them all (full collections of 15-25 ms in `make bench` section 9)."""
    journal = Journal(10)
    for number in range(5):
        headers = tuple((f"x-{n}".encode(), f"v{number}".encode()) for n in range(8))
        journal.add(_entry(headers, (("Content-Type", "application/json"), ("X-Request-Id", f"req_{number}"))))
    gc.collect(0)
    assert not any(gc.is_tracked(row) for row in journal._rows)
    # and read back exactly as recorded
    entry = journal.entries[-1]
    assert entry.request_headers == tuple((f"x-{n}".encode(), b"v4") for n in range(8))
    assert entry.response_headers == (("Content-Type", "application/json"), ("X-Request-Id", "req_4"))


@pytest.mark.parametrize(
    "request_headers, response_headers",
    [
        ((), ()),
        (((b"a", b""),), (("B", ""),)),
        (((b"a", b"x: y"),), (("B", "x: y"),)),  # ": " in a value
        (((b"a", b"x\r\ny"),), (("B", "x\r\ny"),)),  # a line break, as only a bundle's file could hold
        (((b"a:b", b"c"), (b"d", b"")), (("a: b", "c"),)),
    ],
)
def test_headers_are_read_back_exactly_as_kept(
    request_headers: tuple[tuple[bytes, bytes], ...], response_headers: tuple[tuple[str, str], ...]
) -> None:
    journal = Journal(10)
    journal.add(_entry(request_headers, response_headers))
    entry = journal.entries[0]
    assert entry.request_headers == request_headers
    assert entry.response_headers == response_headers


def test_answers_after_are_the_status_and_code_of_answered_after_for_one_integration() -> None:
    """A pytest test's coverage reads each answer's status and code from the rows, making no entry
    (control.coverage_kept): the same answers, of this integration only, as the entries say."""
    journal = Journal(10)
    for number, (integration, status, code) in enumerate(
        [("acme", 201, None), ("other", 409, "session_already_active"), ("acme", 429, "rate_limited")], start=1
    ):
        entry = _entry((), ())
        entry.integration_id, entry.status, entry.code, entry.answer = integration, status, code, number * 2
        journal.add(entry)
    for order in (0, 2, 3, 6):
        mine = [(e.status, e.code) for e in journal.answered_after(order, "acme")]
        assert journal.answers_after(order, "acme") == mine[::-1]
        assert {e.integration_id for e in journal.answered_after(order, "other")} <= {"other"}
    assert journal.answers_after(0, "acme") == [(429, "rate_limited"), (201, None)]
