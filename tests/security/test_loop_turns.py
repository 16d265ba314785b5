"""Issue 22: nothing stalls the loop. A large page's copies on the workers give the GIL up.

The event loop waits for the GIL at each of its syscalls; a worker copying a 24 MB page with the GIL
held keeps it waiting for the whole copy. Each test here failed on the code before its fix."""

from __future__ import annotations

import asyncio
import gzip
import io
import itertools
import sys
from types import FrameType
from typing import Any

import orjson
import pytest

from mock_sprinto import judging
from mock_sprinto.control import ControlPlane
from mock_sprinto.http import body as body_module
from mock_sprinto.http import common

from ..helpers import Control, Vendor, user


def test_the_page_goes_down_the_judges_pipe_as_it_is() -> None:
    """Before: the page was pickled into one message with its settings, a copy of 24 MB made with
    the GIL held (the loop waited up to ~17 ms for it while floods were judged); the pipe's own
    writes give the GIL up."""
    writes: list[bytes] = []

    class Pipe(io.BytesIO):
        def write(self, data: Any) -> int:
            writes.append(data)
            return super().write(data)

    pipe = Pipe()
    raw = b'{"entities": {"Blob": [{"notes": "' + b"a" * 2_000_000 + b'"}]}}'
    judging.write_message(pipe, (("schemas",), "settings"), raw)
    assert any(data is raw for data in writes)  # handed to the pipe, not copied into a message
    pipe.seek(0)
    assert judging.read_message(pipe) == ((("schemas",), "settings"), raw)
    empty = io.BytesIO()
    judging.write_message(empty, ("verdict", "digest"))  # the child's answer has no bytes after it
    empty.seek(0)
    assert judging.read_message(empty) == (("verdict", "digest"), b"")


