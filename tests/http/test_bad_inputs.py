"""Bad input gets the documented status and code, nothing is staged, and the server stays healthy."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ..helpers import API, Control, Vendor, user

VALID = b'{"entities":{"User":[' + __import__("json").dumps(user(1)).encode() + b"]}}"


@dataclass
class Case:
    name: str
    status: int
    code: str
    body: bytes | None = None
    method: str = "POST"
    tail: str = "/sessions/{sid}/entities"  # relative to the integration; {sid} = an active session
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    key: str | None = "key-1"
    integration: str = "acme"
    version: str = "v1"


def deep(levels: int) -> bytes:
    return b'{"entities":{"X":[' + b"[" * levels + b"]" * levels + b"]}}"


CASES = [
    Case("empty body", 400, "malformed_body", b""),
    Case("whitespace body", 400, "malformed_body", b"  \n"),
    Case("not JSON", 400, "malformed_body", b"entities=1"),
    Case("truncated JSON", 400, "malformed_body", b'{"entities": {"User": ['),
    Case("trailing garbage", 400, "malformed_body", VALID + b"x"),
    Case("NaN", 400, "malformed_body", b'{"entities":{"X":[{"a":NaN}]}}'),
    Case("Infinity", 400, "malformed_body", b'{"entities":{"X":[{"a":Infinity}]}}'),
    Case("number overflowing a double", 400, "malformed_body", b'{"entities":{"X":[{"a":1e999}]}}'),
    Case("huge integer literal", 400, "malformed_body", b'{"entities":{"X":[{"a":' + b"9" * 400 + b"}]}}"),
    Case("invalid UTF-8", 400, "malformed_body", b'{"entities":{"X":[{"a":"\xff\xfe"}]}}'),
    Case("lone surrogate escape", 400, "malformed_body", b'{"entities":{"X":[{"a":"\\ud800"}]}}'),
    Case("duplicate member names", 400, "malformed_body", b'{"entities":{"X":[{"a":1,"a":2}]}}'),
    Case("duplicate names with spaces", 400, "malformed_body", b'{"entities" : {"X":[{"a" : 1, "a" : 2}]}}'),
    Case("nesting deeper than 64", 400, "malformed_body", deep(70)),
    Case(
        "nesting deeper than 64 inside a User",
        400,
        "malformed_body",
        b'{"entities":{"User":[{"employeeId":' + b"[" * 70 + b"]" * 70 + b"}]}}",
    ),
    Case("body is an array", 400, "validation_failed", b"[]"),
    Case("body is a string", 400, "validation_failed", b'"entities"'),
    Case("entities missing", 400, "validation_failed", b'{"records":[]}'),
    Case("entities not an object", 400, "validation_failed", b'{"entities":[1,2]}'),
    Case("records not an array", 400, "validation_failed", b'{"entities":{"User":{"a":1}}}'),
    Case("record not an object", 400, "validation_failed", b'{"entities":{"Device":[1]}}'),
    Case("bad entity type name", 400, "validation_failed", b'{"entities":{"../x":[{"a":1}]}}'),
    Case("page_hint of wrong type", 400, "validation_failed", VALID[:-1] + b',"page_hint":[1]}'),
    Case("invalid User record", 400, "validation_failed", b'{"entities":{"User":[{"employeeId":"E1"}]}}'),
    Case("empty page", 400, "empty_page", b'{"entities":{}}'),
    Case("empty record lists", 400, "empty_page", b'{"entities":{"User":[]}}'),
    Case("101 records", 400, "too_many_items", b'{"entities":{"Device":[' + b",".join([b'{"n":1}'] * 101) + b"]}}"),
    Case(
        "corrupt gzip",
        400,
        "malformed_body",
        b"\x1f\x8b\x08\x00garbage",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ),
    Case(
        "truncated gzip",
        400,
        "malformed_body",
        gzip.compress(VALID)[:-12],
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ),
    Case(
        "corrupt deflate",
        400,
        "malformed_body",
        b"\x78\x9c garbage",
        headers={"Content-Type": "application/json", "Content-Encoding": "deflate"},
    ),
    Case(
        "unsupported encoding",
        415,
        "unsupported_content_encoding",
        VALID,
        headers={"Content-Type": "application/json", "Content-Encoding": "br"},
    ),
    Case(
        "stacked encodings",
        415,
        "unsupported_content_encoding",
        VALID,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"},
    ),
    Case(
        "form media type",
        415,
        "unsupported_media_type",
        VALID,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case("text media type", 415, "unsupported_media_type", VALID, headers={"Content-Type": "text/plain"}),
    Case(
        "latin-1 charset",
        415,
        "unsupported_media_type",
        VALID,
        headers={"Content-Type": "application/json; charset=latin-1"},
    ),
    Case("over 5 MiB", 413, "payload_too_large", b'{"entities":{"X":[{"a":"' + b"x" * 5_300_000 + b'"}]}}'),
    Case(
        "decoded over 25 MiB",
        413,
        "payload_too_large",
        gzip.compress(b" " * 27_000_000),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ),
    Case("missing api-key", 401, "missing_api_key", VALID, key=None),
    Case("wrong api-key", 401, "invalid_api_key", VALID, key="someone-else"),
    Case("foreign session id", 404, "session_not_found", VALID, tail="/sessions/ses_not_mine/entities"),
    Case("unsupported version", 404, "unsupported_version", VALID, version="v2"),
    Case("unknown path", 404, "not_found", VALID, tail="/sessions/{sid}/pages"),
    Case("wrong method on push", 405, "method_not_allowed", None, method="PUT"),
    Case("wrong method on status", 405, "method_not_allowed", None, method="DELETE", tail="/status"),
    Case("unknown close status", 400, "invalid_close_status", b'{"status":"commit"}', tail="/sessions/{sid}/close"),
    Case("close status not a string", 400, "invalid_close_status", b'{"status":1}', tail="/sessions/{sid}/close"),
    Case(
        "close status and action disagree",
        400,
        "invalid_close_status",
        b'{"status":"apply","action":"discard"}',
        tail="/sessions/{sid}/close",
    ),
    Case("close body not JSON", 400, "malformed_body", b"apply", tail="/sessions/{sid}/close"),
    Case("start reference not a string", 400, "invalid_parameter", b'{"client_reference_id":5}', tail="/sessions"),
    Case("activity page 0", 400, "invalid_parameter", None, method="GET", tail="/activity?page=0"),
    Case("activity page_size 201", 400, "invalid_parameter", None, method="GET", tail="/activity?page_size=201"),
    Case("activity page not a number", 400, "invalid_parameter", None, method="GET", tail="/activity?page=x"),
    Case("activity since not a time", 400, "invalid_parameter", None, method="GET", tail="/activity?since=yesterday"),
    Case(
        "activity since without offset",
        400,
        "invalid_parameter",
        None,
        method="GET",
        tail="/activity?since=2026-01-01T00:00:00",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_input_gets_documented_error_and_stages_nothing(client: TestClient[Any, Any], case: Case) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    headers = dict(case.headers)
    if case.key is not None:
        headers["api-key"] = case.key
    path = f"/api/external/push/{case.version}/integrations/{case.integration}" + case.tail.format(sid=session["id"])
    async with client.request(case.method, path, data=case.body, headers=headers) as response:
        body = await response.json(content_type=None)
        assert (response.status, body.get("code")) == (case.status, case.code), body
        assert response.headers["Content-Type"].startswith("application/json")
        assert body["status"] == case.status and body["title"] and body["detail"]
        if case.status == 405:
            assert "POST" in response.headers["Allow"] or "GET" in response.headers["Allow"]

    after = await vendor.session(session["id"])
    assert after["accepted_records_total"] == 0 and after["accepted_batches"] == 0
    # The server is still healthy and the session still takes a valid page.
    if after["state"] == "active":
        await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    async with client.get("/_mock/health") as health:
        assert health.status == 200


def test_the_table_is_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


async def test_an_invalid_page_is_an_anomaly_and_a_refused_body_a_warning(client: TestClient[Any, Any]) -> None:
    """[doc] an invalid page (400) records an anomaly. A 415 is a transport refusal, the body never
    read as a page: a warning (page_refused), listed with the session's pages, not a rejected batch."""
    vendor = Vendor(client)
    session = await vendor.start()
    await vendor.push(session["id"], None, expect=400, data=b"{", headers={"Content-Type": "application/json"})
    await vendor.push(session["id"], None, expect=415, data=b"{}", headers={"Content-Type": "text/csv"})
    items = (await vendor.activity())["items"]
    seen = [(i["type"], i["details"]["code"], i["level"]) for i in items if i["type"].startswith("page_")]
    assert seen == [("page_rejected", "malformed_body", "error"), ("page_refused", "unsupported_media_type", "warning")]
    assert (await vendor.session(session["id"]))["rejected_batches"] == 1
    pages = (await Control(client).sessions("acme"))[0]["pages"]
    assert [(page["accepted"], page["code"]) for page in pages] == [
        (False, "malformed_body"),
        (False, "unsupported_media_type"),
    ]


