"""The judge on captured traffic: the scripted misbehaving clients of test_report.py, judged offline
from a HAR of their traffic, earn the findings the live report gives them, every finding a HAR can
show; from the emulator's own HAR (``GET /_mock/journal.har`` with ``journal_bodies_bytes`` on) and
from the same traffic shaped as a browser or an HTTP library records it (no ``_`` members but
Chrome's ``_error``, gzip bodies as sent, the client's own request ids). What a HAR lacks is listed
as not judged, never guessed."""

from __future__ import annotations

import base64
import copy
import gzip
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from mock_sprinto.report import BEHAVIOURS, KINDS
from mock_sprinto.report.har import judge_har
from mock_sprinto.service import Emulator
from mock_sprinto.settings import Settings

from ..helpers import Control, Vendor, user
from . import test_report, test_report_careful_retries

Script = Callable[[Vendor, Control], Awaitable[None]]

# Of test_report's scripted clients (each takes vendor and control), those a HAR cannot stand for:
NOT_FROM_A_HAR = {
    # the client never read the session after it expired: a HAR shows no time after its last entry
    "test_a_session_with_pages_left_to_expire": "replaced by left_to_expire_then_read below",
    # GET /_mock/journal.har holds the deleted predecessor's requests too: they are in the file
    "test_a_deleted_integrations_requests_do_not_count_for_its_successor": "the HAR holds both integrations' requests",
    # a recorder's HAR cannot tell a scenario rule's 400 too_many_items from Sprinto's own
    "test_a_page_a_rule_refused_for_its_size_and_split_is_no_page_left_out": "the rule is not in a recorder's HAR",
    # test_report_careful_retries.py's:
    "test_a_lost_answer_checked_by_reading_the_session_is_no_giving_up": "a HAR counts a push whose answer was "
    "lost as not staged (docs/judge-har.md)",
    "test_a_rejected_pages_record_keys_travel_in_a_bundle": "a bundle's import, not traffic",
    "test_a_page_skipped_after_its_push_timed_out_is_giving_up": "the held request's 499 is journaled when the hold "
    "ends, after the HAR's last entry",
}
# Evidence members read from the store at report time, which a HAR shows only as the last answer did.
STORE_ONLY = {"state", "accepted_pages"}


