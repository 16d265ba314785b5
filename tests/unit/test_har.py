"""har.py is pure: journal entries in, a HAR 1.2 mapping out."""

from __future__ import annotations

import base64

from haralyzer import HarParser

from mock_sprinto.har import har
from mock_sprinto.journal import JournalEntry


def entry(**fields: object) -> JournalEntry:
    base: dict[str, object] = {
        "request_id": "req_1",
        "at": 1_800_000_000.0,
        "method": "POST",
        "path": "/api/external/push/v1/integrations/a/sessions/s/entities",
        "operation": "push_page",
        "status": 202,
        "code": None,
        "latency_ms": 1.5,
        "integration_id": "a",
        "session_id": "s",
        "bytes_in": 4,
    }
    base.update(fields)
    return JournalEntry(**base)  # type: ignore[arg-type]


def test_secrets_are_redacted_bodies_kept_as_text_or_base64_and_cuts_said() -> None:
    headers = [
        (b"Host", b"emu:1"),
        (b"api-key", b"s3cret"),
        (b"Cookie", b"a=1; b=2"),
        (b"Content-Type", b"application/json"),
    ]
    answered = (("Content-Type", "application/json"), ("Set-Cookie", "sid=x; HttpOnly"), ("Content-Length", "2"))
    log = har(
        [
            entry(
                request_headers=headers,
                response_headers=answered,
                request_body=b"\xff\xfe",
                request_body_bytes=2,
            ),
            entry(
                query="page=1",
                request_body="é".encode()[:1] + b"",
                request_body_bytes=9,
                response_body=b"{}",
                response_body_bytes=2,
            ),
        ],
        "http://fallback:2",
        "9.9",
    )
    first, second = HarParser(log).har_data["entries"]
    assert first["request"]["url"] == "http://emu:1/api/external/push/v1/integrations/a/sessions/s/entities"
    assert {h["name"]: h["value"] for h in first["request"]["headers"]}["api-key"] == "[redacted]"
    assert first["request"]["cookies"] == [{"name": "a", "value": "[redacted]"}, {"name": "b", "value": "[redacted]"}]
    assert first["response"]["cookies"] == [{"name": "sid", "value": "[redacted]"}]
    assert first["response"]["bodySize"] == 2 and first["response"]["content"]["size"] == 2
    post = first["request"]["postData"]
    assert post["encoding"] == "base64" and base64.b64decode(post["text"]) == b"\xff\xfe"
    assert second["request"]["url"].startswith("http://fallback:2/") and second["request"]["url"].endswith("?page=1")
    assert second["request"]["queryString"] == [{"name": "page", "value": "1"}]
    assert second["request"]["postData"]["text"] == ""  # a character the cut split is left out
    assert "cut at 1 of 9 bytes" in second["request"]["postData"]["comment"]
    assert second["response"]["content"]["text"] == "{}"
    assert log["log"]["creator"] == {"name": "mock-sprinto", "version": "9.9"}
    kept = har([entry(request_headers=headers)], "http://x", "1", redact=False)
    assert {h["name"]: h["value"] for h in kept["log"]["entries"][0]["request"]["headers"]}["api-key"] == "s3cret"


def test_status_text_is_the_reason_phrase_of_the_statuses_the_export_names_and_empty_otherwise() -> None:
    statuses = (0, 200, 202, 413, 429, 499, 503, 507, 408, 418)
    log = har([entry(status=status) for status in statuses], "http://fallback:2", "9.9")
    assert {e["response"]["status"]: e["response"]["statusText"] for e in log["log"]["entries"]} == {
        0: "",  # no answer at all (a transport fault)
        200: "OK",
        202: "Accepted",
        413: "Content Too Large",  # RFC 9110's name, whatever Python's HTTPStatus says
        429: "Too Many Requests",
        499: "",  # the client hung up: no standard phrase
        503: "Service Unavailable",
        507: "Insufficient Storage",
        408: "",  # never named by the export (a deadline's or a scenario's status)
        418: "",
    }
