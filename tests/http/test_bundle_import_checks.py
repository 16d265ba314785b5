"""What an import checks besides the schema, and what it counts: whole numbers this server could not
write back, a staged page's payload against its counts, sessions counted by state, a processing
session's attempt, the memory budget of what it brings; refusals that name a setting only when it
would change the answer; a staged page read for unknown fields with this server's schemas; applied
records that are objects, journal times the clock could show, and what a server holds once."""

from __future__ import annotations

import copy
import gzip
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto import bundle, cli
from mock_sprinto.errors import ApiError
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, user

Serve = Callable[[Emulator], Awaitable[TestClient[Any, Any]]]
Change = Callable[[dict[str, Any]], None]
ONE = "/_mock/integrations/acme/state"


async def put(control: Control, document: Any, path: str = ONE) -> tuple[int, dict[str, Any]]:
    async with control.client.put(path, json=document) as response:
        return response.status, await response.json()


async def a_run(vendor: Vendor, control: Control) -> dict[str, str]:
    """Sessions in four states: processed (a rejected page among its pages), cancelled, processing
    (a staged page), active (a staged page with a misspelt field, which Sprinto accepts)."""
    done = (await vendor.start())["id"]
    await vendor.push(done, {"entities": {"User": [user(1), user(2)]}, "page_hint": 1})
    await vendor.push(done, {"entities": {"User": [user(3, workEmail="x")]}, "page_hint": 2}, expect=400)
    await vendor.close(done)
    await control.advance(2, "acme")  # processed
    cancelled = (await vendor.start())["id"]
    await vendor.push(cancelled, {"entities": {"User": [user(4)]}})
    await vendor.close(cancelled, "discard")
    processing = (await vendor.start())["id"]
    await vendor.push(processing, {"entities": {"User": [user(5), user(6), user(7)]}, "page_hint": 1})
    await vendor.close(processing)
    active = (await vendor.start())["id"]
    await vendor.push(active, {"entities": {"User": [user(8, workEmial="typo@example.com")]}, "page_hint": 1})
    return {"processed": done, "cancelled": cancelled, "processing": processing, "active": active}


def session_of(document: dict[str, Any], state: str) -> dict[str, Any]:
    return next(s for s in document["integrations"][0]["sessions"] if s["state"] == state)


async def refused_whole(control: Control, change: Change) -> dict[str, Any]:
    """The problem of a PUT of the integration's own bundle, changed; asserts nothing changed."""
    before = await control.get("/state")
    document = await control.get("/integrations/acme/state")
    change(document)
    status, problem = await put(control, document)
    assert (status, problem["code"]) == (400, "invalid_state"), problem
    assert "setting" not in problem, problem  # no setting lets a damaged bundle in
    assert await control.get("/state") == before
    return problem


# ---- whole numbers beyond 64 bits --------------------------------------------------------------------
def _set(state: str, *path: str | int, value: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        node: Any = session_of(document, state)
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _journal_pages(document: dict[str, Any]) -> None:
    document["journal"][0]["page"] = 1e300


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (_set("active", "accepted_pages", 0, "page_hint", value=-1e19), "/accepted_pages/0/page_hint"),
        (_set("active", "accepted_pages", 0, "page_hint", value=2.0**64), "/accepted_pages/0/page_hint"),  # one past
        (_set("active", "inactivity_timeout", value=1e20), "/inactivity_timeout"),  # shown as an int
        (_journal_pages, "/journal/0/page"),
    ],
)
async def test_a_whole_number_beyond_64_bits_is_refused_whole_naming_where(
    vendor: Vendor, control: Control, change: Change, where: str
) -> None:
    await a_run(vendor, control)
    problem = await refused_whole(control, change)
    found = [line for line in problem["errors"] if "a whole number beyond 64 bits" in line]
    assert len(found) == 1 and found[0].split(":")[0].endswith(where), problem


