"""Issue 22: a scenario cannot break the wire, and a read makes nothing. What a scenario file or PUT
may hold is what JSON and HTTP can carry: finite numbers, JSON types, header names and values that
frame nothing (items 8, 9, 10, and the low items: repeated YAML keys, delays adding up without a
cap). A control-plane read of an unknown integration is a 404 (item 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.faults import Scenario, parse_scenario
from mock_sprinto.faults.engine import FaultState, RequestFacts, decide
from mock_sprinto.faults.scenario import ScenarioError, load_scenario_file
from mock_sprinto.faults.vocabulary import MAX_DELAY_SECONDS
from mock_sprinto.settings import Integration

from ..helpers import Vendor
from . import rawhttp


def _load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario_file(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ScenarioError) as refused:
        _load(tmp_path, text)
    return [str(problem) for problem in refused.value.problems]


RULE = "name: s\nrules:\n  - match: {operation: activity}\n"


# ---- item 8: non-finite numbers ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "path"),
    [
        ("    delay: {seconds: .nan}\n", "/rules/0/delay/seconds"),
        ("    delay: {min_seconds: .nan, max_seconds: 1}\n", "/rules/0/delay/min_seconds"),
        ("    lifecycle: {hold_processing_seconds: .nan}\n", "/rules/0/lifecycle/hold_processing_seconds"),
        ("    when: {probability: .nan}\n    respond: {status: 503}\n", "/rules/0/when/probability"),
        ("    respond: {status: 503, body: {x: -.inf}}\n", "/rules/0/respond/body/x"),
    ],
)
def test_a_number_json_cannot_carry_is_refused_with_its_line(tmp_path: Path, action: str, path: str) -> None:
    """Before: ``delay: {seconds: .nan}`` passed ``scenarios check`` and hung matching requests."""
    problems = _problems(tmp_path, RULE + action)
    assert len(problems) == 1 and problems[0].startswith(f"line 4: {path}: "), problems
    assert "finite" in problems[0]


def test_a_non_finite_setting_override_is_refused_too(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "name: s\nsettings:\n  processing_seconds: .inf\n")
    assert problems == [
        "line 3: /settings/processing_seconds: inf is not a number JSON can carry: a number must be finite"
    ]


# ---- item 10: YAML types JSON cannot carry -----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "path", "says"),
    [
        ("name: s\nseed: !!binary aGVsbG8=\n", "/seed", "binary"),
        ("name: s\nseed: 1180591620717411303424\n", "/seed", "64 bits"),
        (RULE + "    respond: {status: 503, body: !!set {a, b}}\n", "/rules/0/respond/body", "set"),
        (RULE + "    respond: {status: 503, body: {n: 11805916207174113034240}}\n", "/rules/0/respond/body/n", "bits"),
        (RULE + "    respond: {status: 503, body: {at: 2026-01-01}}\n", "/rules/0/respond/body/at", "quote it"),
        (RULE + "    respond: {status: 503, body: {1: one}}\n", "/rules/0/respond/body/1", "not a string"),
    ],
)
def test_a_yaml_value_json_has_no_type_for_is_refused_at_load(tmp_path: Path, text: str, path: str, says: str) -> None:
    """Before: these passed ``scenarios check``, then the scenario view and matching calls answered 500."""
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and f": {path}: " in problems[0] and says in problems[0], problems
    assert problems[0].startswith("line ")


# ---- low item: a repeated YAML key ------------------------------------------------------------------
def test_a_key_repeated_in_a_yaml_mapping_is_refused_with_its_line(tmp_path: Path) -> None:
    text = RULE + "    respond: {status: 503}\n    respond: {status: 200}\n"
    problems = _problems(tmp_path, text)
    assert len(problems) == 1 and problems[0].startswith("line 5: ") and "appears twice" in problems[0], problems


# ---- item 9: a rule's headers frame nothing -----------------------------------------------------------
def _with_headers(headers: dict[str, str], body: Any = None) -> dict[str, Any]:
    respond: dict[str, Any] = {"status": 503, "headers": headers}
    if body is not None:
        respond["body"] = body
    return {"name": "h", "rules": [{"match": {"operation": "integration_status"}, "respond": respond}]}


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nContent-Length: 0"},
        {"X-Evil": "a\x00b"},
        {"X Evil": "a"},
        {"Bad\nName": "a"},
        {"Content-Length": "0"},
        {"transfer-encoding": "chunked"},
        {"Connection": "close"},
        {"Upgrade": "websocket"},
    ],
)
async def test_framing_hop_by_hop_and_invalid_headers_are_refused_at_put(client: Any, headers: dict[str, str]) -> None:
    """Before: CR/LF/NUL gave empty replies and tracebacks; Content-Length: 0 desynchronised
    keep-alive; Transfer-Encoding was sent beside Content-Length."""
    async with client.put("/_mock/integrations/acme/scenario", json=_with_headers(headers)) as response:
        body = await response.json()
        assert response.status == 400, body
    assert body["code"] == "invalid_scenario"
    assert body["errors"][0]["path"].startswith("/rules/0/respond/headers/"), body["errors"]
    with pytest.raises(ScenarioError):
        parse_scenario(_with_headers(headers))


async def test_a_rule_may_name_its_content_type(client: Any) -> None:
    """Before: ``Content-Type: text/html`` made every matching call answer 500."""
    page = "<html><body>502 Bad Gateway</body></html>"
    scenario = _with_headers({"Content-Type": "text/html; charset=utf-8", "X-Gateway": "edge-1"}, page)
    scenario["rules"][0]["respond"]["status"] = 502
    async with client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 200
    vendor = Vendor(client, "acme", "k")
    async with client.get(vendor.url("/status"), headers=vendor.headers) as response:
        assert response.status == 502
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["X-Gateway"] == "edge-1"
        assert await response.text() == page
    scenario = _with_headers({"content-type": "application/problem+json"}, {"code": "edge", "status": 503})
    async with client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 200
    answer = await rawhttp.request(
        client.server.host, client.server.port, rawhttp.build("GET", vendor.url("/status"), [(b"api-key", b"k")])
    )
    assert answer.status == 503 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {"code": "edge", "status": 503}
    assert [name.lower() for name, _ in answer.header_lines].count("content-length") == 1


# ---- low item: delays add up to a cap -------------------------------------------------------------------
def test_delays_of_several_rules_add_up_to_at_most_the_cap() -> None:
    rule = {"match": {"operation": "activity"}, "delay": {"seconds": 300}}
    scenario = parse_scenario({"name": "slow", "rules": [rule] * 5})
    decision = decide(FaultState(scenario, "acme"), RequestFacts("activity", None, None, frozenset(), None))
    assert decision is not None and len(decision.rules) == 5
    assert decision.delay_seconds == MAX_DELAY_SECONDS == 300  # before: 1,500 s


# ---- item 11: a read never creates anything -----------------------------------------------------------
READS = ("", "/clock", "/scenario", "/settings", "/sessions", "/records", "/records/User", "/report", "/activity")


async def test_reads_of_unknown_integrations_are_404_and_create_nothing(client: Any) -> None:
    """Before: 300 cross-site iframes loading /_mock/integrations/junk-N/clock made 300 integrations."""
    iframe = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}
    for n, tail in enumerate(READS * 3):
        async with client.get(f"/_mock/integrations/junk-{n}{tail}", headers=iframe) as response:
            body = await response.json()
            assert response.status == 404 and body["code"] == "integration_not_found", (tail, body)
    async with client.get("/_mock/integrations/junk-1/sessions/ses_1") as response:
        assert response.status == 404
    async with client.delete("/_mock/integrations/junk-1/scenario") as response:
        assert response.status == 204
    async with client.delete("/_mock/integrations/junk-1/settings") as response:
        assert response.status == 204
    for what in ("scenario", "settings"):  # an id no integration can have is not a successful no-op
        async with client.delete(f"/_mock/integrations/%C2%84/{what}") as response:
            assert response.status == 400
    async with client.get("/_mock/integrations") as response:
        assert (await response.json())["integrations"] == []
    async with client.get("/_mock/health") as response:
        assert (await response.json())["integrations"] == 0
    # A write still makes the integration it names, so a test can prepare it before its first request.
    async with client.post("/_mock/integrations/prepared/clock/advance", json={"seconds": 5}) as response:
        assert response.status == 200
    async with client.get("/_mock/integrations/prepared/clock") as response:
        assert response.status == 200 and (await response.json())["offset_seconds"] == 5


async def test_in_closed_mode_a_read_cannot_make_an_integration_the_first_key_then_owns(
    serve: Any, make_emulator: Any
) -> None:
    """Before: GET /_mock/integrations/intruder/clock made 'intruder', and the first api-key bound it."""
    client = await serve(make_emulator((Integration("acme", "acme-key"),)))
    async with client.get("/_mock/integrations/intruder/clock") as response:
        assert response.status == 404
    status, body = await Vendor(client, "intruder", "any-key").call("GET", "/status")
    assert status == 401 and body["code"] == "invalid_api_key"


async def test_a_deleted_integrations_scenario_is_not_readable(client: Any) -> None:
    scenario = {"name": "s", "rules": [{"match": {"operation": "activity"}, "respond": {"status": 503}}]}
    async with client.put("/_mock/integrations/acme/scenario", json=scenario) as response:
        assert response.status == 200
    async with client.delete("/_mock/integrations/acme") as response:
        assert response.status == 204
    async with client.get("/_mock/integrations/acme/scenario") as response:
        assert response.status == 404