def test_a_large_decoded_page_is_put_together_by_one_bytes_join() -> None:
    """bytes.join copies a result over 1 MiB with the GIL released. Before: each decoded step was
    added to a bytearray, then the whole copied into bytes, both with the GIL held (~15 ms for a
    flooder's 24 MB page, which the loop waited for while a worker inflated it)."""
    joins: list[int] = []

    def watch(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") == "join" and getattr(arg, "__self__", None) == b"":
            joins.append(1)

    page = b'{"entities": {"Blob": [{"notes": "' + b"a" * 3_000_000 + b'"}]}}'
    wire = gzip.compress(page[:1_000_000], mtime=0) + gzip.compress(page[1_000_000:], mtime=0)  # two members
    sys.setprofile(watch)
    try:
        decoded = body_module.inflate(wire, "gzip", body_module.SizeLimit(10_000_000, "max_decoded_bytes"))
    finally:
        sys.setprofile(None)
    assert decoded == page and type(decoded) is bytes
    assert len(joins) == 1


# ---- large control-plane answers are made while they are written ---------------------------------
async def _raw_while_ticking(client: Any, path: str, events: list[str]) -> bytes:
    """GET ``path`` (written a part at a time) while another task marks each turn of the loop: the
    answer's bytes."""

    async def ticking() -> None:
        while True:
            events.append("tick")
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(ticking())
    try:
        async with client.get(path) as response:
            assert response.status == 200
            return bytes(await response.read())
    finally:
        ticker.cancel()


async def _read_while_ticking(client: Any, path: str, events: list[str]) -> Any:
    """GET ``path`` (written a part at a time) while another task marks each turn of the loop."""
    return orjson.loads(await _raw_while_ticking(client, path, events))


async def test_a_servers_state_bundle_is_made_an_integration_at_a_time(
    client: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the whole bundle (every integration, then every journal entry) was made in one step
    of the loop, then written: ~0.3 s for a server with a full journal. Now each integration and
    each chunk of entries is made when it is written, other requests served between; the answer is
    the same document."""
    from mock_sprinto import bundle

    for name in ("acme", "globex", "initech"):
        vendor = Vendor(client, name, "k")
        session = await vendor.start()
        await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
        await vendor.close(session["id"])
    expected = ControlPlane(emulator).state()
    events: list[str] = []
    made = bundle._tenant_document

    def making(emulator: Any, tenant: Any, *rest: Any) -> Any:
        events.append(tenant.id)
        return made(emulator, tenant, *rest)

    monkeypatch.setattr(bundle, "_tenant_document", making)
    monkeypatch.setattr(common, "STREAM_CHUNK_BYTES", 1)  # every part its own write
    got = await _read_while_ticking(client, "/_mock/state", events)
    assert got["integrations"] == expected["integrations"]
    assert got["journal"] == expected["journal"]
    assert {k: v for k, v in got.items() if k not in ("integrations", "journal", "exported_at")} == {
        k: v for k, v in expected.items() if k not in ("integrations", "journal", "exported_at")
    }
    made_at = [i for i, event in enumerate(events) if event != "tick"]
    assert len(made_at) == 3
    assert all("tick" in events[a:b] for a, b in itertools.pairwise(made_at))  # the loop turned between


async def test_an_integrations_records_and_payloads_go_into_its_state_bundle_a_part_at_a_time(
    client: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: one integration's document was made in one step of the loop, its applied records and
    staged pages with it: 100,000 records took ~20 ms of that step, a million ~0.2 s, and an
    integration may stage a GiB. Now its records are made ``RECORDS_PER_PART`` at a time and each
    page's payload in a part of its own, as they are written, other requests served between; the
    records from a copy taken when the integration's turn came (a record applied meanwhile is not
    in them); the answer is the same document."""
    from mock_sprinto import bundle

    vendor = Vendor(client, "acme", "k")
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(n) for n in range(7)]}})
    await vendor.close(session["id"])
    await Control(client).advance(3600)  # processed and applied
    assert len(await Control(client).records("acme")) == 7
    staged = await vendor.start()
    for n in range(2):
        await vendor.push(staged["id"], {"entities": {"User": [user(10 + n)]}})
    expected = ControlPlane(emulator).state()
    events: list[str] = []
    made_records, stand_in = bundle._records_parts, bundle._StandIns._stand_in

    def making(records: Any) -> Any:
        for part in made_records(records):
            events.append("records")
            if events.count("records") == 1:  # once the first part is out, an apply lands
                emulator.tenant("acme").datasets["User"].put(user(99))
            yield part

    def counting(self: Any, parts: Any) -> str:
        def made() -> Any:
            events.append("member")
            yield from parts()

        return stand_in(self, made)  # type: ignore[no-any-return]

    monkeypatch.setattr(bundle, "_records_parts", making)
    monkeypatch.setattr(bundle._StandIns, "_stand_in", counting)
    monkeypatch.setattr(bundle, "RECORDS_PER_PART", 2)
    monkeypatch.setattr(common, "STREAM_CHUNK_BYTES", 1)  # every part its own write
    got = await _read_while_ticking(client, "/_mock/state", events)
    assert got["integrations"] == expected["integrations"]  # the 7 records only, as when its turn came
    # Two staged pages' payloads, the processed session, one dataset's records, the activity log.
    assert events.count("member") == 5
    assert events.count("records") == 5  # 2 + 2 + 2 + 1 records, then the array's end
    for kind in ("member", "records"):  # each payload, the records' parts: the loop turned between
        made_at = [i for i, event in enumerate(events) if event == kind]
        assert all("tick" in events[a:b] for a, b in itertools.pairwise(made_at)), kind
    pages = got["integrations"][0]["sessions"][-1]["accepted_pages"]
    assert [len(orjson.loads(page["payload"])["entities"]["User"]) for page in pages] == [1, 1]
    assert len(emulator.tenant("acme").datasets["User"].records) == 8  # the apply meanwhile did land