async def left_to_expire_then_read(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await control.advance(3600, "acme")
    assert (await vendor.session(session["id"]))["state"] == "expired"  # the HAR shows the expiry


async def close_with_action_then_nothing(vendor: Vendor, control: Control) -> None:
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.call("POST", f"/sessions/{session['id']}/close", 400, json={"action": "apply"})


def _scripts() -> dict[str, Script]:
    found: dict[str, Script] = {
        name: fn
        for module in (test_report, test_report_careful_retries)
        for name, fn in vars(module).items()
        if name.startswith("test_")
        and list(inspect.signature(fn).parameters) == ["vendor", "control"]
        and name not in NOT_FROM_A_HAR
    }
    found["left_to_expire_then_read"] = left_to_expire_then_read
    found["close_with_action_then_nothing"] = close_with_action_then_nothing
    return found


SCRIPTS = _scripts()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator(journal_bodies_bytes=10_000_000)  # the HAR holds the bodies


def comparable(findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        f["id"]: (f["count"], [{k: v for k, v in e.items() if k not in STORE_ONLY} for e in f["evidence"]])
        for f in findings
    }


def as_captured(har: dict[str, Any]) -> dict[str, Any]:
    """The emulator's HAR as a browser or an HTTP library's recorder writes one: none of the
    emulator's members, a broken connection as Chrome's status 0 with ``_error``, a gzip body as it
    was sent (base64), the client's own X-Request-Id on each request, times as the client saw them,
    the entries in the order they were sent."""
    captured = copy.deepcopy(har)
    captured["log"]["creator"] = {"name": "a recorder", "version": "1"}
    # in the order the requests were sent, as a browser lists them (the journal lists them answered)
    captured["log"]["entries"].sort(key=lambda entry: entry["_arrival"])
    for entry in captured["log"]["entries"]:
        code = entry.get("_code") or ""
        entry["time"] = 0  # answered at once on the emulator's (manual) clock
        entry["request"]["headers"].append({"name": "X-Request-Id", "value": entry["_requestId"]})
        for name in [key for key in entry if key.startswith("_")]:
            del entry[name]
        entry["response"].pop("_error", None)
        if code.startswith("transport_"):
            entry["response"].update(status=0, headers=[], content={"size": 0, "mimeType": ""})
            entry["response"]["_error"] = "net::ERR_CONNECTION_RESET"
        headers = {h["name"].lower(): h["value"] for h in entry["request"]["headers"]}
        post = entry["request"].get("postData")
        if post and headers.get("content-encoding") == "gzip":
            post["text"] = base64.b64encode(gzip.compress(post["text"].encode())).decode()
            post["encoding"] = "base64"
            post.pop("comment", None)
    return captured


async def overrides_of(control: Control) -> Settings:
    """The settings the integration's traffic met (a test may lower a judge threshold)."""
    return Settings().with_overrides((await control.get("/integrations/acme/settings"))["overrides"])


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_a_har_of_a_scripted_client_is_judged_as_the_live_report_judges_it(
    name: str, vendor: Vendor, control: Control, emulator: Emulator
) -> None:
    await SCRIPTS[name](vendor, control)
    live = await control.get("/integrations/acme/report")
    har = await control.get("/journal.har?integration_id=acme&redact=false")
    known = {type_name: schema.known_fields for type_name, schema in emulator.registry.types.items()}
    settings = await overrides_of(control)
    for shape, document in (("the emulator's", har), ("a recorder's", as_captured(har))):
        judgement = judge_har(document, known, settings, key_fields=emulator.registry.key_fields).public()
        (judged,) = judgement["integrations"] or [
            {"findings": [], "not_judged": [], "coverage": live["coverage"], "integration_id": "acme"}
        ]
        unknown = {item["id"] for item in judged["not_judged"]}
        assert unknown <= set(BEHAVIOURS), (shape, judged["not_judged"])  # every finding judged
        assert comparable(judged["findings"]) == comparable(live["findings"]), shape
        # each behaviour's coverage is the live report's, or said to be unknown
        assert covered(judged) == {b: v for b, v in covered(live).items() if b not in unknown}, shape
        assert judgement["left_out_count"] == 0


def covered(report: dict[str, Any]) -> dict[str, tuple[bool, bool | None]]:
    return {item["behaviour"]: (item["met"], item["recovered"]) for item in report["coverage"]}


def test_every_finding_is_earned_by_a_script_judged_from_its_har() -> None:
    """The scripts above, and the findings each earns (checked live by test_report.py)."""
    named = " ".join(inspect.getsource(fn) for fn in SCRIPTS.values())
    earned = {kind.id for kind in KINDS if f'"{kind.id}"' in named}
    earned |= {"session_left_active", "session_left_to_expire", "close_without_status", "outcome_not_read"}
    assert earned == {kind.id for kind in KINDS}


async def test_post_judge_answers_what_the_command_line_prints(vendor: Vendor, control: Control) -> None:
    await test_report.test_a_rejected_page_sent_again_unchanged_is_an_error(vendor, control)
    har = await control.get("/journal.har?integration_id=acme")
    async with control.client.post("/_mock/judge", json=har) as response:
        assert response.status == 200
        judgement = await response.json()
    (judged,) = judgement["integrations"]
    assert judged["integration_id"] == "acme" and judged["requests"] == 3
    assert [f["id"] for f in judged["findings"]] == ["resent_rejected_page_unchanged", "session_left_active"]
    assert any("time after the last entry is unknown" in note for note in judged["notes"])


async def test_a_har_without_bodies_says_what_it_cannot_judge(vendor: Vendor, control: Control) -> None:
    """The journal keeps no bodies by default: the findings that read them are not judged, not guessed."""
    await test_report.test_the_same_page_staged_twice_is_a_duplicate(vendor, control)
    await vendor.start(expect=409)
    har = await control.get("/journal.har?integration_id=acme")
    stripped = as_captured(har)
    for entry in stripped["log"]["entries"]:
        entry["request"].pop("postData", None)
        entry["response"]["content"].pop("text", None)
    judgement = judge_har(stripped).public()
    (judged,) = judgement["integrations"]
    not_judged = {item["id"]: item["why"] for item in judged["not_judged"] if item["id"] not in BEHAVIOURS}
    assert set(not_judged) == {
        "resent_rejected_page_unchanged",
        "applied_with_rejected_pages",
        "duplicate_page",
        "unknown_field",
        "missing_page_hint",
        "start_conflict_unhandled",
        "start_conflict_ignored",
    }
    assert "2 of the 2 pushes answered 202 or 400 have no whole request body" in not_judged["duplicate_page"]
    assert "without the answer's body" in not_judged["start_conflict_ignored"]
    assert [f["id"] for f in judged["findings"]] == ["session_left_active"]
    assert any("start_session 409: session_already_active" in note for note in judged["notes"])


async def test_entries_of_other_apis_and_refusals_before_the_integration_are_left_out(
    vendor: Vendor, control: Control
) -> None:
    await vendor.start()
    await Vendor(control.client, "acme", "wrong-key").start(expect=401)
    har = await control.get("/journal.har")
    har["log"]["entries"].insert(
        0,
        {
            "startedDateTime": "2026-01-01T00:00:00Z",
            "time": 5,
            "request": {"method": "GET", "url": "https://cdn.example/app.js"},
            "response": {"status": 200},
        },
    )
    judgement = judge_har(har).public()
    assert judgement["entries"] == 3 and judgement["judged_entries"] == 1 and judgement["left_out_count"] == 2
    assert [item["index"] for item in judgement["left_out"]] == [1, 3]
    assert "not under /api/external/push" in judgement["left_out"][0]["why"]


async def test_a_state_bundle_given_to_the_judge_is_told_to_be_one(control: Control) -> None:
    bundle = await control.get("/state")
    async with control.client.post("/_mock/judge", json=bundle) as response:
        problem = await response.json()
    assert response.status == 400 and problem["code"] == "invalid_har", problem
    assert "this is a mock-sprinto state bundle, not a HAR: import it" in problem["detail"], problem


async def test_an_entry_whose_url_is_no_url_is_left_out(vendor: Vendor, control: Control) -> None:
    """``https://[api.sprinto.com/...`` (an IPv6 bracket never closed): the CLI printed a traceback
    and POST /_mock/judge answered 500 (a carry-home reviewer)."""
    await vendor.start()
    har = await control.get("/journal.har")
    entry = har["log"]["entries"][0]
    broken = {**entry, "request": {**entry["request"], "url": entry["request"]["url"].replace("http://", "http://[")}}
    har["log"]["entries"].append(broken)
    judgement = judge_har(har).public()
    assert judgement["left_out_count"] == 1 and judgement["left_out"][0]["why"].startswith("not a URL (")
    async with control.client.post("/_mock/judge", json=har) as response:
        assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"log": {}}, "/log: 'entries' is a required property"),
        ({"log": {"entries": [{"request": {"method": "GET", "url": "x"}}]}}, "'startedDateTime' is a required"),
        ({"log": {"entries": [{"startedDateTime": "x", "request": {}, "response": {"status": 200}}]}}, "'method'"),
        ([], "[] is not of type 'object'"),
    ],
)
async def test_what_is_not_a_har_is_400_invalid_har(control: Control, document: Any, says: str) -> None:
    async with control.client.post("/_mock/judge", json=document) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_har")
    assert any(says in error for error in problem["errors"]), problem