async def test_a_body_without_content_type_is_refused_unless_read_as_json(make_emulator: Any, serve: Any) -> None:
    strict = Vendor(await serve(make_emulator()))
    session = await strict.start()
    problem = await strict.push(session["id"], None, expect=415, data=VALID, skip_auto_headers=["Content-Type"])
    assert problem["code"] == "unsupported_media_type" and "application/json" in problem["detail"]
    assert problem["basis"] == "mock" and problem["setting"] == "missing_content_type"
    lenient = Vendor(await serve(make_emulator(missing_content_type="json")))
    session = await lenient.start()
    await lenient.push(session["id"], None, expect=202, data=VALID, skip_auto_headers=["Content-Type"])


async def test_deflate_raw_and_zlib_wrapped_bodies_are_both_accepted(client: TestClient[Any, Any]) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    raw = zlib.compressobj(wbits=-15)
    raw_deflate = raw.compress(VALID) + raw.flush()
    for body, encoding in (
        (zlib.compress(VALID), "deflate"),
        (raw_deflate, "deflate"),
        (gzip.compress(VALID), "gzip"),
        (gzip.compress(VALID[:20]) + gzip.compress(VALID[20:]), "gzip"),
    ):
        result = await vendor.push(
            session["id"], None, data=body, headers={"Content-Type": "application/json", "Content-Encoding": encoding}
        )
        assert result["accepted_count_total"] == 1
    (detail,) = (await (await client.get("/_mock/integrations/acme/sessions")).json())["sessions"]
    assert [p["encoding"] for p in detail["pages"]] == ["deflate", "deflate", "gzip", "gzip"]
    assert detail["pages"][2]["wire_bytes"] < detail["pages"][2]["decoded_bytes"]


