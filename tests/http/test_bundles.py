"""State bundles over HTTP: a run exported mid-way and imported into a fresh emulator answers the next
requests as the original does (ids, clock, scenario decisions); the views, the journal and the
report come back the same; a damaged bundle, or one of another version, is refused whole."""

from __future__ import annotations

import copy
import gzip
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mock_sprinto import bundle, payload
from mock_sprinto.clock import ManualClock
from mock_sprinto.http.common import CONTROL
from mock_sprinto.payload import page_digest
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Config, Settings
from mock_sprinto.statefile import write_atomically
from mock_sprinto.validation import SchemaRegistry

from ..conftest import START
from ..helpers import Control, Vendor, user

Serve = Callable[[Emulator], Awaitable[TestClient[Any, Any]]]

# Seeded faults of every kind a decision takes: probabilities, random delays (kept tiny), a rule
# counted per session, a lifecycle action; and the integration's own settings and rate limit.
SEEDED = {
    "name": "seeded-mix",
    "seed": 7,
    "settings": {"processing_seconds": 3},
    "rules": [
        {"name": "flaky-push", "match": {"operation": "push_page"}, "when": {"probability": 0.35},
         "respond": {"status": 503, "retry_after": 1}},
        {"name": "flaky-read", "match": {"operation": "get_session"}, "when": {"probability": 0.3},
         "respond": {"status": 502}},
        {"name": "jitter", "match": {"operation": "any"}, "when": {"probability": 0.2},
         "delay": {"min_seconds": 0.0, "max_seconds": 0.002}},
        {"name": "second-start", "match": {"operation": "start_session"}, "when": {"nth": 2}, "times": 1,
         "respond": {"status": 429, "retry_after": 2}},
        {"name": "fail-once", "match": {"operation": "close_session"}, "times": 1,
         "lifecycle": {"fail_processing": 1}},
    ],
}  # fmt: skip


class Client:
    """A deterministic client: the same answers make it send the same requests, each with its own
    X-Request-Id, so two emulators that answer alike see the very same traffic."""

    def __init__(self, client: TestClient[Any, Any], prefix: str) -> None:
        self.vendor, self.control = Vendor(client), Control(client)
        self.prefix, self.sent = prefix, 0
        self.answers: list[tuple[int, Any]] = []

    async def call(self, method: str, tail: str, **kwargs: Any) -> tuple[int, Any]:
        self.sent += 1
        headers = {"X-Request-Id": f"{self.prefix}-{self.sent}"}
        answer = await self.vendor.call(method, tail, headers=headers, **kwargs)
        self.answers.append(answer)
        return answer

    async def push_until_staged(self, session_id: str, page: dict[str, Any]) -> None:
        for _ in range(8):
            status, body = await self.call("POST", f"/sessions/{session_id}/entities", json=page)
            if status != 503:
                return
            await self.control.post("/integrations/acme/clock/advance", {"seconds": body["retry_after_seconds"]})

    async def start(self) -> str:
        for _ in range(5):
            status, body = await self.call("POST", "/sessions", json={"client_reference_id": f"run-{self.sent}"})
            if status == 201:
                return str(body["id"])
            await self.control.post("/integrations/acme/clock/advance", {"seconds": 2})
        raise AssertionError(self.answers[-5:])


async def first_half(client: Client) -> str:
    session = await client.start()
    for page in range(1, 4):
        await client.push_until_staged(session, {"entities": {"User": [user(page)]}, "page_hint": page})
    await client.call("POST", f"/sessions/{session}/entities", json={"entities": {"User": [user(9, workEmail="x")]}})
    await client.call("GET", f"/sessions/{session}")
    return session


async def second_half(client: Client, session: str) -> None:
    # A moment after the export: the restored server's client is another connection, and a request
    # on another connection just after an answer counts as already on its way (the judge's in_flight).
    await client.control.post("/integrations/acme/clock/advance", {"seconds": 0.05})
    for page in range(4, 7):
        await client.push_until_staged(session, {"entities": {"User": [user(page)]}, "page_hint": page})
    await client.call("POST", f"/sessions/{session}/close", json={"status": "apply"})
    for _ in range(8):  # processing fails once, then retries (3 s each)
        await client.control.post("/integrations/acme/clock/advance", {"seconds": 1})
        await client.call("GET", f"/sessions/{session}")
    again = await client.start()  # a seeded id, after a seeded 429
    await client.push_until_staged(again, {"entities": {"User": [user(1)]}, "page_hint": 1})
    await client.call("GET", "/status")
    await client.call("GET", "/activity", params={"page_size": "200"})