async def test_the_widest_whole_numbers_orjson_writes_are_taken_and_written_back(
    vendor: Vendor, control: Control
) -> None:
    await a_run(vendor, control)
    document = await control.get("/integrations/acme/state")
    session_of(document, "active")["accepted_pages"][0]["page_hint"] = -(2**63)
    session_of(document, "processing")["accepted_pages"][0]["page_hint"] = 2**64 - 1
    status, problem = await put(control, document)
    assert status == 200, problem
    again = await control.get("/integrations/acme/state")
    assert session_of(again, "active")["accepted_pages"][0]["page_hint"] == -(2**63)
    assert session_of(again, "processing")["accepted_pages"][0]["page_hint"] == 2**64 - 1


# The counters the server goes on counting from (a session's pages, the integration's sessions and
# activity, a rule's matches): one taken at 2**64 - 1 went past what orjson writes at the next
# request, and every answer showing it was a 500; an export answered 200 with an empty body.
COUNTED_ON = 2**53 - 1  # the most every JSON reader keeps exact (a JavaScript number), and far from 2**64


def _counters(value: int) -> Change:
    def change(document: dict[str, Any]) -> None:
        integration = document["integrations"][0]
        integration["session_count"] = integration["activity_seq"] = value
        session_of(document, "active")["pages_received"] = value

    return change


async def test_a_counter_beyond_2_53_is_refused_and_one_at_it_is_counted_on(vendor: Vendor, control: Control) -> None:
    sessions = await a_run(vendor, control)
    problem = await refused_whole(control, _counters(COUNTED_ON + 1))
    assert {line.split(":")[0] for line in problem["errors"]} == {
        "/integrations/0/session_count",
        "/integrations/0/activity_seq",
        f"/integrations/0/sessions/{_index_of(await control.get(ONE[6:]), 'active')}/pages_received",
    }, problem
    assert all("9007199254740991" in line for line in problem["errors"]), problem
    document = await control.get("/integrations/acme/state")
    _counters(COUNTED_ON)(document)
    assert (await put(control, document))[0] == 200
    await vendor.push(sessions["active"], {"entities": {"User": [user(9)]}})  # its page 2**53
    await vendor.close(sessions["active"], "discard")
    await vendor.start()  # the integration's session 2**53, and activity past it
    again = await control.get("/integrations/acme/state")  # written whole: no 500, no empty body
    assert again["integrations"][0]["session_count"] == COUNTED_ON + 1
    assert session_of(again, "cancelled")["pages_received"] == COUNTED_ON + 1 or any(
        s["pages_received"] == COUNTED_ON + 1 for s in again["integrations"][0]["sessions"]
    )
    assert (await control.get("/integrations/acme/activity"))["items"]


def _index_of(document: dict[str, Any], state: str) -> int:
    return next(n for n, s in enumerate(document["integrations"][0]["sessions"]) if s["state"] == state)


def test_a_persist_save_that_fails_on_the_way_out_says_why(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"the old one")
    emulator = make_emulator(persist_file=str(target))

    def cannot_write(document: Any, *, compress: bool = False) -> bytes:
        raise orjson.JSONEncodeError("Integer exceeds 64-bit range")

    monkeypatch.setattr(bundle, "encode", cannot_write)
    cli._save_state(emulator)  # no traceback: it says why, and that the file is as it was
    error = capsys.readouterr().err
    assert f"the state could not be saved to {target}" in error and "64-bit" in error, error
    assert "the file was left as it was" in error and target.read_bytes() == b"the old one"


# ---- the memory budget -------------------------------------------------------------------------------
async def test_an_imported_integration_holds_in_the_budget_what_the_live_one_did(
    client: TestClient[Any, Any], emulator: Emulator, vendor: Vendor, control: Control
) -> None:
    """Its sessions, their pages' records (a rejected one's errors), its staged records and its
    activity log are counted as the live integration counted them: no drift, however often it is
    imported and deleted, or its sessions forgotten."""
    empty = emulator.budget.held
    await a_run(vendor, control)
    live = emulator.budget.held
    document = await control.get("/integrations/acme/state")
    for _ in range(3):
        async with client.delete("/_mock/integrations/acme") as response:
            assert response.status in (200, 204)
        assert emulator.budget.held == empty
        status, problem = await put(control, document)
        assert status == 200, problem
        assert emulator.budget.held == live
    # Its finished sessions forgotten, one by one, give back what the import counted, no more.
    async with client.put("/_mock/integrations/acme/settings", json={"max_sessions_kept": 1}) as response:
        assert response.status == 200
    active = session_of(document, "active")["id"]
    await vendor.close(active, "discard")
    for _ in range(3):
        await vendor.close((await vendor.start())["id"], "discard")
        assert emulator.budget.held > empty
    async with client.delete("/_mock/integrations/acme") as response:
        assert response.status in (200, 204)
    assert emulator.budget.held == empty


