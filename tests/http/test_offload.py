"""Large control documents handled in a child process (``mock_sprinto.offload``): a HAR capture
judged, a state bundle decoded and checked there and parsed here a chunk at a time.

On the control thread, parsing an 11-15 MB document, checking a bundle against its schema, and
collecting what parsing made each held the GIL for 70-190 ms at a time on a slow machine while
every client of the server waited. Each test here failed before: the server parsed and checked
the document itself."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from mock_sprinto import bundle, journal, offload, pieces, steps
from mock_sprinto.judging import ChildJudge
from mock_sprinto.report import har as har_module
from mock_sprinto.service import Emulator

from ..helpers import Control, Vendor, users

PADDING = b" " * (offload.INLINE_DOCUMENT_BYTES + 1)  # white space after the document: still JSON
JSON = {"Content-Type": "application/json"}


def _parsed_here(monkeypatch: pytest.MonkeyPatch, *where: Any) -> list[int]:
    """Fails any whole-document parse or check made by this process; returns the sizes of the
    chunks ``pieces`` parses here."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the document was parsed or checked in the server's process")

    for module, name in where:
        monkeypatch.setattr(module, name, refuse)
    sizes: list[int] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(orjson, name)

        @staticmethod
        def loads(data: bytes) -> Any:
            sizes.append(len(data))
            return orjson.loads(data)

    monkeypatch.setattr(pieces, "orjson", Counting())
    return sizes