def fresh(registry: SchemaRegistry, start: float = START + 86_400.0) -> Emulator:
    """Another server, on a clock a day later than the original's: the bundle brings its own time."""
    return Emulator(Config(Settings()), registry, ManualClock(start))


def without_timings(sessions: Any) -> Any:
    found = copy.deepcopy(sessions)
    for session in found["sessions"]:
        for page in session["pages"]:
            page.pop("duration_ms")
    return found


def journal_view(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal as a reader compares it: orders are renumbered on import (their order is kept);
    the client's ports are the two clients' own."""
    return [{k: v for k, v in e.items() if k not in ("arrival", "answer", "latency_ms", "connection")} for e in entries]


async def test_a_run_exported_mid_way_answers_the_next_requests_as_the_original_does(
    client: TestClient[Any, Any], serve: Serve, registry: SchemaRegistry
) -> None:
    control = Control(client)
    await control.client.put("/_mock/integrations/acme/scenario", json=SEEDED)
    async with client.put("/_mock/integrations/acme/settings", json={"rate_limit": 1, "rate_limit_burst": 12}) as r:
        assert r.status == 200
    original = Client(client, "run")
    session = await first_half(original)
    assert any(status == 503 for status, _ in original.answers), "the seed gives this run a fault to carry over"
    document = await control.get("/integrations/acme/state")

    copy_client = await serve(fresh(registry))
    async with copy_client.put("/_mock/integrations/acme/state", json=document) as response:
        assert response.status == 200, await response.text()
        assert await response.json() == {
            "scope": "integration",
            "integrations": ["acme"],
            "journal_entries": len(original.answers),
            "journal_entries_kept": len(original.answers),
        }
    restored = Client(copy_client, "run")
    restored.sent = original.sent
    resumed = await Control(copy_client).get("/integrations/acme/clock")
    assert resumed["now"] == (await control.get("/integrations/acme/clock"))["now"]  # not the new server's day

    original.answers.clear()
    await second_half(original, session)
    await second_half(restored, session)
    assert restored.answers == original.answers  # statuses and bodies: ids, times, counts, faults
    statuses = [status for status, _ in original.answers]
    assert 429 in statuses and 503 in statuses and 502 in statuses
    started = [body["id"] for status, body in original.answers if status == 201]
    assert started and started[-1] != session  # a second session, its seeded id the same in both

    mirror = Control(copy_client)
    for path in (
        "/integrations/acme/report",
        "/integrations/acme/records/User",
        "/integrations/acme/activity",
        "/integrations/acme/scenario",
        "/integrations/acme/settings",
    ):
        assert await mirror.get(path) == await control.get(path), path  # fmt: skip
    assert without_timings(await mirror.get("/integrations/acme/sessions")) == without_timings(
        await control.get("/integrations/acme/sessions")
    )
    mine = (await control.get("/journal?integration_id=acme&limit=1000"))["entries"]
    theirs = (await mirror.get("/journal?integration_id=acme&limit=1000"))["entries"]
    assert journal_view(theirs) == journal_view(mine)


async def test_the_dashboards_view_of_an_imported_integration_is_the_originals(
    vendor: Vendor, control: Control, serve: Serve, registry: SchemaRegistry
) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.push(session["id"], {"entities": {"User": [user(2, workEmail="nope")]}, "page_hint": 2}, expect=400)
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    document = await control.get("/integrations/acme/state")
    copy_client = await serve(fresh(registry))
    async with copy_client.put("/_mock/integrations/acme/state", json=document) as response:
        assert response.status == 200
    original = await control.get("/integrations/acme/overview")
    restored = await Control(copy_client).get("/integrations/acme/overview")
    assert restored.pop("clock")["now"] == original.pop("clock")["now"]  # its offset is from another server's time
    assert without_timings(restored) == without_timings(original)
    assert [f["id"] for f in restored["report"]["findings"]] == ["applied_with_rejected_pages", "outcome_not_read"]
    assert restored["records"]["count"] == 1 and restored["sessions"][0]["pages"][1]["errors"]


async def test_the_whole_emulator_round_trips_with_its_global_clock_and_scenario(
    control: Control, serve: Serve, registry: SchemaRegistry
) -> None:
    await control.client.put("/_mock/scenario", json={**SEEDED, "name": "global-mix"})
    await control.post("/clock/advance", {"seconds": 120})
    await control.post("/integrations/beta/clock/advance", {"seconds": 30})
    for name in ("acme", "beta"):
        vendor = Vendor(control.client, name, f"key-{name}")
        session = await vendor.start()
        await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1}, expect=None)
    async with control.client.put("/_mock/integrations/beta/scenario", json="rate-limited") as r:
        assert r.status == 200
    document = await control.get("/state")
    assert document["scope"] == "server" and [i["id"] for i in document["integrations"]] == ["beta", "acme"]

    target = fresh(registry)
    copy_client = await serve(target)
    mirror = Control(copy_client)
    await Vendor(copy_client, "stranger", "k").start()  # replaced: a server import replaces everything
    async with copy_client.put(
        "/_mock/state",
        data=gzip.compress(orjson.dumps(document)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    ) as r:
        assert r.status == 200, await r.text()  # fmt: skip
        assert (await r.json())["integrations"] == ["beta", "acme"]
    assert [i["id"] for i in (await mirror.get("/integrations"))["integrations"]] == ["beta", "acme"]
    for path in (
        "/scenario",
        "/integrations/beta/scenario",
        "/integrations/acme/scenario",
        "/integrations/beta/report",
    ):
        assert await mirror.get(path) == await control.get(path), path
    for path in ("/clock", "/integrations/acme/clock", "/integrations/beta/clock"):  # offsets from another time
        assert (await mirror.get(path))["now"] == (await control.get(path))["now"], path
    again = await mirror.get("/state")
    assert held(again) == held(document) and journal_view(again["journal"]) == journal_view(document["journal"])


def held(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A bundle's integrations but for what an import renumbers: orders, and offsets from another time."""
    found: list[dict[str, Any]] = copy.deepcopy(document["integrations"])
    for item in found:
        item.pop("since")
        item["clock"].pop("offset_seconds")
    return found


async def test_a_gzip_file_as_it_is_and_a_bundle_of_itself_are_imported(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    document = await control.get("/integrations/acme/state")
    await vendor.close(session["id"], "discard")  # changed since the export
    async with control.client.put(
        "/_mock/integrations/acme/state",
        data=bundle.encode(document, compress=True),
        headers={"Content-Type": "application/json"},
    ) as r:
        assert r.status == 200, await r.text()  # fmt: skip
    (restored,) = (await control.get("/integrations/acme/sessions"))["sessions"]
    assert restored["state"] == "active" and restored["id"] == session["id"]
    await vendor.close(session["id"], "discard")  # and it goes on from there


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


_DELETE = object()
SESSION = "/integrations/0/sessions/0"


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        (_mutate("/format", "har"), "invalid_state", "'format' must be 'mock-sprinto-state'"),
        (_mutate("/version", 2), "unsupported_state_version", "version 2 state bundle"),
        (_mutate(SESSION + "/state", "bogus"), "invalid_state", SESSION + "/state: 'bogus' is not one of"),
        (_mutate(SESSION + "/pages_received", _DELETE), "invalid_state", "'pages_received' is a required property"),
        (_mutate("/integrations/0/active_session_id", "ses_nowhere"), "invalid_state", "/active_session_id"),
        (_mutate("/integrations/0/scenario/matched", [1]), "invalid_state", "one count per rule"),
        (_mutate("/integrations/0/scenario/random", "AAAA"), "invalid_state", "not a generator's state"),
        (_mutate("/integrations/0/ids_random", "not base64!"), "invalid_state", "/ids_random"),
        (_mutate(SESSION + "/accepted_pages/0/payload", "[1, 2]"), "invalid_state", "a page's body"),
        (_mutate("/integrations/0/settings_overrides", {"max_page_items": -3}), "invalid_state", "max_page_items"),
        (_mutate("/integrations/0/scenario/document/rules/0/when", {"nth": "x"}), "invalid_state", "/scenario"),
        (_mutate("/integrations/0/datasets", [{"entity_type": "User", "key_field": "employeeId", "applied_at": None,
                                               "applied_by_session": None, "records": ["{oops"]}]),
         "invalid_state", "not a JSON record"),
        (_mutate("/scope", "server"), "invalid_state", "holds the server's clock"),
        (_mutate("/journal/0/integration_id", "other"), "invalid_state", "/journal/0/integration_id"),
    ],
)  # fmt: skip
async def test_a_damaged_bundle_is_refused_whole_and_changes_nothing(
    vendor: Vendor, control: Control, change: Callable[[dict[str, Any]], None], code: str, says: str
) -> None:
    await control.client.put("/_mock/integrations/acme/scenario", json=SEEDED)
    session = await vendor.start(expect=None)
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1}, expect=None)
    document = await control.get("/integrations/acme/state")
    if not document["integrations"][0]["sessions"][0]["accepted_pages"]:  # the seed's 503: stage one for the test
        await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1}, expect=None)
    await vendor.call("GET", f"/sessions/{session['id']}")
    await vendor.start(expect=None)  # the scenario draws: the generator has a state to damage
    before = await control.get("/state")
    document = await control.get("/integrations/acme/state")
    assert document["integrations"][0]["scenario"]["random"] is not None
    change(document)
    async with control.client.put("/_mock/integrations/acme/state", json=document) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, code), problem
    assert says in problem["detail"] + " ".join(problem.get("errors", [])), problem
    assert "nothing was changed" in problem["detail"].lower() or code == "invalid_state"
    assert await control.get("/state") == before