async def test_an_import_whose_bookkeeping_does_not_fit_the_budget_is_507_and_changes_nothing(
    vendor: Vendor, control: Control, make_emulator: Any, serve: Serve
) -> None:
    """Sessions of many small pages, all discarded: no data held, only the records of pages and the
    activity log, which hold more than the bundle's bytes (so the body itself is read)."""
    for _ in range(4):
        session = (await vendor.start())["id"]
        for page in range(30):
            await vendor.push(session, {"entities": {"User": [user(page)]}, "page_hint": page})
        await vendor.close(session, "discard")
    document = await control.get("/integrations/acme/state")
    document["journal"] = []
    size = len(orjson.dumps(document))
    held = bundle.from_document(copy.deepcopy(document), make_emulator()).held_bytes
    assert size < held * 0.7
    budget = (size + held) // 2 * 32 // 31  # the bundle's bytes fit below the headroom, what it holds does not
    small = await serve(make_emulator(memory_budget_bytes=budget))
    other = Control(small)
    await Vendor(small).start()
    before = await other.get("/state")
    status, problem = await put(other, document)
    assert (status, problem["code"]) == (507, "memory_budget_exceeded"), problem
    assert "nothing was changed" in problem["detail"] and "DELETE /_mock/integrations/ID" in problem["detail"]
    assert await other.get("/state") == before


async def test_a_bundle_whose_bytes_do_not_fit_the_budget_says_what_a_developer_can_free(
    vendor: Vendor, control: Control, make_emulator: Any, serve: Serve
) -> None:
    """A bundle too large to read within the budget was answered with a vendor client's remedy
    ("close this session (discard frees its staged pages...)"): an import closes no session."""
    session = (await vendor.start())["id"]
    for page in range(5):
        await vendor.push(session, {"entities": {"User": [user(page)]}, "page_hint": page})
    document = await control.get("/integrations/acme/state")
    assert len(orjson.dumps(document)) > 2000  # its body alone is over the budget
    small = await serve(make_emulator(memory_budget_bytes=2000))
    status, problem = await put(Control(small), document)
    assert (status, problem["code"]) == (507, "memory_budget_exceeded"), problem
    assert "close this session" not in problem["detail"] and "memory_budget_bytes" in problem["detail"]
    assert "DELETE /_mock/integrations/ID" in problem["detail"]


# ---- staged pages ------------------------------------------------------------------------------------
def _payload(state: str, entities: dict[str, Any]) -> Change:
    def change(document: dict[str, Any]) -> None:
        session_of(document, state)["accepted_pages"][0]["payload"] = orjson.dumps({"entities": entities}).decode()

    return change


def _record_count(document: dict[str, Any]) -> None:
    session_of(document, "processing")["accepted_pages"][0]["record_count"] = 1


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (_payload("processing", {"User": [user(5), 5, None, {"no": "key"}]}), "counts", '{"User":4}'),
        (_payload("processing", {"User": [user(5), user(6), user(7)], "Ghost": [{}]}), "counts", '"Ghost":1'),
        (_payload("active", {"User": []}), "counts", "{}"),
        (_record_count, "record_count", "3"),
    ],
)
async def test_a_staged_pages_payload_must_hold_the_records_its_counts_say(
    vendor: Vendor, control: Control, change: Change, where: str, says: str
) -> None:
    await a_run(vendor, control)
    problem = await refused_whole(control, change)
    (line,) = problem["errors"]
    assert f"/accepted_pages/0/{where}: the records its payload holds" in line and says in line, problem


