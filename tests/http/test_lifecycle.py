"""The whole session lifecycle over HTTP, as a client sees it."""

from __future__ import annotations

from typing import Any

import pytest

from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user, users


async def test_start_push_close_apply_then_processed_after_processing_time(vendor: Vendor, control: Control) -> None:
    session = await vendor.start(json={"client_reference_id": "nightly-1"})
    assert session["state"] == "active"
    assert session["client_reference_id"] == "nightly-1"
    assert session["inactivity_timeout_seconds"] == 3600
    assert session["expires_at"] == "2026-01-01T01:00:00.000Z"

    first = await vendor.push(session["id"], {"entities": {"User": users(0, 100)}, "page_hint": 1})
    assert first["accepted_count_total"] == 100
    assert first["accepted_count_by_entity"] == {"User": 100}
    assert first["rejected_count_total"] == 0
    assert first["validation_errors"] == []
    assert first["echoes"] == {"page_hint": 1}
    second = await vendor.push(session["id"], {"entities": {"User": users(100, 50)}, "page_hint": "p2"})
    assert second["echoes"] == {"page_hint": "p2"}

    closed = await vendor.close(session["id"])
    assert closed["state"] == "processing"
    assert closed["accepted_records_total"] == 150
    assert closed["accepted_batches"] == 2
    assert await control.records("acme") == []  # nothing applied while processing

    await control.advance(2)
    done = await vendor.session(session["id"])
    assert done["state"] == "processed"
    applied = await control.records("acme")
    assert [r["employeeId"] for r in applied] == [f"E{i}" for i in range(150)]


async def test_second_start_while_active_is_409_naming_the_active_session(vendor: Vendor) -> None:
    session = await vendor.start()
    _, body = await vendor.call("POST", "/sessions", 409)
    assert body["code"] == "session_already_active"
    assert body["active_session_id"] == session["id"]


async def test_processing_session_does_not_block_a_new_start(vendor: Vendor) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await vendor.close(session["id"])
    again = await vendor.start()
    assert again["id"] != session["id"]


async def test_discard_cancels_and_applies_nothing(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    closed = await vendor.close(session["id"], "discard")
    assert closed["state"] == "cancelled"
    await control.advance(60)
    assert await control.records("acme") == []
    assert (await vendor.status())["sessions"]["cancelled"] == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (None, "a close needs a JSON object body with 'status'"),
        ({}, "'status' is required"),
        ({"action": "discard"}, "'action' is not a close field"),
        ({"action": "apply"}, "'action' is not a close field"),
        ({"status": "discard", "action": "apply"}, "'action' is not a close field"),
    ],
)
async def test_a_close_without_status_is_refused_with_the_fix_and_changes_nothing(
    vendor: Vendor, body: Any, why: str
) -> None:
    """[doc] CloseSessionRequest.status is Required: a published client sends {"action": "discard"},
    which Sprinto refuses or (falling back to its default) APPLIES. Here it fails, saying what to send,
    as the emulator's choice: the answer says ``mock`` and names the setting that relaxes it (it said
    ``doc`` and named none, where ``mock-sprinto rules`` says ``mock``, setting ``lenient_close``)."""
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": users(0, 2)}})
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    _, problem = await vendor.call("POST", f"/sessions/{session['id']}/close", 400, **kwargs)
    assert (problem["code"], problem["basis"], problem["setting"]) == ("invalid_close_status", "mock", "lenient_close")
    assert why in problem["detail"]
    assert '{"status": "apply"}' in problem["detail"] and '{"status": "discard"}' in problem["detail"]
    assert (await vendor.session(session["id"]))["state"] == "active"  # neither applied nor discarded


async def test_lenient_close_reads_a_missing_status_as_apply_and_action_as_status(
    make_emulator: Any, serve: Any
) -> None:
    vendor = Vendor(await serve(make_emulator(lenient_close=True)))
    first = await vendor.start()
    assert (await vendor.close(first["id"], None))["state"] == "processing"
    second = await vendor.start()
    _, body = await vendor.call("POST", f"/sessions/{second['id']}/close", 202, json={"action": "discard"})
    assert body["state"] == "cancelled"