async def test_what_is_not_a_bundle_at_all_is_refused_with_why(control: Control) -> None:
    for body, says in (
        (b"not json", "not JSON"),
        (gzip.compress(b'{"format": "mock-sprinto-state"}')[:-12], "damaged gzip"),
        (b"[1, 2]", "not a mock-sprinto state bundle"),
    ):
        async with control.client.put("/_mock/state", data=body, headers={"Content-Type": "application/json"}) as r:
            problem = await r.json()
        assert (r.status, problem["code"]) == (400, "invalid_state") and says in problem["detail"], problem


async def test_a_bundle_over_max_state_bytes_is_413(make_emulator: Any, serve: Serve) -> None:
    client = await serve(make_emulator(max_state_bytes=1500))
    control = Control(client)
    await Vendor(client).start()
    document = await control.get("/state")
    async with client.put("/_mock/state", json=document) as response:
        problem = await response.json()
    assert response.status == 413 and problem["limit_bytes"] == 1500
    # the setting that lets it in, not max_request_bytes (a vendor page's limit)
    assert (problem["setting"], problem["basis"]) == ("max_state_bytes", "mock")
    zipped = gzip.compress(orjson.dumps(document))
    assert len(zipped) < 1500  # small on the wire, over the limit once decoded
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with client.put("/_mock/state", data=zipped, headers=headers) as response:
        assert response.status == 413 and (await response.json())["setting"] == "max_state_bytes"
    # A .gz file's bytes sent as they are (no Content-Encoding): the same 413, not 400 invalid_state.
    async with client.put("/_mock/state", data=zipped, headers={"Content-Type": "application/json"}) as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["setting"]) == (413, "payload_too_large", "max_state_bytes")