async def test_foreign_key_cannot_see_or_touch_another_integrations_session(client: TestClient[Any, Any]) -> None:
    owner = Vendor(client, "acme", "key-1")
    other = Vendor(client, "globex", "key-2")
    session = await owner.start()
    status, body = await other.call("GET", f"/sessions/{session['id']}")
    assert (status, body["code"]) == (404, "session_not_found")
    status, body = await Vendor(client, "acme", "key-2").call("GET", f"/sessions/{session['id']}")
    assert (status, body["code"]) == (401, "invalid_api_key")
    assert session["id"] not in str(body)


async def test_unknown_integration_in_declared_mode_is_401_without_saying_it_is_unknown(
    serve: Any, make_emulator: Any
) -> None:
    from mock_sprinto.settings import Integration

    client = await serve(make_emulator((Integration("acme", "secret"),)))
    unknown = await Vendor(client, "nobody", "secret").call("POST", "/sessions")
    wrong = await Vendor(client, "acme", "guess").call("POST", "/sessions")
    assert unknown[0] == wrong[0] == 401
    assert unknown[1]["code"] == wrong[1]["code"] == "invalid_api_key"
    await Vendor(client, "acme", "secret").start()


async def test_open_mode_refuses_malformed_integration_ids(client: TestClient[Any, Any]) -> None:
    async with client.post(f"{API}/{'x' * 200}/sessions", headers={"api-key": "k"}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == "invalid_parameter"


async def test_an_empty_body_with_content_length_zero_reads_as_empty_not_truncated(
    client: TestClient[Any, Any],
) -> None:
    vendor = Vendor(client)
    session = await vendor.start()
    headers = {"Content-Type": "application/json", "Content-Length": "0"}
    problem = await vendor.push(session["id"], None, expect=400, data=b"", headers=headers)
    assert problem["code"] == "malformed_body" and "empty" in problem["detail"], problem
    closed = await vendor.call("POST", f"/sessions/{session['id']}/close", 400, data=b"", headers=headers)
    assert "'status'" in closed[1]["detail"]  # an empty close body is a close without status, not a broken body


async def test_a_path_the_api_does_not_have_names_the_closest_real_one(client: TestClient[Any, Any]) -> None:
    """A base URL without /api/external/push is the commonest first mistake: the 404 says where to go."""
    async with client.post("/v1/integrations/acme/sessions", headers={"api-key": "k"}) as response:
        assert response.status == 404
        body = await response.json()
    assert body["code"] == "not_found"
    assert body["did_you_mean"] == "POST /api/external/push/v1/integrations/acme/sessions"
    assert body["detail"].endswith("did you mean POST /api/external/push/v1/integrations/acme/sessions?")


@pytest.mark.parametrize(
    ("content_type", "names", "not_named"),
    [
        ("text/plain;charset=UTF-8", "fetch()", "Net::HTTP"),
        ("application/x-www-form-urlencoded", "Net::HTTP, Java's HttpURLConnection", "fetch()"),  # their default
        ("application/octet-stream", "Perl's HTTP::Tiny", "fetch()"),  # named nothing before (a polyglot review)
        ("application/xml", None, "fetch()"),
    ],
)
async def test_a_refused_content_type_names_the_clients_that_send_it(
    vendor: Vendor, content_type: str, names: str | None, not_named: str
) -> None:
    session = await vendor.start()
    problem = await vendor.push(session["id"], None, expect=415, data=VALID, headers={"Content-Type": content_type})
    detail = problem["detail"]
    assert "'Content-Type: application/json'" in detail and not_named not in detail, detail
    assert names is None or names in detail, detail