async def test_a_staged_page_is_read_for_unknown_fields_with_this_servers_schemas(
    vendor: Vendor, control: Control
) -> None:
    """A bundle's "none found" (or fields no page holds) on a page that keeps its payload is not
    taken: the page is read again here. A page without its payload keeps what the bundle found."""
    await a_run(vendor, control)
    document = await control.get("/integrations/acme/state")
    staged = session_of(document, "active")["accepted_pages"][0]
    assert "workEmial" in staged["payload"]
    staged["unknown_fields"] = {}  # as if read, none found: it would hide the misspelt field
    pages = session_of(document, "processed")["accepted_pages"]
    assert pages[0]["payload"] is None
    pages[0]["unknown_fields"] = {"User": ["firstNme"]}  # no payload to read again: kept
    status, problem = await put(control, document)
    assert status == 200, problem
    restored = await control.get("/integrations/acme/state")
    assert session_of(restored, "processed")["accepted_pages"][0]["unknown_fields"] == {"User": ["firstNme"]}
    report = await control.get("/integrations/acme/report")
    (finding,) = [f for f in report["findings"] if f["id"] == "unknown_field"]
    said = orjson.dumps(finding).decode()
    assert "workEmial" in said and "firstNme" in said, finding


# ---- sessions counted by state, and processing ------------------------------------------------------
def _counts(**counts: int) -> Change:
    def change(document: dict[str, Any]) -> None:
        document["integrations"][0]["state_counts"].update(counts)

    return change


def _no_attempt(document: dict[str, Any]) -> None:
    item = document["integrations"][0]
    item["due"] = [due for due in item["due"] if due["kind"] != "attempt"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (_counts(active=0), "/integrations/0/state_counts/active: 0, but the integration holds 1 session"),
        (_counts(processing=2), "/integrations/0/state_counts/processing: 2, but the integration holds 1 session"),
        (_counts(cancelled=0), "/integrations/0/state_counts/cancelled: 0, but the integration holds 1 session"),
        (_no_attempt, "/integrations/0/due: no processing attempt for session"),
    ],
)
async def test_sessions_counted_by_state_and_a_processing_attempt_must_agree_with_the_sessions(
    vendor: Vendor, control: Control, change: Change, where: str
) -> None:
    await a_run(vendor, control)
    problem = await refused_whole(control, change)
    assert any(line.startswith(where) for line in problem["errors"]), problem


@pytest.mark.parametrize(
    ("change", "where"),
    [
        # a finish on a session still staging: every push to it answered 500 (its pages kept flat)
        (_set("active", "finished_at", value=1.8e9), "/sessions/3/finished_at: null for a session active"),
        (_set("processing", "finished_at", value=1.8e9), "/sessions/2/finished_at: null for a session processing"),
        # a staged page without its body: the apply failed later, the data lost
        (_set("active", "accepted_pages", 0, "payload", value=None), "/sessions/3/accepted_pages/0/payload"),
        (_set("processing", "accepted_pages", 0, "payload", value=None), "/sessions/2/accepted_pages/0/payload"),
    ],
)
async def test_a_session_still_holding_its_data_has_no_finish_and_every_staged_pages_body(
    vendor: Vendor, control: Control, change: Change, where: str
) -> None:
    await a_run(vendor, control)
    problem = await refused_whole(control, change)
    assert any(where in line for line in problem["errors"]), problem


async def test_finished_sessions_forgotten_stay_counted_by_state(
    make_emulator: Any, serve: Serve, vendor: Vendor, control: Control
) -> None:
    """A live server counts every session it had (``max_sessions_kept`` forgets the oldest finished
    ones, not their count): its bundle holds fewer than it counts, and is taken."""
    async with control.client.put("/_mock/integrations/acme/settings", json={"max_sessions_kept": 1}) as response:
        assert response.status == 200
    for _ in range(3):
        await vendor.close((await vendor.start())["id"], "discard")
    document = await control.get("/integrations/acme/state")
    assert len(document["integrations"][0]["sessions"]) == 1
    assert document["integrations"][0]["state_counts"]["cancelled"] == 3
    status, problem = await put(control, document)
    assert status == 200, problem
    assert (await vendor.status())["sessions"]["cancelled"] == 3


# ---- which setting a refusal names -------------------------------------------------------------------
def _not_base64(document: dict[str, Any]) -> None:
    entry = document["journal"][0]
    entry["request_body"], entry["request_body_base64"] = "not base64!", True


