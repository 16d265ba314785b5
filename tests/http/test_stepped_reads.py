"""Long control reads answer the server's other clients between their steps (``mock_sprinto.steps``).

On a full journal, a busy integration's report, overview and verification each held the event loop
for 60-150 ms in one step, and its sessions and activity lists for 35-60 ms, while every client of
every integration waited; a state import and a HAR judged held it for seconds. Reads are now made a
step at a time (or streamed), and the two jobs on a thread of their own. These tests read or load a
busy integration while another client calls, and check that the other client is answered before
the read or job is done, that what a stepped read answers is the instant its first step took, and
that stepped reads take turns."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mock_sprinto import control as control_module
from mock_sprinto import verify as verify_module
from mock_sprinto.control import ControlPlane
from mock_sprinto.http import common
from mock_sprinto.report import run as run_module
from mock_sprinto.service import Emulator
from mock_sprinto.steps import Steps, finished

from ..helpers import Control, Vendor, user, users

VERIFY = {"counts": [{"status": "5xx", "never": True}, {"operation": "start_session", "status": 201, "at_least": 1}]}


async def _busy(vendor: Vendor, syncs: int) -> str:
    """An integration with ``syncs`` syncs behind it (a rejected page in every third), and an active
    session, whose id is returned."""
    for i in range(syncs):
        session = await vendor.start()
        await vendor.push(session["id"], {"entities": {"User": users(i * 10, 5)}})
        if i % 3 == 0:
            await vendor.push(session["id"], {"entities": {"User": [user(1, workEmail="nope")]}}, expect=400)
        await vendor.close(session["id"])
        await vendor.session(session["id"])
    return str((await vendor.start())["id"])


def _watched(monkeypatch: pytest.MonkeyPatch, name: str, emulator: Emulator) -> tuple[asyncio.Event, list[int]]:
    """Wraps ``ControlPlane.<name>`` (a stepped read, or a streamed one's parts): the event is set
    when it starts, and the list gets the journal's total when its last step ends."""
    started = asyncio.Event()
    ended: list[int] = []
    original = getattr(ControlPlane, name)

    def stepped(self: ControlPlane, *args: Any) -> Steps[Any]:
        started.set()
        answer = yield from original(self, *args)
        ended.append(emulator.journal.total)
        return answer

    def parts(self: ControlPlane, *args: Any) -> Iterator[bytes]:
        started.set()
        yield from original(self, *args)
        ended.append(emulator.journal.total)

    monkeypatch.setattr(ControlPlane, name, parts if name.endswith("_parts") else stepped)
    return started, ended


READS: dict[str, tuple[str, Callable[[Control], Any]]] = {
    "report": ("report_steps", lambda c: c.get("/integrations/acme/report")),
    "overview": ("report_steps", lambda c: c.get("/integrations/acme/overview")),
    "verify": ("verify_steps", lambda c: c.post("/integrations/acme/verify", VERIFY)),
    "sessions": ("sessions_parts", lambda c: c.get("/integrations/acme/sessions")),
    "activity": ("activity_parts", lambda c: c.get("/integrations/acme/activity")),
    "integrations": ("integrations_parts", lambda c: c.get("/integrations")),
}


@pytest.mark.parametrize("read", list(READS))
async def test_a_long_control_read_lets_another_client_in_before_it_is_done(
    read: str, vendor: Vendor, control: Control, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small steps, so a few dozen syncs make a read of many steps (a full journal makes as many).
    monkeypatch.setattr(control_module, "ENTRIES_PER_STEP", 16)
    monkeypatch.setattr(verify_module, "REQUESTS_PER_STEP", 16)
    monkeypatch.setattr(common, "STREAM_CHUNK_BYTES", 256)
    active = await _busy(vendor, 30)
    for n in range(20):  # the dashboard lists every integration each second
        await control.post("/integrations", {"id": f"other-{n}"}, expect=201)
    name, call = READS[read]
    started, ended = _watched(monkeypatch, name, emulator)
    reading = asyncio.ensure_future(call(control))
    await started.wait()
    answered = emulator.journal.total + 1
    await vendor.session(active)  # another client, while the read is under way
    assert (await reading) is not None
    assert ended and ended[0] >= answered, f"the {read} was made in one step: the other client waited for it"


async def test_a_stepped_report_judges_the_instant_its_first_step_took(
    vendor: Vendor, control: Control, emulator: Emulator
) -> None:
    # Between the steps the loop stages, rejects and closes; the report still says what the run
    # had done when it began, as one made at once then would.
    active = await _busy(vendor, 12)
    plane = ControlPlane(emulator)
    then = plane.report_of("acme").public()
    steps = plane.report_steps("acme")
    next(steps)
    await vendor.push(active, {"entities": {"User": users(500, 5)}})
    await vendor.push(active, {"entities": {"User": users(500, 5)}})  # the same page again: duplicate_page
    await vendor.push(active, {"entities": {"User": [user(1, workEmail="nope")]}}, expect=400)
    for _ in range(10):
        next(steps)
    await vendor.close(active)
    now = plane.report_of("acme").public()
    assert finished(steps).public() == then
    assert now != then  # what happened meanwhile is in the next report
    assert "duplicate_page" in [f["id"] for f in now["findings"]]
    assert "duplicate_page" not in [f["id"] for f in then["findings"]]


@pytest.mark.parametrize("job", ["checked_state", "judge_har"])
async def test_a_state_import_or_a_har_judged_leaves_the_loop_to_other_clients(
    job: str, vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full journal's bundle took ~2 s of one loop step to check and build, and its HAR ~0.9 s to
    # judge: every other client waited. Both run on a thread of their own now.
    active = await _busy(vendor, 3)
    async with control.client.get("/_mock/integrations/acme/state") as response:
        bundle = await response.read()
    async with control.client.get("/_mock/journal.har") as response:
        har = await response.read()
    started, released = threading.Event(), threading.Event()
    waited: list[bool] = []
    original = getattr(ControlPlane, job)

    def held(self: ControlPlane, *args: Any) -> Any:
        started.set()
        waited.append(released.wait(3))  # on the loop, this would keep the other client out: it times out
        return original(self, *args)

    monkeypatch.setattr(ControlPlane, job, held)
    json = {"Content-Type": "application/json"}
    if job == "checked_state":
        doing = control.client.put("/_mock/integrations/acme/state", data=bundle, headers=json)
    else:
        doing = control.client.post("/_mock/judge", data=har, headers=json)
    task = asyncio.ensure_future(doing)
    while not started.is_set():
        assert not task.done(), f"answered before the job began: {(await task).status}"
        await asyncio.sleep(0.001)
    await vendor.session(active)  # another client, while the job runs
    released.set()
    async with await task as response:
        assert response.status == 200, await response.text()
    assert waited == [True], "the job held the loop: the other client was answered only after it"


async def test_stepped_reads_take_turns_so_many_at_once_hold_one_reads_history(
    vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each stepped read holds what it judges (a full journal's entries). Made in one step, reports
    # were judged one at a time; interleaved, twenty open dashboards would hold twenty copies.
    monkeypatch.setattr(control_module, "ENTRIES_PER_STEP", 16)
    await _busy(vendor, 10)
    under_way = most = 0
    original = ControlPlane.report_steps

    def counted(self: ControlPlane, integration_id: str) -> Steps[Any]:
        nonlocal under_way, most
        under_way += 1
        most = max(most, under_way)
        try:
            return (yield from original(self, integration_id))
        finally:
            under_way -= 1

    monkeypatch.setattr(ControlPlane, "report_steps", counted)
    reports = await asyncio.gather(*(control.get("/integrations/acme/report") for _ in range(8)))
    assert all(report == reports[0] for report in reports)
    assert most == 1


async def test_a_report_reads_staged_pages_a_step_at_a_time_and_each_once(
    vendor: Vendor, control: Control, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The judge reads a staged page's fields from its bytes (unknown_field). It read every staged
    # page in one step, at every report: a session of 3,000 pages held the loop ~280 ms each time
    # the dashboard asked (each second).
    monkeypatch.setattr(run_module, "FIELDS_READ_A_STEP", 1)  # a page a step
    read: list[int] = []
    original = run_module.unknown_fields

    def counted(entities: Any, known: Any) -> Any:
        read.append(1)
        return original(entities, known)

    monkeypatch.setattr(run_module, "unknown_fields", counted)
    session = await vendor.start()
    for n in range(6):
        await vendor.push(session["id"], {"entities": {"User": users(n * 10, 5)}, "page_hint": n + 1})
    misspelt = {**user(99), "workemail": "a@example.com"}
    await vendor.push(session["id"], {"entities": {"User": [misspelt]}, "page_hint": 7})

    def unknown_field(report: Any) -> list[tuple[str, int]]:
        found = [f for f in report.public()["findings"] if f["id"] == "unknown_field"]
        return [(e["field"], e["page"]) for f in found for e in f["evidence"]]

    plane = ControlPlane(emulator)
    steps = plane.report_steps("acme")
    per_step = []
    while True:
        before = len(read)
        try:
            next(steps)
        except StopIteration as done:
            report = done.value
            break
        finally:
            per_step.append(len(read) - before)
    assert sum(per_step) == 7 and max(per_step) == 1, per_step
    assert unknown_field(report) == [("workemail", 7)]

    read.clear()
    assert unknown_field(plane.report_of("acme")) == [("workemail", 7)]
    assert read == [], "the pages read by the last report were read again"

    await vendor.close(session["id"])  # applied: the pages are built, then kept flat
    await control.post("/clock/advance", {"seconds": 60})
    assert (await vendor.session(session["id"]))["state"] == "processed"
    assert unknown_field(plane.report_of("acme")) == [("workemail", 7)]
    assert read == []