async def test_bundles_go_to_their_scope(control: Control, vendor: Vendor) -> None:
    await vendor.start()
    one = await control.get("/integrations/acme/state")
    everything = await control.get("/state")
    async with control.client.put("/_mock/integrations/other/state", json=one) as r:
        assert r.status == 400 and "not 'other': PUT it to its own id" in (await r.json())["detail"]
    async with control.client.put("/_mock/state", json=one) as r:
        assert r.status == 400 and "PUT /_mock/integrations/{id}/state" in (await r.json())["detail"]
    async with control.client.put("/_mock/integrations/acme/state", json=everything) as r:
        assert r.status == 400 and "PUT /_mock/state" in (await r.json())["detail"]


async def test_page_digests_of_another_process_are_recomputed_from_the_bytes_kept(
    vendor: Vendor, control: Control
) -> None:
    """A bundle from a process that hashed another way (another probe: an older version's hash was
    keyed per process) gets the digests of the bytes it holds recomputed, and the others marked so
    they only ever match each other."""
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page)
    await vendor.push(session["id"], {"entities": {"User": [user(2, workEmail="x")]}, "page_hint": 2}, expect=400)
    document = await control.get("/integrations/acme/state")
    document["digest_probe"] = "from-another-process"
    (held,) = document["integrations"][0]["sessions"]
    staged = held["accepted_pages"][0]["digest"]
    held["accepted_pages"][0]["digest"] = "0123456789abcdef"
    held["rejected_pages"][0]["digest"] = "fedcba9876543210"
    for entry in document["journal"]:
        if entry["digest"] == staged:
            entry["digest"] = "0123456789abcdef"
    async with control.client.put("/_mock/integrations/acme/state", json=document) as r:
        assert r.status == 200
    restored = await control.get("/integrations/acme/state")
    (held,) = restored["integrations"][0]["sessions"]
    assert held["accepted_pages"][0]["digest"] == staged == page_digest(held["accepted_pages"][0]["payload"].encode())
    assert held["rejected_pages"][0]["digest"] == "b:fedcba9876543210"
    await vendor.push(session["id"], page)  # the same page again, after the import: still known as such
    found = (await control.get("/integrations/acme/report"))["findings"]
    assert "duplicate_page" in [f["id"] for f in found]