async def test_fields_beyond_the_known_ones_are_accepted_unless_strict(make_emulator: Any, serve: Any) -> None:
    """[doc] EntitiesEnvelope items are additionalProperties: true: a `department` is Sprinto's to keep."""
    page = {"entities": {"User": [user(1, department="R&D")]}}
    vendor = Vendor(await serve(make_emulator()))
    session = await vendor.start()
    await vendor.push(session["id"], page)
    strict = Vendor(await serve(make_emulator(unknown_fields="reject")))
    session = await strict.start()
    body = await strict.push(session["id"], page, expect=400)
    [error] = body["validation_errors"]
    assert (error["field"], error["code"], error["basis"], error["setting"]) == (
        "department",
        "additionalProperties",
        "mock",
        "unknown_fields",
    )
    assert error["pointer"] == "/entities/User/0/department"


async def test_strict_mode_lists_every_field_a_record_should_not_have(make_emulator: Any, serve: Any) -> None:
    """A record with three unexpected fields was one error naming only the first in ``field`` (and
    pointing at the record): a client fixing what it was told met the next 400, one name a try."""
    strict = Vendor(await serve(make_emulator(unknown_fields="reject")))
    session = await strict.start()
    record = user(1, department="R&D", nickName="x", **{"cost/centre": 7})
    body = await strict.push(session["id"], {"entities": {"User": [record, user(2)]}}, expect=400)
    assert [(e["field"], e["pointer"], e["index"]) for e in body["validation_errors"]] == [
        ("cost/centre", "/entities/User/0/cost~1centre", 0),
        ("department", "/entities/User/0/department", 0),
        ("nickName", "/entities/User/0/nickName", 0),
    ]
    assert "'nickName' was unexpected" in body["validation_errors"][2]["issue"]
    many = user(1, **{f"extra{n}": n for n in range(500)})
    body = await strict.push(session["id"], {"entities": {"User": [many]}}, expect=400)
    assert len(body["validation_errors"]) == 100 and body["validation_errors_truncated"] is True


async def test_envelope_errors_leave_out_what_does_not_apply_and_say_their_basis(vendor: Vendor) -> None:
    session = await vendor.start()
    body = await vendor.push(session["id"], {"entities": [user(1)]}, expect=400)
    [error] = body["validation_errors"]
    assert "entity_type" not in error and "index" not in error  # Sprinto types them string, integer: never null
    assert (error["field"], error["basis"]) == ("entities", "doc")
    assert body["basis"] == "doc" and "page_hint" not in body["echoes"]
    too_many = await vendor.push(session["id"], {"entities": {"User": users(0, 101)}}, expect=400)
    assert (too_many["basis"], too_many["setting"]) == ("mock", "max_page_items")
    assert too_many["validation_errors"][0]["setting"] == "max_page_items"


async def test_types_are_sprintos_expires_at_stays_a_time_and_last_activity_is_never_null(
    vendor: Vendor, control: Control
) -> None:
    assert isinstance((await vendor.status())["last_activity_at"], str)  # an integration with no activity yet
    session = await vendor.start()
    closed = await vendor.close(session["id"], "discard")
    assert closed["expires_at"] == session["expires_at"]  # the deadline it had, not null
    assert isinstance((await vendor.session(session["id"]))["expires_at"], str)