def _override(document: dict[str, Any]) -> None:
    document["integrations"][0]["settings_overrides"] = {"max_page_items": -3}


@pytest.mark.parametrize("change", [_not_base64, _override, _counts(active=0)])
async def test_a_damaged_bundle_names_no_setting(vendor: Vendor, control: Control, change: Change) -> None:
    await a_run(vendor, control)
    await refused_whole(control, change)  # asserts no setting


async def test_refusals_name_a_setting_only_when_it_would_change_the_answer(control: Control) -> None:
    for document, code in (
        ({}, "invalid_state"),
        ({"format": "mock-sprinto-state", "version": 2}, "unsupported_state_version"),
    ):
        status, problem = await put(control, document, "/_mock/state")
        assert (status, problem["code"]) == (400, code) and "setting" not in problem, problem
    async with control.client.post("/_mock/state/save") as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["setting"]) == (409, "persistence_off", "persist_file")
    # Over the size limit (a --state file, decoded): max_state_bytes lets it in.
    with pytest.raises(ApiError) as raised:
        bundle.decode(gzip.compress(b"[" + b"0," * 1000 + b"0]"), 1000, 64)
    assert raised.value.problem()["setting"] == "max_state_bytes"


async def test_a_har_imported_as_a_bundle_is_told_apart_in_json_terms(control: Control) -> None:
    for document, says in (
        ({"log": {"version": "1.2", "entries": []}}, "it has no 'format' (its members: 'log')"),
        ({"log": {"version": "1.2", "entries": []}}, "(it is a HAR, which the judge reads: mock-sprinto judge FILE"),
        ({"format": None}, "got null"),
        ({"format": True}, "got true"),
        ([1, 2], "the document is an array, not an object"),
    ):
        status, problem = await put(control, document, "/_mock/state")
        assert status == 400 and says in problem["detail"], problem
        assert "None" not in problem["detail"] and "True" not in problem["detail"], problem
    status, problem = await put(control, {"format": "mock-sprinto-state"}, "/_mock/state")
    assert problem["code"] == "unsupported_state_version" and "an unversioned state bundle" in problem["detail"]
    assert "None" not in problem["detail"], problem


def test_a_bundle_of_the_whole_server_counts_its_global_scenario_once(make_emulator: Any) -> None:
    """Its global scenario replaces the server's: the budget counts the new one, not both."""
    from mock_sprinto.control import ControlPlane
    from mock_sprinto.faults.scenario import shipped_by_name

    source = make_emulator()
    ControlPlane(source).set_scenario(shipped_by_name("rate-limited"))
    document = copy.deepcopy(bundle.to_document(source))
    target = make_emulator()
    ControlPlane(target).set_scenario(shipped_by_name("flaky-network"))
    for _ in range(2):
        ControlPlane(target).put_state(document)
        assert target.budget.held == source.budget.held


async def test_a_bundle_holding_a_scenario_named_like_a_shipped_one_with_nothing_in_it_says_why(
    vendor: Vendor, control: Control
) -> None:
    # Such a scenario is refused when it is set (it installs nothing under reject-page-2's name,
    # schemas/scenario.schema.json); in a bundle it is refused with the same words.
    await vendor.start()
    async with control.client.put("/_mock/integrations/acme/scenario", json={"name": "mine"}) as response:
        assert response.status == 200
    async with control.client.get(ONE) as response:
        document = await response.json()
    assert document["integrations"][0]["scenario"]["document"] == {"name": "mine"}
    document["integrations"][0]["scenario"]["document"] = {"name": "reject-page-2"}
    status, answer = await put(control, document)
    assert (status, answer["code"]) == (400, "invalid_state")
    assert any("send its name as a JSON string" in problem for problem in answer["errors"]), answer["errors"]


async def test_the_journal_keeps_page_hints_through_a_bundle_and_an_older_bundle_has_none(
    vendor: Vendor, control: Control
) -> None:
    await a_run(vendor, control)
    document = await control.get("/integrations/acme/state")
    hints = [e["page_hint"] for e in document["journal"] if e["operation"] == "push_page"]
    assert hints == [1, 2, None, 1, 1], hints  # the cancelled session's page sent none
    assert (await put(control, document))[0] == 200
    again = await control.get("/integrations/acme/state")
    assert [e["page_hint"] for e in again["journal"] if e["operation"] == "push_page"] == hints
    for entry in again["journal"]:  # as a bundle written before the journal kept them
        del entry["page_hint"]
    assert (await put(control, again))[0] == 200
    older = await control.get("/integrations/acme/state")
    assert [e["page_hint"] for e in older["journal"]] == [None] * len(older["journal"])


