"""no_request_accepted as a pure function: a run none of whose requests was accepted is the
client's error only when some were refused for what the client sent."""

from __future__ import annotations

from typing import Any

from mock_sprinto.report import judge

from .test_report import entry, tenant

START = {"method": "POST", "path": "/api/external/push/v1/integrations/acme/sessions", "operation": "start_session"}


def ids(entries: list[Any]) -> list[str]:
    return [f.id for f in judge(tenant(), entries).findings]


def test_a_refusal_whose_answer_was_not_kept_is_explained_by_its_code() -> None:
    refused = entry(1, 2, 0.0, **START, status=415, code="unsupported_media_type")
    (found,) = judge(tenant(), [refused]).findings
    assert found.id == "no_request_accepted" and found.severity == "error"
    (evidence,) = found.evidence
    assert evidence["detail"] == "a body that is not JSON, or has no Content-Type"
    assert evidence["refusals"] == {"415 unsupported_media_type": 1}


def test_the_answers_own_detail_is_quoted_when_the_journal_kept_it() -> None:
    body = b'{"code": "unsupported_media_type", "detail": "Content-Type \'text/plain\' is not accepted"}'
    refused = entry(1, 2, 0.0, **START, status=415, code="unsupported_media_type", response_body=body)
    (found,) = judge(tenant(), [refused]).findings
    assert found.evidence[0]["detail"] == "Content-Type 'text/plain' is not accepted"


def test_refusals_that_are_not_the_clients_form_are_not_it() -> None:
    conflict = entry(1, 2, 0.0, **START, status=409, code="session_already_active")
    throttled = entry(3, 4, 1.0, **START, status=429, code="rate_limited", retry_after=1)
    failing = entry(5, 6, 2.0, **START, status=503, code="service_unavailable")
    injected = entry(7, 8, 3.0, **START, status=400, code="validation_failed", rule="Prefer: code=400")
    hung_up = entry(9, 10, 4.0, **START, status=499, code="client_disconnected")
    lost = entry(11, 12, 5.0, **START, status=0, code="transport_reset")
    assert "no_request_accepted" not in ids([conflict, throttled, failing, injected, hung_up, lost])


def test_one_accepted_request_is_enough_whatever_was_refused() -> None:
    refused = entry(1, 2, 0.0, **START, status=415, code="unsupported_media_type")
    status = entry(3, 4, 1.0)  # GET /status, 200
    assert "no_request_accepted" not in ids([refused, status])


def test_only_the_clients_own_refusals_are_counted_beside_the_others() -> None:
    failing = entry(1, 2, 0.0, **START, status=503, code="service_unavailable")
    refused = entry(3, 4, 1.0, **START, status=415, code="unsupported_media_type")
    (found,) = judge(tenant(), [failing, refused]).findings
    assert found.evidence[0]["request_id"] == refused.request_id
    assert found.evidence[0]["refusals"] == {"415 unsupported_media_type": 1}
    assert found.evidence[0]["requests"] == 2
