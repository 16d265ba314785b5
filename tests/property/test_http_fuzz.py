"""Fuzz what schemathesis does not vary: content codings, media types, odd headers, and inline
scenarios loaded into a live tenant.

One in-process server per test (the ``serve`` fixture: every response is checked against
schemas/openapi.yaml and any 500 fails the test); each example gets a fresh integration, so
examples cannot see each other (tenant isolation is what makes sharing the server sound).
"""

from __future__ import annotations

import gzip
import itertools
import json
import zlib
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..helpers import API, user

FRESH = itertools.count()
SHARED_SERVER = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

media_types = st.one_of(
    st.sampled_from(
        [
            None,
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=UTF8",
            "application/json; charset=latin-1",
            "application/vnd.api+json",
            "application/problem+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json;",
            ";",
            "",
            "application/json; charset=",
            "APPLICATION/JSON",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
codings = st.one_of(
    st.sampled_from(
        [None, "gzip", "x-gzip", "deflate", "identity", "GZIP", " gzip ", "br", "gzip, deflate", "zstd", ""]
    ),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12),
)
PAGE = json.dumps({"entities": {"User": [user(1), user(2)]}, "page_hint": 3}).encode()
bodies = st.one_of(
    st.just(PAGE),
    st.sampled_from([b"", b"{}", b"null", b"[]", b'{"entities": {}}', PAGE[:-1], PAGE + b"x", b"\xff\xfe", PAGE * 2]),
    st.binary(max_size=300),
)


def encode(body: bytes, coding: str | None, honest: bool) -> bytes:
    """Encode as the header says (honest), or leave it plain so the header lies."""
    name = (coding or "").strip().lower()
    if not honest or name not in ("gzip", "x-gzip", "deflate"):
        return body
    return gzip.compress(body) if "gzip" in name else zlib.compress(body)


@SHARED_SERVER
@given(
    media=media_types,
    coding=codings,
    body=bodies,
    honest=st.booleans(),
    request_id=st.text(max_size=140),
    operation=st.sampled_from(["push", "start", "close"]),
)
async def test_any_media_type_coding_and_body_gets_a_documented_answer(
    client: Any, media: str | None, coding: str | None, body: bytes, honest: bool, request_id: str, operation: str
) -> None:
    integration = f"fz-{next(FRESH)}"
    headers = {"api-key": "k"}
    async with client.post(f"{API}/{integration}/sessions", headers=headers) as response:
        assert response.status == 201
        session = (await response.json())["id"]
    path = {"push": f"/sessions/{session}/entities", "start": "/sessions", "close": f"/sessions/{session}/close"}
    sent = dict(headers)
    if media is not None:
        sent["Content-Type"] = media
    if coding is not None:
        sent["Content-Encoding"] = coding
    if request_id.isprintable() and request_id.isascii():
        sent["X-Request-Id"] = request_id
    async with client.post(
        f"{API}/{integration}{path[operation]}", data=encode(body, coding, honest), headers=sent
    ) as response:
        answer = await response.read()
        assert response.status < 500, answer
        if "X-Request-Id" in sent and response.headers["X-Request-Id"] != request_id:
            assert (
                not request_id
                or len(request_id) > 128
                or not request_id.replace(".", "").replace("_", "").replace(":", "").replace("-", "").isalnum()
            )
    if operation == "push" and response.status == 202:
        async with client.get(f"{API}/{integration}/sessions/{session}", headers=headers) as check:
            assert (await check.json())["accepted_batches"] == 1


# ---- inline scenarios --------------------------------------------------------------------
OPERATIONS = ["start_session", "get_session", "push_page", "close_session", "integration_status", "activity", "any"]
whens = st.one_of(
    st.builds(lambda n: {"nth": n}, st.integers(1, 3)),
    st.builds(lambda n: {"every": n}, st.integers(1, 3)),
    st.builds(lambda n: {"after": n}, st.integers(0, 3)),
    st.builds(lambda n: {"first": n}, st.integers(1, 3)),
    st.builds(lambda p: {"probability": p}, st.sampled_from([0, 0.5, 1])),
)
responds = st.fixed_dictionaries(
    {"status": st.sampled_from([200, 202, 400, 401, 404, 409, 413, 429, 500, 502, 503, 504])},
    optional={
        "code": st.sampled_from(["injected", "rate_limited", "x"]),
        "detail": st.text(max_size=20),
        "body": st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=10),
            st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
        ),
        "headers": st.dictionaries(
            st.sampled_from(["X-Fault", "Cache-Control"]), st.text("abc", max_size=5), max_size=1
        ),
        "retry_after": st.integers(0, 5),
    },
)
actions = st.one_of(
    st.fixed_dictionaries({"respond": responds}),
    st.fixed_dictionaries({"delay": st.builds(lambda s: {"seconds": s}, st.sampled_from([0, 0.001, 0.005]))}),
    st.fixed_dictionaries({"transport": st.sampled_from(["reset", "close", "truncated_body", "malformed_body"])}),
    st.fixed_dictionaries(
        {
            "lifecycle": st.one_of(
                st.just({"expire_session": True}),
                st.builds(lambda n: {"fail_processing": n}, st.integers(1, 3)),
                st.builds(lambda s: {"hold_processing_seconds": s}, st.sampled_from([0, 1, 5])),
                st.just({"purge_expired": True}),
            )
        }
    ),
)


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    operation = draw(st.sampled_from(OPERATIONS))
    match: dict[str, Any] = {"operation": operation}
    if operation in ("push_page", "any") and draw(st.booleans()):
        match["page"] = draw(st.integers(1, 3))
    if operation in ("get_session", "push_page", "close_session", "start_session", "any") and draw(st.booleans()):
        match["session"] = draw(st.integers(1, 2))
    rule: dict[str, Any] = {"match": match, **draw(actions)}
    if draw(st.booleans()):
        rule["when"] = draw(whens)
    if draw(st.booleans()):
        rule["times"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        rule["phase"] = draw(st.sampled_from(["before", "after"]))
    return rule


scenarios = st.fixed_dictionaries(
    {"name": st.sampled_from(["fuzz", "f-1"]), "rules": st.lists(rules(), max_size=4)},
    optional={
        "seed": st.integers(0, 10),
        "settings": st.fixed_dictionaries(
            {},
            optional={
                "processing_seconds": st.sampled_from([0, 1]),
                "max_page_items": st.integers(1, 3),
                "rate_limit": st.sampled_from([None, 1000]),
            },
        ),
    },
)


@SHARED_SERVER
@given(scenario=scenarios)
async def test_an_inline_scenario_never_breaks_the_emulator(client: Any, scenario: dict[str, Any]) -> None:
    """Whatever a valid scenario injects, the emulator's own answers stay correct and never 500."""
    integration = f"sc-{next(FRESH)}"
    async with client.put(f"/_mock/integrations/{integration}/scenario", json=scenario) as response:
        loaded = await response.json()
        assert response.status in (200, 400), loaded
        if response.status == 400:
            assert loaded["code"] == "invalid_scenario" and loaded["errors"]
            return
    injected_500 = any(r.get("respond", {}).get("status", 0) >= 500 for r in scenario["rules"])
    headers = {"api-key": "k"}
    base = f"{API}/{integration}"

    async def call(method: str, tail: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            async with client.request(method, base + tail, headers=headers, **kwargs) as response:
                text = await response.text()
                assert response.status < 500 or injected_500, text
                try:
                    return response.status, json.loads(text)
                except ValueError:
                    return response.status, None
        except (aiohttp.ClientError, ConnectionError):
            assert any("transport" in r for r in scenario["rules"]), "a transport fault nobody asked for"
            return 0, None

    for _ in range(2):
        status, session = await call("POST", "/sessions")
        session_id = session.get("id", "ses_x") if status == 201 and isinstance(session, dict) else "ses_x"
        await call("POST", f"/sessions/{session_id}/entities", json={"entities": {"User": [user(1), user(2)]}})
        await call("POST", f"/sessions/{session_id}/entities", json={"entities": {"User": [{"employeeId": "bad"}]}})
        await call("GET", f"/sessions/{session_id}")
        await call("POST", f"/sessions/{session_id}/close", json={"status": "apply"})
        await call("GET", "/status")
        await call("GET", "/activity")
    async with client.post(f"/_mock/integrations/{integration}/clock/advance", json={"seconds": 10}) as response:
        assert response.status == 200
    async with client.get(f"/_mock/integrations/{integration}/records/User") as response:
        records = (await response.json())["records"]
    assert all(record["employeeId"] != "bad" for record in records)  # a rejected page is never applied
    async with client.get(f"/_mock/integrations/{integration}/sessions") as response:
        assert response.status == 200
