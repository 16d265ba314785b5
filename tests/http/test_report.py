"""The judge over HTTP: for each finding a scripted client that misbehaves that way, with the
evidence it must name, and a well-behaved client that earns no error and no warning."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import aiohttp
import orjson
import pytest

from mock_sprinto.report import KINDS

from ..helpers import Control, Vendor, user, users

ONE_429 = {
    "name": "one-429",
    "rules": [
        {
            "match": {"operation": "push_page"},
            "when": {"nth": 2},
            "times": 1,
            "respond": {"status": 429, "retry_after": 2},
        }
    ],
}


async def report(control: Control, integration_id: str = "acme") -> Any:
    return await control.get(f"/integrations/{integration_id}/report")


def finding(body: Any, finding_id: str) -> Any:
    found = [f for f in body["findings"] if f["id"] == finding_id]
    assert found, f"no {finding_id} in {[f['id'] for f in body['findings']]}"
    return found[0]


def ids(body: Any) -> list[str]:
    return [f["id"] for f in body["findings"]]


def covered(body: Any) -> dict[str, tuple[bool, bool | None]]:
    return {item["behaviour"]: (item["met"], item["recovered"]) for item in body["coverage"]}


async def journal(control: Control) -> list[Any]:
    return await control.journal(integration_id="acme")


async def test_a_well_behaved_client_earns_no_error_and_no_warning(vendor: Vendor, control: Control) -> None:
    async with control.client.put("/_mock/integrations/acme/scenario", json=ONE_429) as response:
        assert response.status == 200
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": users(0, 100)}, "page_hint": 1})
    page2 = {"entities": {"User": users(100, 100)}, "page_hint": 2}
    _, throttled = await vendor.call("POST", f"/sessions/{session['id']}/entities", 429, json=page2)
    await control.advance(throttled["retry_after_seconds"], "acme")  # waited out
    await vendor.push(session["id"], page2)
    bad = {"entities": {"User": [user(200), user(201, workEmail="nope")]}, "page_hint": 3}
    await vendor.push(session["id"], bad, expect=400)
    await vendor.push(session["id"], {"entities": {"User": [user(200), user(201)]}, "page_hint": 3})  # fixed
    await vendor.close(session["id"])
    for _ in range(6):  # polled once a second
        if (await vendor.session(session["id"]))["state"] == "processed":
            break
        await control.advance(1, "acme")

    body = await report(control)
    assert body["integration_id"] == "acme"
    assert body["summary"] == {"errors": 0, "warnings": 0, "infos": 0}, body["findings"]
    cover = covered(body)
    assert cover["rate_limited"] == (True, True)
    assert cover["page_rejected"] == (True, True)
    assert cover["applied"] == (True, None)
    assert cover["session_expired"] == (False, None)
    assert body["coverage"][0]["behaviour"] == "page_rejected"


async def test_retry_too_soon_names_the_early_request_and_the_429(vendor: Vendor, control: Control) -> None:
    async with control.client.put("/_mock/integrations/acme/scenario", json=ONE_429) as response:
        assert response.status == 200
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    page = {"entities": {"User": [user(2)]}, "page_hint": 2}
    await vendor.push(session["id"], page, expect=429)
    await control.advance(1, "acme")  # half the Retry-After
    await vendor.push(session["id"], page)

    body = await report(control)
    entries = await journal(control)
    found = finding(body, "retry_too_soon")
    assert found["severity"] == "error" and found["basis"] == "doc" and found["count"] == 1
    (evidence,) = found["evidence"]
    assert evidence["request_id"] == entries[-1]["request_id"]
    assert evidence["after_429"] == entries[-2]["request_id"]
    assert evidence["retry_after_seconds"] == 2 and evidence["waited_seconds"] == 1.0
    assert evidence["session_id"] == session["id"] and evidence["at"] == "2026-01-01T00:00:01.000Z"
    assert "Retry-After" in found["advice"]
    assert covered(body)["rate_limited"] == (True, True)


async def test_a_rejected_page_sent_again_unchanged_is_an_error(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    bad = {"entities": {"User": [user(1, workEmail="nope")]}, "page_hint": 1}
    await vendor.push(session["id"], bad, expect=400)
    await vendor.push(session["id"], bad, expect=400)

    found = finding(await report(control), "resent_rejected_page_unchanged")
    entries = await journal(control)
    (evidence,) = found["evidence"]
    assert evidence["request_id"] == entries[-1]["request_id"]
    assert evidence["rejected_request_id"] == entries[-2]["request_id"]
    assert (evidence["page"], evidence["rejected_page"]) == (2, 1)


async def test_applying_a_session_whose_rejected_page_was_never_fixed_is_an_error(
    vendor: Vendor, control: Control
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.push(session["id"], {"entities": {"User": [user(2, workEmail="x")]}, "page_hint": 2}, expect=400)
    await vendor.push(session["id"], {"entities": {"User": [user(3)]}, "page_hint": 3})
    await vendor.close(session["id"])

    body = await report(control)
    (evidence,) = finding(body, "applied_with_rejected_pages")["evidence"]
    assert evidence["session_id"] == session["id"]
    assert (evidence["page"], evidence["page_hint"], evidence["code"]) == (2, 2, "validation_failed")
    assert covered(body)["page_rejected"] == (True, False)


async def test_pushing_after_close_is_an_error(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(session["id"])
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2}, expect=409)

    body = await report(control)
    (evidence,) = finding(body, "push_to_inactive_session")["evidence"]
    assert evidence["request_id"] == (await journal(control))[-1]["request_id"]
    assert evidence["state"] == "processing" and evidence["why"] == "after the client closed it"
    assert covered(body)["session_not_active"] == (True, False)


async def test_a_first_409_on_an_expired_session_is_no_finding_a_second_is(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await control.advance(3600, "acme")
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page, expect=409)
    assert "push_to_inactive_session" not in ids(await report(control))
    await vendor.push(session["id"], page, expect=409)
    assert finding(await report(control), "push_to_inactive_session")["count"] == 1


async def test_a_page_of_101_records_is_too_many_records_a_warning_of_the_emulators_basis(
    vendor: Vendor, control: Control
) -> None:
    """Sprinto calls 100 records a page 'e.g.'; whether it is a hard limit is unknown: basis mock, a warning."""
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": users(0, 101)}, "page_hint": 1}, expect=400)

    found = finding(await report(control), "too_many_records")
    assert (found["severity"], found["basis"]) == ("warning", "mock")
    (evidence,) = found["evidence"]
    assert evidence["code"] == "too_many_items" and evidence["page"] == 1
    assert "oversized_page" not in ids(await report(control))


async def test_a_body_over_sprintos_5_mb_is_an_oversized_page(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    big = {"entities": {"User": [user(1, notes="x" * 5_000_000)]}, "page_hint": 1}
    await vendor.push(session["id"], big, expect=413)
    found = finding(await report(control), "oversized_page")
    assert (found["severity"], found["basis"]) == ("error", "doc")
    (evidence,) = found["evidence"]
    assert evidence["code"] == "payload_too_large" and evidence["body_bytes"] > 5_000_000


async def test_a_gzip_page_refused_for_its_decoded_size_is_not_an_oversized_page(
    make_emulator: Any, serve: Any
) -> None:
    """Sprinto's 5 MB is on the wire ('compressed allowed'); the decoded bound is the emulator's own:
    a compressed page within 5 MB refused by it was blamed as an oversized page (a doc error)."""
    client = await serve(make_emulator(max_decoded_bytes=2000))
    vendor, control = Vendor(client), Control(client)
    session = await vendor.start()
    zipped = gzip.compress(orjson.dumps({"entities": {"User": users(0, 20)}, "page_hint": 1}))
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    await vendor.push(session["id"], None, expect=413, data=zipped, headers=headers)

    async def chunked() -> Any:  # no Content-Length: the journal knew no size for the refused body
        yield zipped

    await vendor.push(session["id"], None, expect=413, data=chunked(), headers=headers)
    assert "oversized_page" not in ids(await report(control))
    sizes = [e["body_bytes"] for e in await journal(control) if e["operation"] == "push_page"]
    assert sizes == [len(zipped), len(zipped)]  # the size read, with or without a Content-Length


async def test_a_limit_lower_than_sprintos_is_not_blamed_on_a_client_that_splits(
    make_emulator: Any, serve: Any
) -> None:
    """A limit a setting or scenario imposed is not Sprinto's: a client that splits at once earns nothing."""
    client = await serve(make_emulator(max_request_bytes=4000, max_page_items=10))
    vendor, control = Vendor(client), Control(client)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": users(0, 20)}, "page_hint": 1}, expect=413)
    await vendor.push(session["id"], {"entities": {"User": users(0, 11)}, "page_hint": 1}, expect=400)
    body = await report(control)
    assert "oversized_page" not in ids(body) and "too_many_records" not in ids(body)
    assert covered(body)["payload_too_large"] == (True, False)
    for start in range(0, 20, 4):  # the split pieces carry hints of their own
        await vendor.push(session["id"], {"entities": {"User": users(start, 4)}, "page_hint": f"1.{start}"})
    await vendor.close(session["id"])
    await vendor.session(session["id"])
    body = await report(control)
    assert covered(body)["payload_too_large"] == (True, True)
    assert ids(body) == []  # the refused pages were split, not left behind: no applied_with_rejected_pages