async def test_times_that_are_not_rfc_3339_are_noted_not_refused(control: Control) -> None:
    har = {
        "log": {
            "entries": [
                {
                    "startedDateTime": "yesterday",
                    "request": {"method": "POST", "url": "http://h/api/external/push/v1/integrations/x/sessions"},
                    "response": {"status": 201},
                }
            ]
        }
    }
    async with control.client.post("/_mock/judge", json=har) as response:
        judgement = await response.json()
    assert response.status == 200 and "not an RFC 3339 time" in judgement["notes"][0]


async def test_post_judge_of_one_integration_the_har_does_not_hold_names_those_it_does(
    vendor: Vendor, control: Control
) -> None:
    """A typo in ?integration_id= is refused, not answered with an empty (clean-looking) judgement."""
    await vendor.start()
    har = await control.get("/journal.har?integration_id=acme")
    async with control.client.post("/_mock/judge?integration_id=hr-sync", json=har) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (404, "integration_not_in_har")
    assert "setting" not in problem
    assert problem["detail"] == "no request of integration 'hr-sync' in the HAR (it holds: acme)"
    assert problem["integrations"] == ["acme"]
    async with control.client.post("/_mock/judge?integration_id=acme", json=har) as response:
        (judged,) = (await response.json())["integrations"]
    assert response.status == 200 and judged["integration_id"] == "acme"


