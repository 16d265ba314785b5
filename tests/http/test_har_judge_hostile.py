"""Hostile numbers in a HAR: values ``str.isdigit`` takes and ``int()`` refuses (``²``), and whole
numbers beyond what the report can write (orjson: 64 bits), directly or once the judge counts on from
them (a ``_page`` of 2**64-1, then a push without ``_page``). ``mock-sprinto judge FILE.har`` judges
without the value and says so in a note (never a traceback); ``POST /_mock/judge`` answers 200 the
same way (never a 500)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from mock_sprinto.cli import main
from mock_sprinto.report.har import MAX_WHOLE, judge_har

from ..helpers import Control

BASE = "https://api.sprinto.com/api/external/push/v1/integrations/hr"
PAGE = {"page_hint": 1, "entities": {"User": [{"employeeId": "E1", "firstName": "A"}]}}


def entry(
    second: int,
    method: str,
    path: str,
    status: Any,
    *,
    request_headers: tuple[tuple[str, str], ...] = (),
    response_headers: tuple[tuple[str, str], ...] = (),
    body: Any = None,
    answer: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    made: dict[str, Any] = {
        "startedDateTime": f"2026-03-02T08:00:{second:02d}.000Z",
        "time": 10,
        "request": {
            "method": method,
            "url": BASE + path,
            "headers": [{"name": n, "value": v} for n, v in request_headers],
        },
        "response": {"status": status, "headers": [{"name": n, "value": v} for n, v in response_headers]},
    }
    if body is not None:
        made["request"]["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    if answer is not None:
        made["response"]["content"] = {"mimeType": "application/json", "text": json.dumps(answer)}
    made.update(extra)
    return made


START = entry(0, "POST", "/sessions", 201, answer={"id": "s1", "state": "active"})


def har(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "entries": [START, *entries]}}


def sized(body_size: int) -> dict[str, Any]:
    push = entry(1, "POST", "/sessions/s1/entities", 202, body=PAGE)
    push["request"]["bodySize"] = body_size
    return har(push)


def throttled_then(retry_after: str) -> dict[str, Any]:
    return har(
        entry(1, "POST", "/sessions/s1/entities", 429, response_headers=(("Retry-After", retry_after),), body=PAGE),
        entry(2, "POST", "/sessions/s1/entities", 202, body=PAGE),
    )


HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "retry-after-superscript": (throttled_then("²"), "entry 2 Retry-After '²'"),
    "retry-after-30-digits": (throttled_then("9" * 30), "entry 2 Retry-After '999999999"),
    "content-length-superscript": (
        har(entry(1, "POST", "/sessions/s1/entities", 202, request_headers=(("Content-Length", "³"),), body=PAGE)),
        "entry 2 Content-Length '³'",
    ),
    "page-u64-then-a-push-without-page": (
        har(
            entry(1, "POST", "/sessions/s1/entities", 202, body=PAGE, _page=2**64 - 1),
            entry(2, "POST", "/sessions/s1/entities", 202, body={**PAGE, "page_hint": 2}),
        ),
        "entry 2 _page 18446744073709551615",
    ),
    "body-size-u64": (sized(2**64 - 1), "entry 2 request.bodySize 18446744073709551615"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_value_is_ignored_with_a_note_and_the_report_can_be_written(name: str) -> None:
    document, noted = HOSTILE[name]
    judgement = judge_har(orjson.loads(orjson.dumps(document))).public()
    orjson.dumps(judgement)  # what POST /_mock/judge writes: every number within 64 bits
    (judged,) = judgement["integrations"]
    notes = [note for note in judged["notes"] if note.startswith("values the judge cannot read were ignored")]
    assert len(notes) == 1 and noted in notes[0], judged["notes"]


def test_a_page_after_a_huge_page_ordinal_counts_on_from_the_pages_the_har_shows() -> None:
    document = HOSTILE["page-u64-then-a-push-without-page"][0]
    judgement = judge_har(document).public()
    pages = [
        evidence["page"]
        for finding in judgement["integrations"][0]["findings"]
        for evidence in finding["evidence"]
        if "page" in evidence
    ]
    assert all(1 <= page <= MAX_WHOLE for page in pages), pages


def test_a_retry_after_in_ascii_digits_is_still_read() -> None:
    """The bound leaves a real capture's Retry-After alone: 2 s, and a retry after 1 s is too soon."""
    judgement = judge_har(throttled_then("2")).public()
    (judged,) = judgement["integrations"]
    assert "retry_too_soon" in [f["id"] for f in judged["findings"]]
    assert not any(note.startswith("values the judge cannot read") for note in judged["notes"])


@pytest.mark.parametrize("status", [2**64 - 1, 1e300, -1, 1000])
def test_an_entry_whose_status_is_no_http_status_is_left_out(status: Any) -> None:
    document = har(entry(1, "POST", "/sessions/s1/entities", status, body=PAGE))
    judgement = judge_har(orjson.loads(orjson.dumps(document))).public()
    orjson.dumps(judgement)
    assert judgement["left_out_count"] == 1 and "is not an HTTP status" in judgement["left_out"][0]["why"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_post_judge_answers_200_never_500(control: Control, name: str) -> None:
    document, noted = HOSTILE[name]
    async with control.client.post(
        "/_mock/judge", data=orjson.dumps(document), headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 200, await response.text()
        judgement = await response.json()
    assert any(noted in note for note in judgement["integrations"][0]["notes"])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_judge_command_notes_the_value_and_prints_no_traceback(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document, noted = HOSTILE[name]
    path = tmp_path / f"{name}.har"
    path.write_bytes(orjson.dumps(document))
    code = main(["judge", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in out + err, err  # 1: findings, never 'cannot read'
    assert "note: values the judge cannot read were ignored" in out and noted in out
    code = main(["judge", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 1) and json.loads(out)["integrations"], err
