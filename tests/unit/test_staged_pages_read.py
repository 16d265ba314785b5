"""Before its session is processed, a rejected page is looked for in the staged bodies of the pages
accepted after it: a bounded number of bodies a report (a session of 200 rejected pages spread among
10,000 staged ones read 4,000 of them, ~240 ms of one step of the loop, at every report the dashboard
asked for while it was processing)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mock_sprinto.report import checks
from mock_sprinto.store import Page, Session


def page(ordinal: int, accepted: bool, **fields: Any) -> Page:
    return Page(ordinal, f"req_{ordinal}", 0.0, accepted, 1, {"User": 1}, 10, 10, "identity", **fields)


def a_session(rejected: int, staged_after_each: int) -> Session:
    session = Session(
        id="ses_1", integration_id="acme", ordinal=1, client_reference_id=None, inactivity_timeout=3600, created_at=0.0
    )
    session.close_status = "apply"
    ordinal = 0
    for n in range(rejected):
        ordinal += 1
        session.rejected_pages.append(page(ordinal, False, page_hint=f"r{n}", record_keys=(("User", f"lost-{n}"),)))
        for _ in range(staged_after_each):
            ordinal += 1
            body = orjson.dumps({"entities": {"User": [{"employeeId": f"E{ordinal}"}]}, "page_hint": f"a{ordinal}"})
            session.add_page(page(ordinal, True, page_hint=f"a{ordinal}", payload=body))
    return session


def test_a_report_reads_a_bounded_number_of_staged_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[bytes] = []
    real = checks.rejected_record_keys
    monkeypatch.setattr(checks, "rejected_record_keys", lambda raw, key_field: read.append(raw) or real(raw, key_field))
    left = checks.unrecovered_pages(a_session(200, 50), None, {"User": "employeeId"})
    assert len(left) == 200  # none of them sent again: every one left out
    assert len(read) == checks.STAGED_PAGES_READ_A_REPORT


def test_a_page_sent_again_among_the_next_pages_is_found_in_their_bodies() -> None:
    session = a_session(1, 3)
    body = orjson.dumps({"entities": {"User": [{"employeeId": "lost-0"}]}, "page_hint": "again"})
    session.add_page(page(5, True, page_hint="again", payload=body))
    assert checks.unrecovered_pages(session, None, {"User": "employeeId"}) == []
    assert [p.page_hint for p in checks.unrecovered_pages(session, None, {})] == ["r0"]  # no key field: not read