async def test_post_judge_judges_only_the_integration_asked_for(control: Control, client: Any) -> None:
    for integration in ("acme", "beta"):
        await Vendor(client, integration, f"{integration}-key").start()
    har = await control.get("/journal.har")
    async with control.client.post("/_mock/judge?integration_id=beta", json=har) as response:
        judgement = await response.json()
    assert [judged["integration_id"] for judged in judgement["integrations"]] == ["beta"]


async def test_what_is_not_a_har_names_no_setting(control: Control) -> None:
    """No setting makes a document HAR: ``max_har_bytes`` is named by the size refusal only."""
    for body in (b"not har", b'{"log": {}}'):
        async with control.client.post(
            "/_mock/judge", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            problem = await response.json()
        assert (response.status, problem["code"]) == (400, "invalid_har") and "setting" not in problem, problem


async def test_a_har_over_max_har_bytes_is_413_naming_that_setting(
    make_emulator: Callable[..., Emulator], serve: Callable[[Emulator], Awaitable[Any]]
) -> None:
    client = await serve(make_emulator(max_har_bytes=2000))
    har = {"log": {"entries": [], "comment": "x" * 3000}}
    async with client.post("/_mock/judge", json=har) as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["setting"]) == (413, "payload_too_large", "max_har_bytes")
    assert problem["limit_bytes"] == 2000 and "the HAR is larger than 2000 bytes" in problem["detail"]
    zipped = gzip.compress(orjson.dumps(har))
    assert len(zipped) < 2000  # small on the wire, over the limit once decoded
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with client.post("/_mock/judge", data=zipped, headers=headers) as response:
        assert response.status == 413 and (await response.json())["setting"] == "max_har_bytes"


async def test_a_413_whose_har_entry_says_body_size_0_is_still_an_oversized_page(control: Control) -> None:
    # A browser's capture may drop a large upload's body and say bodySize 0: "0 bytes, within 5 MB"
    # let a real oversized page escape the judge.
    base = "http://h/api/external/push/v1/integrations/x"
    started, pushed = "2026-03-02T08:00:00.000Z", "2026-03-02T08:00:01.000Z"
    har = {
        "log": {
            "entries": [
                {
                    "startedDateTime": started,
                    "request": {"method": "POST", "url": f"{base}/sessions"},
                    "response": {"status": 201, "content": {"text": '{"id": "ses_1", "state": "active"}'}},
                },
                {
                    "startedDateTime": pushed,
                    "request": {"method": "POST", "url": f"{base}/sessions/ses_1/entities", "bodySize": 0},
                    "response": {"status": 413, "content": {"text": '{"code": "payload_too_large"}'}},
                },
            ]
        }
    }
    async with control.client.post("/_mock/judge", json=har) as response:
        (judged,) = (await response.json())["integrations"]
    assert "oversized_page" in [finding["id"] for finding in judged["findings"]], judged