# ---- what a live server holds, and holds once ----------------------------------------------------------
def _record(text: str) -> Change:
    def change(document: dict[str, Any]) -> None:
        document["integrations"][0]["datasets"][0]["records"][0] = text

    return change


@pytest.mark.parametrize(
    ("text", "says"),
    [("[1,2]", "an array"), ("5", "5"), ("null", "null"), ('"E1"', '"E1"'), ("{oops", "unexpected character")],
)
async def test_an_applied_record_is_a_json_object(vendor: Vendor, control: Control, text: str, says: str) -> None:
    """An array was taken, and the records view served [[1, 2], {...}]: the vendor API applies no
    record but an object."""
    await a_run(vendor, control)
    problem = await refused_whole(control, _record(text))
    (line,) = problem["errors"]
    assert line.startswith("/integrations/0/datasets/0/records/0: not a JSON record: ") and says in line, problem


def _journal_time(name: str, value: float) -> Change:
    def change(document: dict[str, Any]) -> None:
        document["journal"][0][name] = value
        document["integrations"][0]["clock"]["now"] = value  # refused with the same words

    return change


@pytest.mark.parametrize(("name", "value"), [("at", 1e300), ("at", -1e12), ("arrived_at", 1e300)])
async def test_a_journal_time_is_one_the_clock_could_show(
    vendor: Vendor, control: Control, name: str, value: float
) -> None:
    """1e300 was taken and shown as 9999-12-31T23:59:59.000Z, while the same clock time is refused."""
    await a_run(vendor, control)
    problem = await refused_whole(control, _journal_time(name, value))
    said = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in problem["errors"]}
    assert set(said) == {f"/journal/0/{name}", "/integrations/0/clock/now"}, problem
    assert said[f"/journal/0/{name}"] == said["/integrations/0/clock/now"], problem


Steps = tuple[str | int, ...]


def _at(document: Any, path: Steps) -> Any:
    for part in path:
        document = document[part]
    return document


def _again(path: Steps) -> Change:
    """The array at ``path`` with its first member once more at its end."""

    def change(document: dict[str, Any]) -> None:
        members = _at(document, path)
        members.append(copy.deepcopy(members[0]))

    return change


# What a run of a_run holds once (its journal's entries, activity items, sessions, finished ones,
# applied Users: users 1 and 2): the pointer names the second copy, the message what it is.
ONCE: list[tuple[Steps, str, str]] = [
    (("journal",), "/journal/{n}/answer", "the entry of request 'req_"),
    (("integrations", 0, "activity"), "/integrations/0/activity/{n}/id", "activity item 'act_00000001'"),
    (("integrations", 0, "finished"), "/integrations/0/finished/{n}", "session 'ses_"),
    (
        ("integrations", 0, "datasets", 0, "records"),
        "/integrations/0/datasets/0/records/{n}",
        'the record of employeeId "E1"',
    ),
    (("integrations", 0, "sessions"), "/integrations/0/sessions/{n}/id", "session 'ses_"),  # refused before
    (("integrations", 0, "datasets"), "/integrations/0/datasets/{n}/entity_type", "dataset 'User'"),  # too
]


@pytest.mark.parametrize(("path", "where", "says"), ONCE)
async def test_what_a_server_holds_once_is_refused_twice_naming_the_second(
    vendor: Vendor, control: Control, path: Steps, where: str, says: str
) -> None:
    """A journal entry twice was taken, and verify counted it twice ("#1 start_session 201
    session 1", "#2 start_session 201 session 1"); so were an activity item, a finished session and
    an applied record (a second of the same key) twice."""
    await a_run(vendor, control)
    n = len(_at(await control.get("/integrations/acme/state"), path))
    problem = await refused_whole(control, _again(path))
    (line,) = [line for line in problem["errors"] if "appears twice" in line]
    assert line.startswith(where.format(n=n) + ": " + says), problem