async def test_a_writer_that_hashed_long_pages_another_way_is_told_by_the_probe(
    vendor: Vendor, control: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the probe hashed one 25-byte text, so a writer whose hash differed only on longer
    input (another release, another CPU's SIMD path) passed for this process, its page digests were
    kept, and the same page sent again after the import was not known as such."""
    real = payload.sz_hash
    monkeypatch.setattr(payload, "sz_hash", lambda data: real(data) ^ 1 if len(data) > 1000 else real(data))
    session = await vendor.start()
    page = {"entities": {"User": [user(i) for i in range(5)]}, "page_hint": 1}
    await vendor.push(session["id"], page)
    document = await control.get("/integrations/acme/state")
    monkeypatch.setattr(payload, "sz_hash", real)
    async with control.client.put("/_mock/integrations/acme/state", json=document) as r:
        assert r.status == 200
    await vendor.push(session["id"], page)  # the same page again, after the import
    found = (await control.get("/integrations/acme/report"))["findings"]
    assert "duplicate_page" in [f["id"] for f in found]


async def test_save_without_persist_is_409_and_with_it_writes_the_file_whole(
    control: Control, make_emulator: Any, serve: Serve, tmp_path: Path
) -> None:
    async with control.client.post("/_mock/state/save") as response:
        assert response.status == 409 and (await response.json())["code"] == "persistence_off"
    target = tmp_path / "keep" / "state.json.gz"
    client = await serve(make_emulator(persist_file=str(target)))
    await Vendor(client).start()
    saved = await Control(client).post("/state/save")
    assert saved["saved"] == str(target) and saved["integrations"] == 1 and saved["journal_entries"] == 1
    assert bundle.decode(target.read_bytes(), 10**7, 64)["integrations"][0]["id"] == "acme"
    assert [p.name for p in target.parent.iterdir()] == ["state.json.gz"]  # no temporary left behind


async def test_a_save_that_cannot_be_written_is_507_and_leaves_the_old_file(
    make_emulator: Any, serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"the old one")
    client = await serve(make_emulator(persist_file=str(target)))

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mock_sprinto.statefile.os.replace", full_disk)
    async with client.post("/_mock/state/save") as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (507, "state_not_saved") and "No space" in problem["detail"]
    assert target.read_bytes() == b"the old one" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_atomically_replaces_whole(tmp_path: Path) -> None:
    target = write_atomically(tmp_path / "a" / "b.json", b"{}")
    write_atomically(target, b'{"x": 1}')
    assert target.read_bytes() == b'{"x": 1}' and [p.name for p in target.parent.iterdir()] == ["b.json"]


async def test_an_integration_without_a_scenario_meets_the_importing_servers_global_one(
    vendor: Vendor, control: Control, serve: Serve, registry: SchemaRegistry
) -> None:
    await vendor.start()
    document = await control.get("/integrations/acme/state")
    assert document["integrations"][0]["scenario"] is None
    copy_client = await serve(fresh(registry))
    async with copy_client.put("/_mock/scenario", json="rate-limited") as r:
        assert r.status == 200
    async with copy_client.put("/_mock/integrations/acme/state", json=document) as r:
        assert r.status == 200
    scenario = await Control(copy_client).get("/integrations/acme/scenario")
    assert scenario["applies_to"] == "global" and scenario["effective_settings"]["rate_limit"] == 2


async def test_an_integration_put_back_from_its_bundle_shows_its_requests_once(
    client: TestClient[Any, Any], vendor: Vendor, control: Control
) -> None:
    """Its journal, its HAR and serve's summary on Ctrl-C hold what its report judges: the requests
    the bundle brought, not those too of the integration it replaced (the same requests again: a
    HAR of both, judged offline, found a status polled twice as often as the client did)."""
    session = (await vendor.start())["id"]
    await vendor.push(session, {"entities": {"User": [user(1)]}})
    await vendor.session(session)
    await vendor.close(session)
    document = await control.get("/integrations/acme/state")
    async with control.client.put("/_mock/integrations/acme/state", json=document) as response:
        assert response.status == 200, await response.text()
    sent = [entry["request_id"] for entry in document["journal"]]
    assert len(sent) == 4

    assert [entry["request_id"] for entry in await control.journal(integration_id="acme")] == sent
    har = await control.get("/journal.har", params={"integration_id": "acme"})
    assert [entry["_requestId"] for entry in har["log"]["entries"]] == sent
    assert client.app[CONTROL].run_summary()[0].startswith("  acme: 4 requests;")
    # The server's journal keeps every request it answered, the replaced integration's too.
    assert [entry["request_id"] for entry in await control.journal()] == sent + sent
    # An id no integration has now shows what its requests were.
    async with control.client.delete("/_mock/integrations/acme") as response:
        assert response.status in (200, 204)
    assert len(await control.journal(integration_id="acme")) == 8