async def test_the_same_page_staged_twice_is_a_duplicate(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page)
    await vendor.push(session["id"], page)

    found = finding(await report(control), "duplicate_page")
    assert found["severity"] == "warning"
    (evidence,) = found["evidence"]
    assert (evidence["page"], evidence["same_as_page"], evidence["session_id"]) == (2, 1, session["id"])


async def test_evidence_names_a_page_by_the_hint_its_client_sent_too(vendor: Vendor, control: Control) -> None:
    # A page's ordinal counts every push its session received, refused ones too: the client's second
    # page is the emulator's page 3 here. The hint is the client's own name for it, beside the
    # ordinal; a page sent without one gets none.
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": "batch-1"})
    await vendor.push(session["id"], None, data=b"{", headers={"Content-Type": "text/plain"}, expect=415)
    page = {"entities": {"User": [user(2)]}, "page_hint": "batch-3"}
    await vendor.push(session["id"], page)
    await vendor.push(session["id"], page)
    await vendor.push(session["id"], {"entities": {"User": [user(3)]}})
    await vendor.push(session["id"], {"entities": {"User": [user(3)]}})

    found = finding(await report(control), "duplicate_page")
    first, second = found["evidence"]
    assert (first["page"], first["page_hint"], first["same_as_page"]) == (4, "batch-3", 3)
    assert second["page"] == 6 and "page_hint" not in second


async def test_a_page_sent_again_after_a_lost_answer_is_no_duplicate(vendor: Vendor, control: Control) -> None:
    lost = {
        "name": "lost",
        "rules": [
            {
                "match": {"operation": "push_page"},
                "when": {"nth": 1},
                "times": 1,
                "phase": "after",
                "respond": {"status": 503},
            }
        ],
    }
    async with control.client.put("/_mock/integrations/acme/scenario", json=lost) as response:
        assert response.status == 200
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page, expect=503)  # staged, but the client never learnt it
    await vendor.push(session["id"], page)
    assert "duplicate_page" not in ids(await report(control))