async def test_inactivity_expires_the_session_and_expired_data_can_still_be_applied(
    vendor: Vendor, control: Control
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": users(0, 3)}})
    await control.advance(3599)
    assert (await vendor.session(session["id"]))["state"] == "active"  # the read itself resets the timer
    await control.advance(3599)
    assert (await vendor.session(session["id"]))["state"] == "active"
    await control.advance(3600)
    expired = await vendor.session(session["id"])
    assert expired["state"] == "expired"
    _, body = await vendor.call(
        "POST", f"/sessions/{session['id']}/entities", 409, json={"entities": {"User": [user(9)]}}
    )
    assert body["code"] == "session_not_active" and body["state"] == "expired"

    new = await vendor.start()  # expiry frees the integration for a new session
    await vendor.close(new["id"], "discard")
    closed = await vendor.close(session["id"], "apply")
    assert closed["state"] == "processing"
    await control.advance(2)
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert len(await control.records("acme")) == 3


async def test_expired_data_is_purged_after_retention(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await control.advance(3600 + 86400)
    _, body = await vendor.call("POST", f"/sessions/{session['id']}/close", 409, json={"status": "apply"})
    assert body["code"] == "expired_data_purged"
    assert (await vendor.close(session["id"], "discard"))["state"] == "cancelled"


async def test_closing_a_finished_session_is_409_with_its_state(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.close(session["id"])
    _, body = await vendor.call("POST", f"/sessions/{session['id']}/close", 409, json={"status": "apply"})
    assert body["code"] == "session_not_closable" and body["state"] == "processing"
    await control.advance(5)
    _, body = await vendor.call("POST", f"/sessions/{session['id']}/close", 409, json={"status": "discard"})
    assert body["state"] == "processed"


async def test_integration_status_counts_and_activity_log(vendor: Vendor, control: Control) -> None:
    a = await vendor.start()
    await vendor.push(a["id"], {"entities": {"User": [user(1)]}})
    await vendor.push(a["id"], {"entities": {"User": [{"employeeId": "E2"}]}}, expect=400)
    await vendor.close(a["id"])
    await control.advance(2)
    b = await vendor.start()
    await vendor.close(b["id"], "discard")
    c = await vendor.start()
    await control.advance(3600)
    status = await vendor.status()
    assert status["integration_id"] == "acme"
    assert status["sessions"] == {
        "active": 0,
        "processing": 0,
        "processed": 1,
        "cancelled": 1,
        "expired": 1,
        "failed": 0,
    }
    assert status["last_activity_at"] == "2026-01-01T01:00:02.000Z"  # c expired an hour after it started

    log = await vendor.activity(page_size=200)
    types = [item["type"] for item in log["items"]]
    assert types == [
        "session_created",
        "page_accepted",
        "page_rejected",
        "session_processing",
        "session_processed",
        "session_created",
        "session_cancelled",
        "session_created",
        "session_expired",
    ]
    anomaly = log["items"][2]
    assert anomaly["level"] == "error" and anomaly["session_id"] == a["id"]
    assert anomaly["details"]["code"] == "validation_failed"
    assert anomaly["details"]["errors"][0]["field"] == "employmentStartDate"
    assert c["id"] == log["items"][-1]["session_id"]

    paged = await vendor.activity(page=2, page_size=4)
    assert [i["type"] for i in paged["items"]] == types[4:8]
    assert paged["next_page"] == 3
    since = await vendor.activity(since="2026-01-01T00:00:02Z")
    assert [i["type"] for i in since["items"]] == types[4:]


async def test_rejected_page_is_never_applied_and_resend_after_fix_is_accepted(
    vendor: Vendor, control: Control
) -> None:
    session = await vendor.start()
    broken = users(0, 3)
    broken[1]["workEmail"] = "not-an-email"
    body = await vendor.push(session["id"], {"entities": {"User": broken}, "page_hint": 7}, expect=400)
    assert body["code"] == "validation_failed"
    assert body["accepted_count_total"] == 0 and body["rejected_count_total"] == 3
    assert body["echoes"] == {"page_hint": 7}
    assert body["validation_errors"] == [
        {
            "entity_type": "User",
            "index": 1,
            "field": "workEmail",
            "issue": '"not-an-email" is not a valid email address',
            "pointer": "/entities/User/1/workEmail",
            "code": "format",
            "basis": "mock",  # which User fields are required, and their formats, is the emulator's assumption
        }
    ]
    broken[1]["workEmail"] = "fixed@example.com"
    await vendor.push(session["id"], {"entities": {"User": broken}, "page_hint": 7})
    state = await vendor.session(session["id"])
    assert state["accepted_batches"] == 1 and state["rejected_batches"] == 1
    await vendor.close(session["id"])
    await control.advance(2)
    assert [r["workEmail"] for r in await control.records("acme")][1] == "fixed@example.com"


async def test_apply_replaces_dataset_and_deduplicates_by_key_later_pages_win(vendor: Vendor, control: Control) -> None:
    first = await vendor.start()
    await vendor.push(first["id"], {"entities": {"User": users(0, 5)}})
    await vendor.close(first["id"])
    await control.advance(2)
    second = await vendor.start()
    await vendor.push(second["id"], {"entities": {"User": [user(1, firstName="Old")]}})
    await vendor.push(second["id"], {"entities": {"User": [user(1, firstName="New"), user(7)]}})
    await vendor.close(second["id"])
    await control.advance(2)
    applied = await control.records("acme")
    assert [(r["employeeId"], r["firstName"]) for r in applied] == [("E1", "New"), ("E7", "Alice")]


async def test_upsert_mode_keeps_records_not_in_the_session(serve: Any, make_emulator: Any) -> None:
    client = await serve(make_emulator(apply_mode="upsert"))
    vendor, control = Vendor(client), Control(client)
    for batch in (users(0, 3), [user(1, firstName="Bob"), user(5)]):
        session = await vendor.start()
        await vendor.push(session["id"], {"entities": {"User": batch}})
        await vendor.close(session["id"])
        await control.advance(2)
    applied = {r["employeeId"]: r["firstName"] for r in await control.records("acme")}
    assert applied == {"E0": "Alice", "E1": "Bob", "E2": "Alice", "E5": "Alice"}


async def test_types_without_schema_are_accepted_and_applied_in_order(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    page = {"entities": {"Device": [{"serial": "d1", "nested": {"os": "linux"}}], "User": [user(1)]}}
    result = await vendor.push(session["id"], page)
    assert result["accepted_count_by_entity"] == {"Device": 1, "User": 1}
    await vendor.close(session["id"])
    await control.advance(2)
    assert await control.records("acme", "Device") == [{"serial": "d1", "nested": {"os": "linux"}}]


async def test_unknown_entity_types_can_be_rejected_by_setting(serve: Any, make_emulator: Any) -> None:
    vendor = Vendor(await serve(make_emulator(unknown_entity_types="reject")))
    session = await vendor.start()
    body = await vendor.push(session["id"], {"entities": {"Device": [{"serial": "d1"}]}}, expect=400)
    assert body["validation_errors"][0]["code"] == "unknown_entity_type"


async def test_processing_time_zero_finishes_on_close(serve: Any, make_emulator: Any) -> None:
    vendor = Vendor(await serve(make_emulator(processing_seconds=0)))
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    assert (await vendor.close(session["id"]))["state"] == "processed"


async def test_every_response_carries_a_request_id_recorded_in_the_journal(
    vendor: Vendor, control: Control, emulator: Emulator
) -> None:
    async with vendor.client.post(vendor.url("/sessions"), headers=vendor.headers) as response:
        request_id = response.headers["X-Request-Id"]
    async with vendor.client.post(vendor.url("/sessions"), headers={**vendor.headers, "X-Request-Id": "mine-1"}) as r:
        assert r.headers["X-Request-Id"] == "mine-1"
        assert r.status == 409
    entries = await control.journal(integration_id="acme")
    assert [(e["request_id"], e["operation"], e["status"], e["code"]) for e in entries] == [
        (request_id, "start_session", 201, None),
        ("mine-1", "start_session", 409, "session_already_active"),
    ]
    assert entries[0]["session_id"].startswith("ses_")


async def test_session_detail_lists_every_page(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": users(0, 2)}, "page_hint": 1})
    await vendor.push(session["id"], {"entities": {"User": [{"x": 1}]}}, expect=400)
    (detail,) = await control.sessions("acme")
    pages: list[dict[str, Any]] = detail["pages"]
    assert [(p["ordinal"], p["accepted"], p["record_count"], p["code"]) for p in pages] == [
        (1, True, 2, None),
        (2, False, 1, "validation_failed"),
    ]
    assert pages[0]["encoding"] == "identity" and pages[0]["wire_bytes"] > 0
    assert pages[1]["errors"][0]["pointer"] == "/entities/User/0"


@pytest.mark.parametrize("setting", ["reject", "accept"])
async def test_an_empty_page_is_refused_or_staged_and_then_empties_its_type(
    vendor: Vendor, control: Control, setting: str
) -> None:
    """Sprinto's EntitiesEnvelope sets no minimum on a type's records: `empty_pages: accept` stages
    `{"User": []}` (an organisation with no users), and a replace apply then empties User; the
    default refuses it, 400 empty_page (an empty page is most often a client's bug)."""
    async with control.client.put("/_mock/integrations/acme/settings", json={"empty_pages": setting}) as response:
        assert response.status == 200, await response.text()
    first = await vendor.start()
    await vendor.push(first["id"], {"entities": {"User": [user(1), user(2)]}})
    await vendor.close(first["id"])
    await control.advance(3, "acme")
    assert len(await control.records("acme")) == 2
    session = await vendor.start()
    answer = await vendor.push(session["id"], {"entities": {"User": []}}, expect=None)
    if setting == "reject":
        assert answer["code"] == "empty_page"
        await vendor.close(session["id"], "discard")
        assert len(await control.records("acme")) == 2
        return
    assert (answer["accepted_count_total"], answer["page"]) == (0, 1)
    await vendor.close(session["id"])
    await control.advance(3, "acme")
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert await control.records("acme") == []