async def test_a_gzip_har_is_told_to_be_gzip_or_judged_when_sent_so(vendor: Vendor, control: Control) -> None:
    """A .har.gz posted as it is got "not JSON: str is not valid UTF-8: surrogates not allowed"."""
    await vendor.start()
    zipped = gzip.compress(orjson.dumps(await control.get("/journal.har?integration_id=acme")))
    plain = {"Content-Type": "application/json"}
    async with control.client.post("/_mock/judge", data=zipped, headers=plain) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_har")
    assert "gzip-compressed" in problem["detail"] and "Content-Encoding: gzip" in problem["detail"]
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with control.client.post("/_mock/judge", data=zipped, headers=headers) as response:
        judged = await response.json()
    assert response.status == 200 and judged["integrations"][0]["integration_id"] == "acme"


async def test_the_unfiltered_har_after_a_bundle_is_put_back_judges_as_the_live_report(
    vendor: Vendor, control: Control
) -> None:
    """bundles.md's first example puts a bundle back where it came from: the unfiltered journal
    keeps the replaced run beside its copy, and its HAR, judged, read each page as sent twice
    (duplicate_page, retry_too_soon) where the live report was clean (a carry-home reviewer)."""
    session = await vendor.start()
    for n in (1, 2):
        await vendor.push(session["id"], {"entities": {"User": [user(n)]}, "page_hint": n})
    await vendor.close(session["id"])
    await control.advance(2, "acme")
    await vendor.session(session["id"])
    bundle = await control.get("/integrations/acme/state")
    async with control.client.put("/_mock/integrations/acme/state", json=bundle) as response:
        assert response.status == 200, await response.text()
    har = await control.get("/journal.har")
    assert len(har["log"]["entries"]) == 5  # the copy only, as the integration's report reads it
    (judged,) = judge_har(har).public()["integrations"]
    assert [finding["id"] for finding in judged["findings"]] == []


async def test_a_har_timed_to_the_second_judges_no_wait_and_says_why(vendor: Vendor, control: Control) -> None:
    """A recorder keeping whole seconds: a client that retried its 429 within the same second was
    gave_up (its retry, started "at" the second, ordered before the 429's answer) and a poll backing
    off status_polled_too_fast. No wait can be read from such times: none is judged, and it is said."""
    await test_report._use(control, test_report._fault("one-429", 1, {"status": 429, "retry_after": 1}))
    session = await vendor.start()
    page = {"entities": {"User": [user(1)]}, "page_hint": 1}
    await vendor.push(session["id"], page, expect=429)
    await control.advance(0.002, "acme")
    await vendor.push(session["id"], page)
    await vendor.close(session["id"])
    for wait in (0.2, 0.3, 0.45, 0.7):
        await control.advance(wait, "acme")
        await vendor.session(session["id"])
    captured = as_captured(await control.get("/journal.har?integration_id=acme"))
    for entry in captured["log"]["entries"]:
        entry["startedDateTime"] = entry["startedDateTime"][:19] + "Z"
        entry["time"] = 50 if entry["response"]["status"] == 429 else 1  # the answer took 50 ms
    (judged,) = judge_har(captured).public()["integrations"]
    assert [f["id"] for f in judged["findings"]] == []
    assert any("every startedDateTime is to the second only" in note for note in judged["notes"])


async def test_a_har_without_bodies_still_knows_how_each_session_was_closed(vendor: Vendor, control: Control) -> None:
    """The journal keeps no bodies by default (a pytest suite's shared server): a failing test's HAR
    judged its applied session as one of unknown close, and passed what its report blamed."""
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}, "page_hint": 1})
    await vendor.close(session["id"])  # applied, its outcome never read
    har = await control.get("/journal.har?integration_id=acme")
    for entry in har["log"]["entries"]:
        entry["request"].pop("postData", None)
        entry["response"]["content"].pop("text", None)
    (close,) = [entry for entry in har["log"]["entries"] if entry["_operation"] == "close_session"]
    assert close["_closeStatus"] == "apply"
    (judged,) = judge_har(har).public()["integrations"]
    assert "outcome_not_read" in [f["id"] for f in judged["findings"]]
    assert "outcome_not_read" not in [item["id"] for item in judged["not_judged"]]