@pytest.fixture
def without_child(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A child that cannot be asked: the control thread does the work, as before."""
    child = ChildJudge("mock_sprinto.offload")
    child._failed = True
    monkeypatch.setattr(offload, "CHILD", child)
    yield


async def _synced(vendor: Vendor, pages: int) -> None:
    session = await vendor.start()
    for page in range(pages):
        await vendor.push(session["id"], {"entities": {"User": users(page * 100, 100)}})
    await vendor.close(session["id"])
    await vendor.session(session["id"])


async def _judged(control: Control, har: bytes) -> tuple[int, Any]:
    async with control.client.post("/_mock/judge", data=har, headers=JSON) as response:
        return response.status, await response.json()


async def test_a_large_har_is_judged_in_a_child_with_the_answer_the_server_gives(
    vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _synced(vendor, 2)
    async with control.client.get("/_mock/journal.har?integration_id=acme") as response:
        har = await response.read()
    status, small = await _judged(control, har)  # under the threshold: judged here
    assert status == 200 and small["integrations"][0]["requests"] == 5
    _parsed_here(monkeypatch, (har_module, "parse_har"), (har_module, "judge_har"))
    status, large = await _judged(control, har + PADDING)
    assert status == 200, large
    assert large == small
    assert offload.CHILD.pid is not None


async def test_a_large_har_the_judge_cannot_read_is_refused_as_a_small_one_is(control: Control) -> None:
    not_har = b'{"log": {"version": "1.2", "entries": 3}}'
    small_status, small = await _judged(control, not_har)
    status, large = await _judged(control, not_har + PADDING)
    assert small_status == status == 400
    assert large == small and large["code"] == "invalid_har"


async def test_a_large_bundle_is_checked_in_a_child_and_parsed_here_a_chunk_at_a_time(
    vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _synced(vendor, 40)  # 4,000 records applied: their list is ~1.3 MB of the bundle
    async with control.client.get("/_mock/integrations/acme/state") as response:
        exported = await response.read()
    assert len(exported) > offload.INLINE_DOCUMENT_BYTES
    records = await control.records("acme")
    sizes = _parsed_here(monkeypatch, (bundle, "decode"), (bundle, "checked_document"))
    async with control.client.put("/_mock/integrations/acme/state", data=exported, headers=JSON) as response:
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert answer["integrations"] == ["acme"] and answer["journal_entries"] == 43  # start, 40 pages, close, status
    assert len(sizes) > 4 and max(sizes) <= pieces.CHUNK_BYTES + 2_000  # never the whole bundle at once
    assert await control.records("acme") == records
    async with control.client.get("/_mock/integrations/acme/state") as response:
        again = orjson.loads(await response.read())
    mine = orjson.loads(exported)
    assert again["integrations"][0]["datasets"] == mine["integrations"][0]["datasets"]
    assert [e["operation"] for e in again["journal"]] == [e["operation"] for e in mine["journal"]]


@pytest.mark.parametrize("child", ["in a child", "on the thread"])
async def test_a_large_bundle_is_refused_with_every_problem_wherever_it_is_checked(
    child: str, vendor: Vendor, control: Control, request: pytest.FixtureRequest
) -> None:
    await _synced(vendor, 2)
    if child == "on the thread":
        request.getfixturevalue("without_child")
    document = await control.get("/integrations/acme/state")
    document["integrations"][0]["sessions"][0]["state"] = "dancing"
    document["journal"][0]["status"] = "teapot"
    broken = json.dumps(document).encode() + PADDING
    async with control.client.put("/_mock/integrations/acme/state", data=broken, headers=JSON) as response:
        assert response.status == 400
        refusal = await response.json()
    assert refusal["code"] == "invalid_state"
    assert [p.split(":")[0] for p in refusal["errors"]] == ["/integrations/0/sessions/0/state", "/journal/0/status"]
    document["version"] = 99
    other = json.dumps(document).encode() + PADDING
    async with control.client.put("/_mock/integrations/acme/state", data=other, headers=JSON) as response:
        assert response.status == 400, await response.text()
        assert (await response.json())["code"] == "unsupported_state_version"


async def test_the_swap_on_the_loop_packs_no_journal_entry(
    vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's rows are made with the rest of the bundle, off the loop: made in the swap, a
    full journal's took most of its 80-90 ms (a slow machine)."""
    await _synced(vendor, 3)
    async with control.client.get("/_mock/integrations/acme/state") as response:
        exported = await response.read()
    made: list[str] = []
    original = journal.row_of
    loop_thread: list[bool] = []

    def row_of(entry: journal.JournalEntry) -> Any:
        import threading

        made.append(entry.operation)
        loop_thread.append(threading.current_thread() is threading.main_thread())
        return original(entry)

    monkeypatch.setattr(bundle, "row_of", row_of)
    async with control.client.put("/_mock/integrations/acme/state", data=exported, headers=JSON) as response:
        assert response.status == 200, await response.text()
    assert len(made) == 6 and not any(loop_thread)
    entries = await control.journal()
    arrivals = [entry["arrival"] for entry in entries]
    # the 6 requests made, then the same 6 imported: numbered after every request the server had seen
    assert arrivals == sorted(arrivals) and len(set(arrivals)) == len(arrivals) == 12
    assert [e["operation"] for e in entries[:6]] == [e["operation"] for e in entries[6:]]
    assert await control.journal(integration_id="acme") == entries[6:]  # the integration's own: the imported


async def _imported_while_others_are_answered(
    vendor: Vendor, control: Control, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[Any]]:
    """acme's bundle imported back while its old tenant and another integration are answered (the
    build waits for them on its thread); returns the rows the build made and the journal's ring."""
    await _synced(vendor, 2)
    async with control.client.get("/_mock/integrations/acme/state") as response:
        exported = await response.read()
    built: list[Any] = []
    building, requests_done = threading.Event(), threading.Event()
    original = bundle.row_of

    def row_of(entry: journal.JournalEntry) -> Any:
        building.set()
        requests_done.wait(10)
        built.append(original(entry))
        return built[-1]

    monkeypatch.setattr(bundle, "row_of", row_of)
    put = asyncio.ensure_future(control.client.put("/_mock/integrations/acme/state", data=exported, headers=JSON))
    for _ in range(1_000):  # until the build is under way, its numbers taken
        if building.is_set():
            break
        await asyncio.sleep(0.01)
    other = Vendor(control.client, "beta", "key-2")
    await other.start()
    await vendor.status()  # the old acme, still in place while the new one is built
    requests_done.set()
    async with await put as response:
        assert response.status == 200, await response.text()
    return built, list(emulator.journal._rows)


async def test_a_bundle_built_off_the_loop_is_numbered_there_past_the_requests_answered_meanwhile(
    vendor: Vendor, control: Control, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renumbering a full journal's rows in the swap, on the loop, took 15-17 ms of a slow machine.
    Its numbers are given in the build, past those the requests answered meanwhile take: the ring
    stays in the order of answers, and the new acme owns only the rows it brought."""
    built, ring = await _imported_while_others_are_answered(vendor, control, emulator, monkeypatch)
    assert len(built) == 5 and all(any(row is kept for kept in ring) for row in built)  # the rows made there
    answers = [row[journal._ANSWER] for row in ring]
    assert answers == sorted(answers)
    assert [row[journal._OPERATION] for row in ring[-7:-5]] == ["start_session", "integration_status"]
    async with control.client.get("/_mock/integrations/acme/state") as response:
        again = await response.json()
    assert len(again["journal"]) == 5  # not the status read its predecessor answered


async def test_a_bundle_whose_gap_filled_while_it_was_built_is_numbered_again_in_the_swap(
    vendor: Vendor, control: Control, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "IMPORT_ORDER_GAP", 1)
    built, ring = await _imported_while_others_are_answered(vendor, control, emulator, monkeypatch)
    assert not any(row is kept for row in built for kept in ring)  # moved on: made again
    answers = [row[journal._ANSWER] for row in ring]
    assert answers == sorted(answers) and len(set(answers)) == len(answers)
    async with control.client.get("/_mock/integrations/acme/state") as response:
        assert len((await response.json())["journal"]) == 5


async def test_the_rows_an_import_pushes_out_of_the_journal_are_freed_off_the_loop(
    make_emulator: Any, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full journal's 10,000 rows, freed at once as the ring dropped them, held the loop 8-9 ms of
    a slow machine."""
    emulator = make_emulator(journal_size=12)
    client = await serve(emulator)
    vendor = Vendor(client)
    await _synced(vendor, 4)  # 7 requests
    async with client.get("/_mock/integrations/acme/state") as response:
        exported = await response.read()
    freed_on: list[str] = []
    original = steps._delete_in_pieces

    def delete_in_pieces(items: list[Any]) -> None:
        freed_on.append(f"{threading.current_thread().name}: {len(items)}")
        original(items)

    monkeypatch.setattr(steps, "_delete_in_pieces", delete_in_pieces)
    oldest = emulator.journal._rows[0]
    async with client.put("/_mock/integrations/acme/state", data=exported, headers=JSON) as response:
        assert response.status == 200, await response.text()
    for _ in range(100):
        if freed_on:
            break
        await asyncio.sleep(0.01)
    assert len(freed_on) == 1 and freed_on[0].startswith("mock-sprinto-control")
    assert freed_on[0].endswith(": 2")  # 7 kept and 7 imported in a ring of 12
    assert emulator.journal._rows[0] is not oldest and len(emulator.journal._rows) == 12


def test_a_job_the_child_cannot_finish_is_left_to_the_server_and_the_child_stays_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: any error but a refusal ended the child (the server saw its pipe close, and after two
    such documents judged every later one on its thread)."""
    from mock_sprinto import judging
    from mock_sprinto.settings import Settings

    def broken(document: Any) -> Any:
        raise TypeError("Recursion limit reached")

    monkeypatch.setattr(offload, "split", broken)
    asked = io.BytesIO()
    settings = Settings()
    bundle_bytes = b'{"format": "mock-sprinto-state"}'
    judging.write_message(asked, ("bundle", settings.max_state_bytes, settings.max_json_depth), bundle_bytes)
    judging.write_message(asked, ("bundle", settings.max_state_bytes, settings.max_json_depth), b"[1]")
    asked.seek(0)
    answered = io.BytesIO()
    offload.serve(asked, answered)
    answered.seek(0)
    first, second = judging.read_message(answered)[0], judging.read_message(answered)[0]
    assert first[0] == "refused"  # not a bundle: refused before the split
    assert second[0] == "refused"
    monkeypatch.setattr(bundle, "checked_document", lambda *args: {"a": [1]})
    asked.seek(0)
    answered = io.BytesIO()
    offload.serve(asked, answered)
    answered.seek(0)
    answers = [judging.read_message(answered)[0], judging.read_message(answered)[0]]
    assert [kind for kind, _ in answers] == ["failed", "failed"]  # both answered: the child went on
    assert "Recursion limit" in answers[0][1]
    assert offload._answer(answers[0]) is None  # the server does the job itself