async def test_every_repeat_is_listed_at_once(vendor: Vendor, control: Control) -> None:
    await a_run(vendor, control)
    document = await control.get("/integrations/acme/state")
    wheres = {where.format(n=len(_at(document, path))) for path, where, _ in ONCE}

    def change(document: dict[str, Any]) -> None:
        for path, _, _ in reversed(ONCE):  # the second dataset copied before the first has a repeat
            _again(path)(document)

    problem = await refused_whole(control, change)
    assert {line.split(": ")[0] for line in problem["errors"] if "appears twice" in line} == wheres, problem


async def test_a_request_id_a_client_sends_again_is_not_a_repeat(vendor: Vendor, control: Control) -> None:
    """A client's X-Request-Id is the journal's request id: a retry may send it again. Its two
    entries are two requests, and the bundle holding them imports."""
    for _ in range(2):
        await vendor.start(expect=None, headers={"X-Request-Id": "retry-1"})
    document = await control.get("/integrations/acme/state")
    assert [entry["request_id"] for entry in document["journal"]] == ["retry-1", "retry-1"]
    status, problem = await put(control, document)
    assert status == 200, problem


async def test_a_server_bundle_with_one_damaged_integration_is_refused_whole(vendor: Vendor, control: Control) -> None:
    await a_run(vendor, control)
    other = Vendor(control.client, "zeta", "key-zeta")
    await other.close((await other.start())["id"])
    await control.advance(2, "zeta")
    before = await control.get("/state")
    document = copy.deepcopy(before)
    assert [item["id"] for item in document["integrations"]] == ["acme", "zeta"]
    document["integrations"][1]["finished"] *= 2
    status, problem = await put(control, document, "/_mock/state")
    assert (status, problem["code"]) == (400, "invalid_state"), problem
    assert problem["errors"] == [
        "/integrations/1/finished/1: session " + repr(document["integrations"][1]["finished"][0]) + " appears twice"
    ], problem
    assert await control.get("/state") == before


async def test_a_server_that_took_an_integrations_bundle_again_exports_a_bundle_it_takes(
    vendor: Vendor, control: Control
) -> None:
    """The journal keeps the replaced integration's entries: the server's bundle holds each request
    id three times, as three entries, each answered in its turn."""
    await a_run(vendor, control)
    document = await control.get("/integrations/acme/state")
    for _ in range(2):
        assert (await put(control, document))[0] == 200
    server = await control.get("/state")
    ids = [entry["request_id"] for entry in server["journal"]]
    assert len(ids) == 3 * len(set(ids)), ids
    status, problem = await put(control, server, "/_mock/state")
    assert status == 200, problem


@pytest.mark.parametrize("where", ["activity", "due"])
async def test_an_activity_item_or_a_due_event_at_a_time_no_clock_shows_is_refused(
    vendor: Vendor, control: Control, where: str
) -> None:
    """An activity item or a pending processing attempt at 1e300 was taken (the journal's and the
    clock's times were already refused so)."""
    await a_run(vendor, control)

    def change(document: dict[str, Any]) -> None:
        document["integrations"][0][where][0]["at"] = 1e300

    problem = await refused_whole(control, change)
    assert [line.split(": ", 1)[0] for line in problem["errors"]] == [f"/integrations/0/{where}/0/at"], problem


async def test_a_record_nested_deeper_than_the_emulator_writes_is_refused_naming_where(
    vendor: Vendor, control: Control
) -> None:
    """Before: a 500 (orjson reads 1,024 levels and writes 254: the import read the record, then
    could not keep it). A hostile-input review."""
    await a_run(vendor, control)

    def too_deep(document: dict[str, Any]) -> None:
        dataset = document["integrations"][0]["datasets"][0]
        dataset["records"][0] = '{"employeeId": "E9", "a": ' + "[" * 300 + "]" * 300 + "}"

    problem = await refused_whole(control, too_deep)
    assert any(
        line.startswith("/integrations/0/datasets/0/records/0: a record of 'User' cannot be written as JSON")
        for line in problem["errors"]
    ), problem