async def test_the_journal_is_made_while_it_is_written(
    client: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 10,000 entries were made and serialized in one step (~70 ms), then written."""
    from mock_sprinto import journal

    vendor = Vendor(client, "acme", "k")
    for _ in range(6):
        await vendor.call("GET", "/status")
    expected = ControlPlane(emulator).journal(None, 100)
    events: list[str] = []
    made = journal._entry_of

    def making(row: Any) -> Any:
        events.append("entry")
        return made(row)

    monkeypatch.setattr(journal, "_entry_of", making)
    monkeypatch.setattr(common, "STREAM_CHUNK_BYTES", 1)
    got = await _read_while_ticking(client, "/_mock/journal?limit=100", events)
    assert got == expected
    made_at = [i for i, event in enumerate(events) if event == "entry"]
    assert len(made_at) == len(expected["entries"]) >= 6
    assert all("tick" in events[a:b] for a, b in itertools.pairwise(made_at))


async def test_an_integrations_activity_goes_into_its_state_bundle_a_thousand_items_at_a_time(
    client: Any, emulator: Any
) -> None:
    """Each activity item is made in Python: 5,000 at once (the records' part size) were a step of
    ~18 ms on a slow machine, the longest of a full journal's bundle. Now ``ACTIVITY_ITEMS_PER_PART``."""
    from mock_sprinto import bundle

    vendor = Vendor(client, "acme", "k")
    await vendor.start()
    log = emulator.tenant("acme").activity
    log.rows.extend([log.rows[-1]] * 2_400)  # the start's item, 2,401 times
    parts = list(bundle._activity_parts(list(log.rows)))
    assert len(parts) == 4  # 1,000 + 1,000 + 401 items, then the array's end
    items = orjson.loads(b"".join(parts))
    assert len(items) == len(log.rows) and items[0] == items[-1]


# ---- a session of many pages, and an apply of large records, a part at a time ------------------


@pytest.mark.parametrize("closed", [False, True], ids=["staged", "processed"])
@pytest.mark.parametrize("view", ["one-session", "sessions-list"])
async def test_a_sessions_pages_are_made_and_written_a_part_at_a_time(
    client: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch, view: str, closed: bool
) -> None:
    """Before: the one-session view (``GET .../sessions/{id}``) was made whole in one step of the
    loop, and the sessions list one session a step: a session of 30,000 pages held every client
    ~150-220 ms. Now its pages are made and written ``PAGES_PER_PART`` at a time, other requests
    served between; the answer is the same bytes (pages in ordinal order, rejected ones among them)."""
    from mock_sprinto import control as control_module
    from mock_sprinto import store

    vendor = Vendor(client, "acme", "k")
    session_id = (await vendor.start())["id"]
    for n in range(9):
        await vendor.push(session_id, {"entities": {"User": [user(n)]}})
        if n % 3 == 1:
            await vendor.push(session_id, {"entities": {"User": [user(n, workEmail="nope")]}}, expect=400)
    if closed:
        await vendor.close(session_id)
        await Control(client).advance(3600)
        assert isinstance(emulator.tenant("acme").sessions[session_id].accepted_pages, store.PageRows)
    plane = ControlPlane(emulator)
    if view == "one-session":
        path = f"/_mock/integrations/acme/sessions/{session_id}"
        expected = orjson.dumps(plane.session("acme", session_id))
    else:
        path = "/_mock/integrations/acme/sessions"
        expected = orjson.dumps({"integration_id": "acme", "sessions": plane.sessions_kept("acme")})
    events: list[str] = []
    describe = store.Page.describe

    def describing(page: Any) -> Any:
        events.append("page")
        return describe(page)

    monkeypatch.setattr(store.Page, "describe", describing)
    monkeypatch.setattr(control_module, "PAGES_PER_PART", 2, raising=False)
    monkeypatch.setattr(common, "STREAM_CHUNK_BYTES", 1)  # every part its own write
    got = await _raw_while_ticking(client, path, events)
    assert got == expected
    made_at = [i for i, event in enumerate(events) if event == "page"]
    assert len(made_at) == 12  # 9 accepted, 3 rejected
    turns = sum("tick" in events[a:b] for a, b in itertools.pairwise(made_at))
    assert turns == 5  # two pages a part, six parts: the loop turned between each two


async def test_an_apply_of_few_large_records_is_built_ahead_in_slices_of_bytes(
    client: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: an apply was built ahead only past 2,000 records, in slices of 2,000 records, so 100
    records of 180 KB (one 18 MB page) were built in one step when processing fell due (with 4,000
    unknown fields a record: 1.3 s). Now in slices of at most ``APPLY_SLICE_BYTES`` too, a page's
    records a few at a time; the datasets and each page's unknown fields are what one step made."""
    from mock_sprinto import store, timeline
    from mock_sprinto.validation import unknown_fields

    monkeypatch.setattr(timeline, "APPLY_SLICE_BYTES", 20_000, raising=False)
    vendor = Vendor(client, "acme", "k")
    session_id = (await vendor.start())["id"]
    sent = []
    for page in range(3):
        records = [
            {**user(page * 10 + n), "notes": "x" * 9_000, **{f"extra{n}_{f:03d}": 1 for f in range(60)}}
            for n in range(10)
        ]
        sent.append({"User": records})
        await vendor.push(session_id, {"entities": {"User": records}})
    known = emulator.registry.known_fields
    found = [unknown_fields(entities, known) for entities in sent]
    assert all(len(fields["User"]) == 100 for fields in found)  # more than one record's names: merged
    events: list[str] = []
    put = store.Dataset.put

    def putting(dataset: Any, record: Any) -> None:
        events.append("put")
        put(dataset, record)

    async def ticking() -> None:
        while True:
            events.append("tick")
            await asyncio.sleep(0)

    monkeypatch.setattr(store.Dataset, "put", putting)
    ticker = asyncio.ensure_future(ticking())
    try:
        await vendor.close(session_id)  # processing_seconds 2: built ahead meanwhile
        for _ in range(100):
            await asyncio.sleep(0)
    finally:
        ticker.cancel()
    made_at = [i for i, event in enumerate(events) if event == "put"]
    assert len(made_at) == 30
    turns = sum("tick" in events[a:b] for a, b in itertools.pairwise(made_at))
    assert turns >= 10  # ~18 KB a record: one or two records a slice, each its own turn
    await Control(client).advance(60)
    assert (await vendor.session(session_id))["state"] == "processed"
    applied = await Control(client).records("acme")
    assert len(applied) == 30 and applied[0]["notes"] == "x" * 9_000
    pages = emulator.tenant("acme").sessions[session_id].accepted_pages
    assert [page.unknown_fields for page in pages] == found


async def test_an_integrations_bundle_is_made_a_bounded_part_at_a_time_by_bytes_and_by_pages(
    client: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a final session's document was made in one part (30,000 pages: one step of ~165-290 ms
    on a loaded machine), a staged page's payload in one part (an 18 MB page: one step), and a
    dataset's records ``RECORDS_PER_PART`` at a time whatever their size (100 records of 180 KB: one
    part of 18 MB, ~117-178 ms). Now no step of the export makes more than about ``PART_BYTES`` of
    it (a record or payload larger than that is a JSON string written in pieces, each cut between
    two characters), nor more than ``PAGES_PER_PART`` of a final session's pages; the same bytes."""
    from mock_sprinto import bundle

    part_bytes = 256 * 1024
    monkeypatch.setattr(bundle, "PART_BYTES", part_bytes, raising=False)
    monkeypatch.setattr(bundle, "PAGES_PER_PART", 2, raising=False)
    monkeypatch.setattr(bundle, "format_time", lambda at: "2026-01-01T00:00:00.000Z")  # exported_at: fixed
    vendor = Vendor(client, "acme", "k")
    applied = (await vendor.start())["id"]
    for n in range(5):
        await vendor.push(applied, {"entities": {"User": [user(n)]}})
    big = [user(10 + n, notes="é€a" * 17_000) for n in range(6)]  # ~100 KB each, characters of 1-3 bytes
    await vendor.push(applied, {"entities": {"User": big}})
    await vendor.push(applied, {"entities": {"User": [user(20, notes="€" * 100_000)]}})  # one record of 300 KB
    await vendor.close(applied)
    await Control(client).advance(3600)  # processed: a final session of 7 pages, 12 records applied
    staged = (await vendor.start())["id"]
    await vendor.push(staged, {"entities": {"User": [user(30 + n, notes="ü" * 150_000) for n in range(3)]}})
    expected = orjson.dumps(ControlPlane(emulator).state("acme"))
    assert len(expected) > 2_000_000
    events: list[Any] = []
    parts_of, page_document = bundle.document_parts, bundle._page_document

    def parting(*args: Any) -> Any:
        for part in parts_of(*args):
            events.append(len(part))  # made in this step: a part is made when it is asked for
            yield part

    def paging(*args: Any) -> Any:
        events.append("page")
        return page_document(*args)

    monkeypatch.setattr(bundle, "document_parts", parting)
    monkeypatch.setattr(bundle, "_page_document", paging)
    monkeypatch.setattr(common, "STREAM_CHUNK_BYTES", 1)  # every part its own write
    got = await _raw_while_ticking(client, "/_mock/integrations/acme/state", events)
    assert got == expected
    steps: list[list[Any]] = [[]]
    for event in events:
        if event == "tick":
            steps.append([])
        else:
            steps[-1].append(event)
    made = [sum(e for e in step if isinstance(e, int)) for step in steps]
    assert sum(made) == len(expected)
    assert max(made) < 2 * part_bytes, sorted(made)[-5:]  # the largest step's bytes (18 MB and more before)
    pages = [step.count("page") for step in steps]
    assert sum(pages) == 8 and max(pages) <= 2, pages  # the final session's 7 pages two a step