async def test_a_session_with_pages_left_to_expire(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await control.advance(3600, "acme")

    body = await report(control)
    (evidence,) = finding(body, "session_left_to_expire")["evidence"]
    assert evidence == {"session_id": session["id"], "accepted_pages": 1, "at": "2026-01-01T01:00:00.000Z"}
    assert covered(body)["session_expired"] == (True, False)


async def test_starting_again_and_again_on_409_ignores_the_conflict(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.start(expect=409)
    await vendor.start(expect=409)

    (evidence,) = finding(await report(control), "start_conflict_ignored")["evidence"]
    entries = await journal(control)
    assert evidence["request_ids"] == [entries[1]["request_id"], entries[2]["request_id"]]
    assert evidence["active_session_id"] == session["id"] and evidence["conflicts"] == 2


async def test_a_409_then_closing_the_active_session_is_no_finding(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    _, conflict = await vendor.call("POST", "/sessions", 409)
    await vendor.close(conflict["active_session_id"], "discard")
    await vendor.start()
    body = await report(control)
    assert "start_conflict_ignored" not in ids(body)
    assert covered(body)["start_conflict"] == (True, True)
    assert session["id"] == conflict["active_session_id"]


async def test_a_large_body_without_content_encoding(vendor: Vendor, control: Control) -> None:
    async with control.client.put("/_mock/integrations/acme/settings", json={"judge_large_body_bytes": 1000}) as r:
        assert r.status == 200
    session = await vendor.start()
    page = {"entities": {"User": users(0, 10)}, "page_hint": 1}
    await vendor.push(session["id"], page)
    zipped = gzip.compress(orjson.dumps({**page, "page_hint": 2}))
    await vendor.push(
        session["id"],
        None,
        data=zipped,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )

    found = finding(await report(control), "large_uncompressed_body")
    (evidence,) = found["evidence"]  # the gzip page is not one
    assert evidence["page"] == 1 and evidence["body_bytes"] > 1000 and evidence["limit_bytes"] == 1000


async def test_a_misspelt_field_is_named_with_the_known_one(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    record = {**user(1), "workemail": "a@example.com", "costCenter": "R&D"}  # a typo and a real extra
    await vendor.push(session["id"], {"entities": {"User": [record]}, "page_hint": 1})

    found = finding(await report(control), "unknown_field")
    (evidence,) = found["evidence"]
    assert evidence["message"] == "`workemail`: did you mean `workEmail`?"
    assert (evidence["entity_type"], evidence["field"], evidence["did_you_mean"]) == ("User", "workemail", "workEmail")
    assert evidence["page"] == 1 and evidence["session_id"] == session["id"]


async def test_unknown_names_are_each_judged_once_and_kept_between_reports(
    vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sprinto takes fields beyond the known ones. A client sending 20 custom attributes on each of
    # 1,000 pages had 20,000 difflib matches made at every report, in one step of the loop (0.7-1.8 s
    # each second the dashboard asked); a page of 2,000 made-up names, seconds.
    from mock_sprinto.report import checks

    judged: list[str] = []
    original = checks.closest_field

    def counted(name: str, known: Any) -> Any:
        judged.append(name)
        return original(name, known)

    monkeypatch.setattr(checks, "closest_field", counted)
    checks._SUGGESTIONS.clear()  # suggestions are kept in the process: other tests judged workemail
    tag = uuid.uuid4().hex[:8]
    custom = {f"custom{tag}{n}": "v" for n in range(20)}
    session = await vendor.start()
    for n in range(30):
        await vendor.push(
            session["id"], {"entities": {"User": [user(n * 10 + k, **custom) for k in range(3)]}, "page_hint": n}
        )
    await vendor.push(session["id"], {"entities": {"User": [user(1, workemail="a@example.com", **custom)]}})
    assert [e["field"] for e in finding(await report(control), "unknown_field")["evidence"]] == ["workemail"]
    assert sorted(judged) == sorted([*custom, "workemail"])  # each name once, not once a page
    judged.clear()
    assert [e["field"] for e in finding(await report(control), "unknown_field")["evidence"]] == ["workemail"]
    assert judged == []  # the next report (the dashboard's, a second later) judges nothing again

    made_up = [f"madeUp{tag}{n:03d}" for n in range(checks.UNKNOWN_NAMES_JUDGED + 100)]
    huge = {"x" * 400_000: "v"}  # no known field's length comes near: never matched, never kept
    for first in range(0, len(made_up), 100):  # a page keeps 100 extra names a type (UNKNOWN_FIELDS_KEPT)
        names = dict.fromkeys(made_up[first : first + 100], "v")
        await vendor.push(session["id"], {"entities": {"User": [user(2, **names, **huge)]}})
    await report(control)
    assert len(judged) == checks.UNKNOWN_NAMES_JUDGED  # new names a report: the rest wait
    judged.clear()
    await vendor.push(session["id"], {"entities": {"User": [user(3, workemial="b@example.com")]}})
    found = finding(await report(control), "unknown_field")["evidence"]
    assert len(judged) == 101  # the names left over, and the new misspelling, which is still found
    assert [e["field"] for e in found] == ["workemail", "workemial"]
    assert all(len(name) < 1000 for name, _ in checks._SUGGESTIONS)


async def test_polling_a_session_without_pause(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    for _ in range(5):
        await vendor.session(session["id"])

    (evidence,) = finding(await report(control), "status_polled_too_fast")["evidence"]
    assert evidence["session_id"] == session["id"] and evidence["reads"] == 5
    assert len(evidence["request_ids"]) == 5 and evidence["window_seconds"] == 0


@pytest.mark.parametrize(
    ("waits", "flagged"),
    [
        ([0.2, 0.3, 0.45, 0.675, 1.0, 1.5], False),  # backs off: docs/exam.md's careful clients
        ([0.5] * 6, True),  # a fixed short loop
        ([0.2, 0.25, 0.3, 0.3, 0.35, 0.4], True),  # barely growing: no backoff
        ([1.0] * 5, False),  # once a second
        ([0.2, 0.3, 0.45, 0.675, 1.0, 1.0, 1.0, 1.0], False),  # backs off to once a second, then stays
    ],
)
async def test_a_poll_that_backs_off_is_not_too_fast(
    vendor: Vendor, control: Control, waits: list[float], flagged: bool
) -> None:
    # The careful clients' 0.2 s, x1.5 poll was flagged against a 2 s processing: five reads in 1.6 s.
    session = await vendor.start()
    await vendor.session(session["id"])
    for wait in waits:
        await control.advance(wait, "acme")
        await vendor.session(session["id"])
    assert ("status_polled_too_fast" in ids(await report(control))) is flagged


async def test_a_get_retried_by_the_library_after_a_reset_is_not_the_clients_poll(
    vendor: Vendor, control: Control
) -> None:
    reset = {
        "name": "reset-once",
        "rules": [{"match": {"operation": "get_session"}, "when": {"nth": 1}, "times": 1, "transport": "close"}],
    }
    async with control.client.put("/_mock/integrations/acme/scenario", json=reset) as response:
        assert response.status == 200
    session = await vendor.start()
    url = vendor.client.make_url(vendor.url(f"/sessions/{session['id']}"))
    # A real ClientSession: aiohttp's TestClient turns its automatic retry off.
    async with aiohttp.ClientSession(headers=vendor.headers) as http:
        for second in range(4):  # once a second; the first read gets an empty reply, retried by aiohttp
            async with http.get(url) as response:
                assert response.status == 200
            if second < 3:
                await control.advance(1, "acme")
    entries = [e for e in await journal(control) if e["operation"] == "get_session"]
    assert [e["code"] for e in entries][:2] == ["transport_close", None]  # five reads in 3 s
    body = await report(control)
    assert "status_polled_too_fast" not in ids(body)
    assert covered(body)["transport_fault"] == (True, True)


async def test_closing_an_empty_session_with_apply(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.close(session["id"])

    (evidence,) = finding(await report(control), "close_without_pages")["evidence"]
    assert evidence["session_id"] == session["id"]
    assert evidence["request_id"] == (await journal(control))[-1]["request_id"]


async def test_pages_without_page_hint_are_an_info(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}})
    await vendor.close(session["id"], "discard")

    body = await report(control)
    found = finding(body, "missing_page_hint")
    assert found["severity"] == "info" and found["count"] == 2
    assert [e["page"] for e in found["evidence"]] == [1, 2]
    assert body["summary"] == {"errors": 0, "warnings": 0, "infos": 1}


async def test_every_finding_has_a_scripted_client_here() -> None:
    source = open(__file__, encoding="utf-8").read()
    for kind in KINDS:
        assert f'"{kind.id}"' in source, kind.id


async def test_an_unseen_integration_has_no_report_and_is_not_made_by_asking(control: Control) -> None:
    body = await control.get("/integrations/nobody/report", expect=404)
    assert body["code"] == "integration_not_found"
    assert [i["id"] for i in (await control.get("/integrations"))["integrations"]] == []
    await control.post("/integrations", {"id": "nobody"}, expect=201)
    body = await report(control, "nobody")
    assert body["summary"] == {"errors": 0, "warnings": 0, "infos": 0}
    assert all(not item["met"] for item in body["coverage"])


async def test_a_misspelt_field_is_still_named_once_the_session_is_applied(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [{**user(1), "employeeID": "x"}]}, "page_hint": 1})
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"
    (evidence,) = finding(await report(control), "unknown_field")["evidence"]
    assert evidence["message"] == "`employeeID`: did you mean `employeeId`?"


async def test_a_deleted_integrations_requests_do_not_count_for_its_successor(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.close(session["id"])
    assert "close_without_pages" in ids(await report(control))
    async with control.client.delete("/_mock/integrations/acme") as response:
        assert response.status == 204
    await control.get("/integrations/acme/report", expect=404)  # gone, and not made again by asking
    await vendor.status()  # its successor
    assert [f["id"] for f in (await report(control))["findings"]] == []


async def test_the_report_of_a_busy_integration_counts_all_and_shows_a_bounded_evidence(
    vendor: Vendor, control: Control, emulator: Any
) -> None:
    async with control.client.put(
        "/_mock/integrations/acme/settings", json={"rate_limit": 0.001, "rate_limit_burst": 1}
    ) as r:
        assert r.status == 200
    session = await vendor.start()
    for _ in range(2000):  # hammering through 429s
        await vendor.session(session["id"], expect=429)
    body = await report(control)  # its cost is a benchmark's question, not a test's
    assert finding(body, "retry_too_soon")["count"] == 1999  # every 429 but the first came too soon
    assert len(finding(body, "retry_too_soon")["evidence"]) == 20
    assert covered(body)["rate_limited"] == (True, False)


async def put_scenario(control: Control, scenario: Any) -> None:
    async with control.client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 200


async def test_coverage_of_processing_retried_and_failed_and_of_a_recovery(vendor: Vendor, control: Control) -> None:
    fail = {
        "name": "fail",
        "rules": [{"match": {"operation": "close_session"}, "times": 1, "lifecycle": {"fail_processing": 2}}],
    }
    await put_scenario(control, fail)
    first = await vendor.start()
    await vendor.push(first["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(first["id"])
    await control.advance(4, "acme")
    assert (await vendor.session(first["id"]))["state"] == "failed"
    assert covered(await report(control))["processing_failed"] == (True, False)

    second = await vendor.start()  # start anew: this one is processed
    await vendor.push(second["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(second["id"], "discard")
    third = await vendor.start()
    await vendor.push(third["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(third["id"])
    await control.advance(2, "acme")
    cover = covered(await report(control))
    assert cover["processing_failed"] == (True, True)
    # The failed session's retry did not save it: that is processing_failed's to judge, and recovery
    # from the retry means nothing (None), not "not recovered" for a client that rightly stopped.
    assert cover["processing_retried"] == (True, None)
    assert cover["discarded"] == (True, None) and cover["applied"] == (True, None)


async def test_a_processing_retry_is_recovered_from_only_when_the_client_reads_it_processed(
    vendor: Vendor, control: Control
) -> None:
    # The retry is Sprinto's doing: a client that closed and left was called recovered.
    retry = {"name": "retry", "rules": [{"match": {"operation": "close_session"}, "lifecycle": {"fail_processing": 1}}]}
    await put_scenario(control, retry)
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    assert (await vendor.session(session["id"]))["retry_count"] == 1  # read while it is still processing
    await control.advance(2, "acme")
    assert covered(await report(control))["processing_retried"] == (True, False)  # processed, never seen so
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert covered(await report(control))["processing_retried"] == (True, True)


async def test_a_push_lost_to_a_reset_and_sent_again_is_a_recovered_transport_fault(
    vendor: Vendor, control: Control
) -> None:
    reset = {
        "name": "reset",
        "rules": [
            {
                "match": {"operation": "push_page"},
                "when": {"nth": 1},
                "times": 1,
                "phase": "after",
                "transport": "reset",
            }
        ],
    }
    await put_scenario(control, reset)
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    try:
        await vendor.push(session["id"], page)
    except aiohttp.ClientError:
        pass
    assert covered(await report(control))["transport_fault"] == (True, False)
    await vendor.push(session["id"], page)  # the answer was lost: sending it again is right
    body = await report(control)
    assert covered(body)["transport_fault"] == (True, True)
    assert "duplicate_page" not in ids(body)


async def test_an_expired_session_then_a_new_one_recovers_session_not_active(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await control.advance(3600, "acme")
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2}, expect=409)
    # Applying the expired session now would lose page 2 (it was refused): a new session with
    # every page again, as the docs recommend (the other way is judged in
    # test_applying_an_expired_session_without_the_page_it_refused_is_no_recovery).
    again = await vendor.start()
    await vendor.push(again["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.push(again["id"], {"entities": {"User": [user(2)]}, "page_hint": 2})
    await vendor.close(again["id"])
    await vendor.session(again["id"])  # the outcome read
    body = await report(control)
    assert covered(body)["session_not_active"] == (True, True)
    assert covered(body)["session_expired"] == (True, True)
    assert ids(body) == []  # told it expired and started over: not left to expire; a 409 is how a client learns


def _fault(name: str, times: int, respond: dict[str, Any], operation: str = "push_page", **rule: Any) -> Any:
    return {"name": name, "rules": [{"match": {"operation": operation}, "times": times, "respond": respond, **rule}]}


async def _use(control: Control, scenario: Any) -> None:
    async with control.client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 200, await response.text()


async def test_a_page_skipped_after_a_503_is_giving_up(vendor: Vendor, control: Control) -> None:
    await _use(control, _fault("one-503", 1, {"status": 503}, when={"nth": 2}))
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2}, expect=503)
    await vendor.push(session["id"], {"entities": {"User": [user(3)]}, "page_hint": 3})  # page 2 never again
    await vendor.close(session["id"])
    await vendor.session(session["id"])
    found = finding(await report(control), "gave_up")
    assert (found["severity"], found["basis"]) == ("error", "doc")
    (evidence,) = found["evidence"]
    assert (evidence["operation"], evidence["status"], evidence["session_id"]) == ("push_page", 503, session["id"])


async def test_a_page_sent_again_after_a_503_is_no_giving_up(vendor: Vendor, control: Control) -> None:
    await _use(control, _fault("one-503", 1, {"status": 503}, when={"nth": 1}))
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page, expect=503)
    await control.advance(1, "acme")
    await vendor.push(session["id"], page)
    await vendor.close(session["id"])
    await vendor.session(session["id"])
    assert ids(await report(control)) == []


async def test_retrying_5xx_again_and_again_without_waiting_is_no_backoff(vendor: Vendor, control: Control) -> None:
    await _use(control, _fault("two-503", 2, {"status": 503}))
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page, expect=503)
    await vendor.push(session["id"], page, expect=503)  # at once
    await vendor.push(session["id"], page)  # at once again
    body = await report(control)
    found = finding(body, "retry_without_backoff")
    (evidence,) = found["evidence"]
    assert evidence["waits_seconds"] == [0.0, 0.0] and evidence["operation"] == "push_page"


async def test_retrying_5xx_with_growing_waits_is_backoff(vendor: Vendor, control: Control) -> None:
    await _use(control, _fault("two-503", 2, {"status": 503}))
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    for wait, expect in ((0.5, 503), (1.0, 503), (0, 202)):
        await vendor.push(session["id"], page, expect=expect)
        await control.advance(wait, "acme")
    assert "retry_without_backoff" not in ids(await report(control))


@pytest.mark.parametrize(("waits", "judged"), [((0.034, 0.038), False), ((0.05, 0.05), False), ((0.002, 0.004), True)])
async def test_a_full_jitter_backoffs_short_draws_are_not_retrying_at_once(
    vendor: Vendor, control: Control, waits: tuple[float, float], judged: bool
) -> None:
    """AWS's full jitter waits uniform(0, 0.1 s * 2**n): two draws of 34 and 38 ms are its backoff
    (a reviewer's exam failed one run in two on them); retries a few milliseconds apart are not."""
    assert ("retry_without_backoff" in await _failing_twice_then_retried(vendor, control, 503, waits)) is judged


async def test_a_close_with_action_instead_of_status_abandoned_is_an_error(vendor: Vendor, control: Control) -> None:
    """The published TypeScript client closes with {"action": ...}: refused, and the session left."""
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.call("POST", f"/sessions/{session['id']}/close", 400, json={"action": "apply"})
    body = await report(control)
    found = finding(body, "close_without_status")
    assert (found["severity"], found["basis"]) == ("error", "doc")
    assert found["evidence"][0]["session_id"] == session["id"]
    await control.advance(3700, "acme")  # expired: the client tried to close, so not "left to expire"
    assert "session_left_to_expire" not in ids(await report(control))
    await vendor.close(session["id"])  # fixed: closed after all
    await vendor.session(session["id"])
    assert "close_without_status" not in ids(await report(control))


async def test_one_409_on_start_then_nothing_is_an_unhandled_conflict(vendor: Vendor, control: Control) -> None:
    stale = await vendor.start()
    conflict = await vendor.start(expect=409)
    assert conflict["active_session_id"] == stale["id"]
    found = finding(await report(control), "start_conflict_unhandled")
    (evidence,) = found["evidence"]
    assert evidence["active_session_id"] == stale["id"]
    await vendor.close(stale["id"], "discard")  # dealt with: the conflict is handled
    assert "start_conflict_unhandled" not in ids(await report(control))


async def test_closing_a_made_up_session_after_a_409_does_not_handle_the_conflict(
    vendor: Vendor, control: Control
) -> None:
    # A client that read no id from the 409 pushed to and closed /sessions/none (404s): any close
    # counted as dealing with the conflict, so the judge and the coverage called it recovered.
    stale = await vendor.start()
    await vendor.start(expect=409)
    await vendor.push("none", {"entities": {"User": [user(1)]}, "page_hint": 1}, expect=404)
    await vendor.close("none", expect=404)
    body = await report(control)
    (evidence,) = finding(body, "start_conflict_unhandled")["evidence"]
    assert evidence["active_session_id"] == stale["id"]
    assert covered(body)["start_conflict"] == (True, False)
    await vendor.close(stale["id"], "discard")
    body = await report(control)
    assert "start_conflict_unhandled" not in ids(body) and covered(body)["start_conflict"] == (True, True)


async def test_a_session_started_and_never_closed_is_left_active(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    found = finding(await report(control), "session_left_active")
    assert found["severity"] == "warning" and found["evidence"][0]["session_id"] == session["id"]
    await vendor.close(session["id"], "discard")
    assert ids(await report(control)) == []


async def test_an_apply_whose_outcome_is_never_read(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(session["id"])
    found = finding(await report(control), "outcome_not_read")
    assert found["evidence"][0]["session_id"] == session["id"]
    await control.advance(2, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert ids(await report(control)) == []


async def test_a_throttled_start_then_a_started_session_is_a_recovery(vendor: Vendor, control: Control) -> None:
    """A 429 on start has no session yet: the retry that starts one recovers it."""
    await _use(control, _fault("throttle-start", 1, {"status": 429, "retry_after": 1}, operation="start_session"))
    await vendor.start(expect=429)
    await control.advance(1, "acme")
    session = await vendor.start()
    await vendor.close(session["id"], "discard")
    assert covered(await report(control))["rate_limited"] == (True, True)


async def test_a_close_resent_after_its_answer_was_lost_is_a_recovery(vendor: Vendor, control: Control) -> None:
    await _use(
        control,
        {
            "name": "close-lost",
            "rules": [{"match": {"operation": "close_session"}, "times": 1, "phase": "after", "transport": "reset"}],
        },
    )
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    with_reset = vendor.call("POST", f"/sessions/{session['id']}/close", None, json={"status": "apply"})
    try:
        await with_reset
    except aiohttp.ClientError:
        pass
    _, again = await vendor.call("POST", f"/sessions/{session['id']}/close", 409, json={"status": "apply"})
    assert again["code"] == "session_not_closable"
    await control.advance(2, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"
    body = await report(control)
    assert covered(body)["transport_fault"] == (True, True)
    assert ids(body) == []


async def test_a_page_resent_after_a_cut_short_202_is_no_duplicate(vendor: Vendor, control: Control) -> None:
    """The client could not read the 202 (its body was cut short): sending the page again is right."""
    await _use(
        control,
        {
            "name": "cut-short",
            "rules": [
                {"match": {"operation": "push_page"}, "times": 1, "phase": "after", "transport": "truncated_body"}
            ],
        },
    )
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    try:
        await vendor.call("POST", f"/sessions/{session['id']}/entities", None, json=page)
    except aiohttp.ClientError:
        pass
    await vendor.push(session["id"], page)
    await vendor.close(session["id"])
    await vendor.session(session["id"])
    assert "duplicate_page" not in ids(await report(control))


async def test_the_request_that_made_an_integration_in_open_mode_is_judged_too(
    vendor: Vendor, control: Control
) -> None:
    """The first request of an integration made on first use is the client's own: it used to be
    left out of the report, so a client that gave up on its very first start earned nothing."""
    await control.client.put("/_mock/scenario", json=_fault("first-start-503", 1, {"status": 503}, "start_session"))
    await vendor.start(expect=503)  # the request that makes the integration
    entries = await journal(control)
    assert [(e["operation"], e["status"]) for e in entries] == [("start_session", 503)]
    found = finding(await report(control), "gave_up")
    assert found["evidence"][0]["request_id"] == entries[0]["request_id"]


async def test_a_discard_right_after_a_429_is_cleaning_up_not_retrying_too_soon(
    vendor: Vendor, control: Control
) -> None:
    """A client that gives up on a 429 and discards its session at once does the right thing."""
    await _use(control, _fault("throttle", 1, {"status": 429, "retry_after": 5}))
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1}, expect=429)
    await vendor.close(session["id"], "discard")
    assert "retry_too_soon" not in ids(await report(control))


async def test_the_summary_on_stop_reads_each_integrations_own_entries_once(
    serve: Any, make_emulator: Any, monkeypatch: Any
) -> None:
    """``serve`` judges every integration on Ctrl-C or SIGTERM. Each report made an entry of every
    row answered since its integration was made, other integrations' included: after a soak (1,400
    integrations, a ring of 5,000) the summary took 8-10 s, past a container's stop grace."""
    from mock_sprinto import journal
    from mock_sprinto.control import ControlPlane

    emulator = make_emulator()
    client = await serve(emulator)
    for n in range(30):
        vendor = Vendor(client, f"team-{n}", "k")
        session = await vendor.start()
        await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    made: list[int] = []
    for maker in ("_entry_of", "_entry_without_headers"):  # the judge's entries are made without headers
        real = getattr(journal, maker)
        monkeypatch.setattr(journal, maker, lambda row, real=real: made.append(1) or real(row))
    summary = ControlPlane(emulator).run_summary()
    assert len(made) == 60  # each of the 60 requests once (990 before: the ring to count, every later row a report)
    heads = [line for line in summary if line.startswith("  team-")]
    assert heads[0].startswith("  team-0: 2 requests;") and len(heads) == 30


def _page(n: int) -> dict[str, Any]:
    return {"entities": {"User": [user(n * 10 + k) for k in range(3)]}, "page_hint": n}


@pytest.mark.parametrize("handling", ["skipped", "discarded", "sent again", "sent again reordered", "given up"])
async def test_a_page_a_scenario_rejects_is_judged_as_a_rejected_page(
    handling: str, vendor: Vendor, control: Control
) -> None:
    # reject-page-2 answers page 2 with 400 "as if a record of it were invalid": the push never
    # runs, and the judge reads the rejection from the journal (its session lists the page too, with
    # its rule, read once). A client that skipped it and applied the other pages got a clean report,
    # page_rejected never met: only the exam's record count caught it.
    scenario: Any = "reject-page-2"
    if handling.startswith("sent again"):  # a rule that rejects once: the page sent again is taken
        scenario = {
            "name": "once",
            "rules": [
                {
                    "match": {"operation": "push_page", "page": 2},
                    "times": 1,
                    "respond": {"status": 400, "code": "validation_failed"},
                }
            ],
        }
    await put_scenario(control, scenario)
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.push(session["id"], _page(2), expect=400)
    if handling == "sent again":
        await vendor.push(session["id"], _page(2))
    if handling == "sent again reordered":  # the same page, its keys in another order: other bytes
        await vendor.push(session["id"], {"page_hint": 2, "entities": _page(2)["entities"]})
    if handling == "given up":  # stops at the 400, the session left as it is
        body = await report(control)
        assert covered(body)["page_rejected"] == (True, False)
        return
    # the rule counts the session's pages as the store does: a push it answered is no page, so
    # under reject-page-2 the next push is "page 2" again
    await vendor.push(session["id"], _page(3), expect=202 if handling.startswith("sent again") else 400)
    await vendor.close(session["id"], "discard" if handling == "discarded" else "apply")

    body = await report(control)
    if handling == "skipped":
        evidence, _ = finding(body, "applied_with_rejected_pages")["evidence"]  # pages 2 and 3
        assert evidence["code"] == "validation_failed" and evidence["session_id"] == session["id"]
        assert "'reject-page-2'" in evidence["why"] and "applied without it" in evidence["why"]
        assert covered(body)["page_rejected"] == (True, False)
    else:
        assert "applied_with_rejected_pages" not in ids(body)
        assert covered(body)["page_rejected"] == (True, True)


@pytest.mark.parametrize("careful", [False, True])
async def test_applying_an_expired_session_without_the_page_it_refused_is_no_recovery(
    careful: bool, vendor: Vendor, control: Control
) -> None:
    # The session expires as page 2 arrives (409 session_not_active). A client that ignored the 409
    # and applied the expired session lost page 2, yet the coverage said it recovered from both.
    await put_scenario(control, "expire-at-page-2")
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await vendor.push(session["id"], _page(2), expect=409)
    if careful:  # what the docs recommend: a new session, every page again, then apply
        again = await vendor.start()
        for n in (1, 2, 3):
            await vendor.push(again["id"], _page(n))
        await vendor.close(again["id"])
    else:
        await vendor.close(session["id"])

    body = await report(control)
    seen = covered(body)
    if careful:
        assert "applied_with_rejected_pages" not in ids(body)
        assert seen["session_not_active"] == (True, True) and seen["session_expired"] == (True, True)
    else:
        (evidence,) = finding(body, "applied_with_rejected_pages")["evidence"]
        assert evidence["code"] == "session_not_active" and "no longer active" in evidence["why"]
        assert seen["session_not_active"] == (True, False) and seen["session_expired"] == (True, False)


@pytest.mark.parametrize("told", [False, True])
async def test_a_session_that_expired_mid_sync_and_was_started_over_is_not_left_to_expire(
    told: bool, vendor: Vendor, control: Control
) -> None:
    # A real expiry (the clock moved while the client paused), then the 409 on its next push, a new
    # session and every page again, as docs/exam.md recommends: the report warned
    # session_left_to_expire and `mock-sprinto report` failed the job, while the exam passed it.
    session = await vendor.start()
    await vendor.push(session["id"], _page(1))
    await control.post("/integrations/acme/clock/advance", {"seconds": 3700})
    if told:
        await vendor.push(session["id"], _page(2), expect=409)
    again = await vendor.start()
    for n in (1, 2):
        await vendor.push(again["id"], _page(n))
    await vendor.close(again["id"])

    assert ("session_left_to_expire" in ids(await report(control))) is not told


async def test_a_page_a_rule_refused_for_its_size_and_split_is_no_page_left_out(
    vendor: Vendor, control: Control
) -> None:
    rule = {
        "match": {"operation": "push_page", "page": 1},
        "times": 1,
        "respond": {"status": 400, "code": "too_many_items"},
    }
    await put_scenario(control, {"name": "split-me", "rules": [rule]})
    session = await vendor.start()
    await vendor.push(session["id"], _page(1), expect=400)
    await vendor.push(session["id"], {"entities": {"User": [user(10)]}, "page_hint": "1a"})
    await vendor.push(session["id"], {"entities": {"User": [user(11), user(12)]}, "page_hint": "1b"})
    await vendor.close(session["id"])
    body = await report(control)
    assert "applied_with_rejected_pages" not in ids(body)
    assert covered(body)["page_rejected"] == (True, True)


@pytest.mark.parametrize("looked", [False, True])
async def test_a_discarded_sessions_fields_are_judged_alike_whether_a_report_was_read_meanwhile(
    looked: bool, vendor: Vendor, control: Control
) -> None:
    # The judge keeps what it read of a staged page; a page of a session then discarded kept it,
    # so a report read while it was staged (the dashboard, each second) changed every later one.
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1, workemail="a@example.com")]}, "page_hint": 1})
    if looked:
        assert "unknown_field" in ids(await report(control))
    await vendor.close(session["id"], "discard")
    assert "unknown_field" not in ids(await report(control))


# ---- a Ruby client's review: a close refused for its form, a page moved on past, retries at once ----
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what Ruby's Net::HTTP sends for a body


async def test_a_session_whose_close_was_refused_for_its_form_is_left_active(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.call("POST", f"/sessions/{session['id']}/close", 415, data=b'{"status": "discard"}', headers=FORM)
    found = finding(await report(control), "session_left_active")  # it was no finding at all: "a close was tried"
    assert found["evidence"][0]["session_id"] == session["id"]


async def test_a_close_that_failed_as_a_retry_recovers_from_is_gave_up_not_left_active(
    vendor: Vendor, control: Control
) -> None:
    await _use(control, _fault("close-503", 1, {"status": 503}, operation="close_session"))
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(session["id"], expect=503)
    found = ids(await report(control))
    assert "gave_up" in found and "session_left_active" not in found  # the one finding that says what to do


async def test_a_page_moved_on_past_after_a_429_is_not_a_recovery(vendor: Vendor, control: Control) -> None:
    await _use(control, _fault("throttle-2", 1, {"status": 429, "retry_after": 1}, when={"nth": 2}))
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2}, expect=429)
    await control.advance(1, "acme")
    await vendor.push(session["id"], {"entities": {"User": [user(3)]}, "page_hint": 3})  # page 2 never again
    body = await report(control)
    assert covered(body)["rate_limited"] == (True, False)  # was (True, True): "a later push succeeded"
    assert "gave_up" in ids(body)
    await vendor.push(session["id"], {"entities": {"User": [user(2)]}, "page_hint": 2})  # sent again, late
    assert covered(await report(control))["rate_limited"] == (True, True)


@pytest.mark.parametrize(("waits", "judged"), [((0, 0), True), ((0, 1.0), False)])
async def test_retrying_a_429_without_retry_after_at_once_twice_is_no_backoff(
    vendor: Vendor, control: Control, waits: tuple[float, float], judged: bool
) -> None:
    """Sprinto declares no Retry-After on 429: a client backs off on its own. A first retry at once
    (urllib3's backoff starts so) is no finding; a second one is."""
    assert ("retry_without_backoff" in await _failing_twice_then_retried(vendor, control, 429, waits)) is judged


async def _failing_twice_then_retried(
    vendor: Vendor, control: Control, status: int, waits: tuple[float, float]
) -> list[str]:
    """A page answered ``status`` twice (a 429 without Retry-After), sent again after each of
    ``waits``, then accepted: the report's finding ids."""
    respond: dict[str, Any] = {"status": status} if status != 429 else {"status": 429, "retry_after": None}
    await _use(control, _fault("two-failures", 2, respond))
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    for wait in waits:
        await vendor.push(session["id"], page, expect=status)
        await control.advance(wait, "acme")
    await vendor.push(session["id"], page)
    return ids(await report(control))


async def test_an_empty_final_page_refused_leaves_nothing_out_of_the_apply(vendor: Vendor, control: Control) -> None:
    """An end-marker page with no records is refused 400 empty_page; the sync applied every record,
    so the apply left nothing out (it was applied_with_rejected_pages, an error whose advice was to
    fix and re-send a page that held nothing)."""
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1), user(2)]}, "page_hint": 1})
    refused = await vendor.push(session["id"], {"entities": {"User": []}, "page_hint": 2}, expect=400)
    assert refused["code"] == "empty_page"
    await vendor.close(session["id"])
    await control.advance(3, "acme")
    await vendor.session(session["id"])
    body = await report(control)
    assert "applied_with_rejected_pages" not in ids(body), ids(body)


async def test_a_client_whose_every_request_is_refused_for_its_form(vendor: Vendor, control: Control) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # HttpURLConnection's, unless told otherwise
    await vendor.start(415, data=b"{}", headers=form)
    (evidence,) = finding(await report(control), "no_request_accepted")["evidence"]
    assert evidence["refusals"] == {"415 unsupported_media_type": 1}
