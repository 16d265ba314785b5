"""GET /_mock/journal.har: the journal as HAR 1.2, read back by a HAR library (haralyzer)."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from haralyzer import HarParser

from ..helpers import Control, Vendor, user


async def _har(client: TestClient[Any, Any], query: str = "") -> dict[str, Any]:
    async with client.get("/_mock/journal.har" + query) as response:
        assert response.status == 200, await response.text()
        assert "filename=" in response.headers["Content-Disposition"]
        data: dict[str, Any] = await response.json()
        return data


async def test_har_holds_every_request_with_headers_and_redacts_secrets(
    client: TestClient[Any, Any], control: Control
) -> None:
    vendor = Vendor(client, "har-a", "very-secret-key")
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await vendor.push(session["id"], {"entities": {"User": [{}]}}, expect=400)
    await vendor.call("GET", "/activity?page=1&page_size=5", headers={"Authorization": "Bearer x", "Cookie": "a=b"})
    await Vendor(client, "har-b", "other").start()

    har = await _har(client, "?integration_id=har-a")
    parser = HarParser(har)  # a HAR library reads it
    entries = parser.har_data["entries"]
    assert [e["_operation"] for e in entries] == ["start_session", "push_page", "push_page", "activity"]
    assert [e["response"]["status"] for e in entries] == [201, 202, 400, 200]
    assert entries[2]["_code"] == "validation_failed"
    page = parser.pages[0]  # haralyzer's unpaged entries, as a page
    assert len(page.entries) == 4
    assert {e.request.method for e in page.entries} == {"GET", "POST"}
    first = entries[0]["request"]
    assert first["url"].startswith("http://") and first["url"].endswith("/v1/integrations/har-a/sessions")
    headers = {h["name"].lower(): h["value"] for h in first["headers"]}
    assert headers["api-key"] == "[redacted]"
    activity = entries[3]["request"]
    assert {"name": "page_size", "value": "5"} in activity["queryString"]
    sent = {h["name"].lower(): h["value"] for h in activity["headers"]}
    assert sent["authorization"] == "[redacted]" and sent["cookie"] == "[redacted]"
    assert activity["cookies"] == [{"name": "a", "value": "[redacted]"}]
    answered = {h["name"].lower(): h["value"] for h in entries[0]["response"]["headers"]}
    assert answered["x-request-id"] == entries[0]["_requestId"]
    assert answered["content-type"].startswith("application/json")
    assert "very-secret-key" not in json.dumps(har)
    assert "postData" not in entries[1]["request"] and "text" not in entries[1]["response"]["content"]

    kept = await _har(client, "?integration_id=har-a&redact=false")
    assert "very-secret-key" in json.dumps(kept)
    everything = await _har(client)
    assert {e["_integrationId"] for e in everything["log"]["entries"]} == {"har-a", "har-b"}
    async with client.get("/_mock/journal.har?redact=maybe") as response:
        assert response.status == 400 and (await response.json())["code"] == "invalid_parameter"


async def test_bodies_are_captured_only_when_the_setting_is_on_and_cut_at_its_size(
    serve: Any, make_emulator: Any
) -> None:
    client = await serve(make_emulator(journal_bodies_bytes=200))
    vendor = Vendor(client, "bodies", "k")
    session = await vendor.start()
    small = {"page_hint": 1, "entities": {"User": [user(1)]}}
    await vendor.push(session["id"], small)
    big = {"entities": {"User": [user(i) for i in range(1, 11)]}}
    raw = gzip.compress(orjson.dumps(big))
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    await vendor.call("POST", f"/sessions/{session['id']}/entities", 202, data=raw, headers=headers)

    entries = HarParser(await _har(client, "?integration_id=bodies")).har_data["entries"]
    pushed = entries[1]
    post = pushed["request"]["postData"]
    assert post["mimeType"] == "application/json"
    assert len(post["text"]) <= 200 and post["text"] == json.dumps(small)[:200]
    answer = pushed["response"]["content"]
    assert answer["mimeType"] == "application/json" and '"accepted_count_total"' in answer["text"]
    gz = entries[2]["request"]
    assert gz["bodySize"] == len(raw)  # on the wire
    assert gz["postData"]["text"] == orjson.dumps(big).decode()[:200]  # decoded, then cut
    assert "cut at 200 of" in gz["postData"]["comment"]


async def test_capture_off_keeps_no_body_and_a_broken_connection_is_status_0(
    client: TestClient[Any, Any], emulator: Any
) -> None:
    vendor = Vendor(client, "har-off", "k")
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    assert all(e.request_body is None and e.response_body is None for e in emulator.journal.entries)
    rule = {"match": {"operation": "get_session"}, "transport": "reset"}
    async with client.put("/_mock/integrations/har-off/scenario", json={"name": "resets", "rules": [rule]}) as r:
        assert r.status == 200
    try:
        await vendor.call("GET", f"/sessions/{session['id']}")
    except Exception:  # the connection was reset, as the rule says
        pass
    entries = (await _har(client, "?integration_id=har-off&operation=get_session"))["log"]["entries"]
    assert len(entries) == 1
    assert entries[0]["response"]["status"] == 0 and entries[0]["response"]["_error"] == "transport_reset"
    assert entries[0]["_rule"] == "rule 1"
    only_400 = (await _har(client, "?integration_id=har-off&status=400"))["log"]["entries"]
    assert only_400 == []


async def test_journal_filters_and_the_control_planes_activity_log(
    client: TestClient[Any, Any], control: Control
) -> None:
    vendor = Vendor(client, "filters", "k")
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(1)]}})
    await vendor.push(session["id"], {"entities": {"User": [{}]}}, expect=400)
    pushes = await control.journal(integration_id="filters", operation="push_page")
    assert [e["status"] for e in pushes] == [202, 400]
    rejected = await control.journal(integration_id="filters", status=400)
    assert [e["operation"] for e in rejected] == ["push_page"]
    async with client.get("/_mock/journal?status=999") as response:
        assert response.status == 400 and (await response.json())["code"] == "invalid_parameter"
    items = (await control.get("/integrations/filters/activity"))["items"]
    assert [i["type"] for i in items] == ["session_created", "page_accepted", "page_rejected"]
    assert len(await control.journal(integration_id="filters")) == 3  # reading it journaled nothing


async def test_the_dashboard_page_and_the_readme_it_links_into(client: TestClient[Any, Any]) -> None:
    async with client.get("/_mock/") as response:
        page = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert '<script src="dashboard.js"></script>' in page and "<script>" not in page
    async with client.get("/_mock/dashboard.js") as response:
        script = await response.text()
        assert response.headers["Content-Type"].startswith("text/javascript")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    # Every link of the page into the docs leads to a page served here, and to a heading on it.
    links = set(re.findall(r'href="((?:readme|docs/[\w-]+)(?:#[^"]*)?)"', page))
    assert {"readme#quickstart", "docs/judge", "docs/getting-started"} <= links
    for link in links:
        path, _, anchor = link.partition("#")
        async with client.get(f"/_mock/{path}") as response:
            assert response.status == 200, link
            rendered = await response.text()
        assert not anchor or f'id="{anchor}"' in rendered, link


async def test_the_dashboards_overview_reads_one_integration_and_never_creates_one(
    client: TestClient[Any, Any], control: Control
) -> None:
    vendor = Vendor(client, "seen", "k")
    session = await vendor.start()
    await vendor.push(session["id"], {"entities": {"User": [user(i) for i in range(1, 4)]}})
    await vendor.close(session["id"])
    await control.advance(2, "seen")
    view = await control.get("/integrations/seen/overview", params={"limit": "2", "offset": "1"})
    assert view["exists"] is True and view["sessions"][0]["state"] == "processed"
    assert [a["type"] for a in view["activity"]][-1] == "session_processed"
    assert view["datasets"] == {"User": 3} and view["records"]["entity_type"] == "User"
    assert [r["employeeId"] for r in view["records"]["records"]] == ["E2", "E3"]
    assert view["report"]["integration_id"] == "seen" and view["clock"]["offset_seconds"] == 2
    assert await control.get("/integrations/gone/overview") == {"integration_id": "gone", "exists": False}
    assert "gone" not in {i["id"] for i in (await control.get("/integrations"))["integrations"]}
    async with client.get("/_mock/integrations/%C2%84/overview") as response:
        assert response.status == 400 and (await response.json())["code"] == "invalid_parameter"


async def test_a_request_with_huge_headers_keeps_only_journal_header_bytes_of_them(
    serve: Any, make_emulator: Any
) -> None:
    # Before the cap every entry referenced the whole header block: 2,000 requests of 100 headers
    # of 8,000 bytes grew a `mock-sprinto serve` to 1.6 GB, and a full ring of 10,000 would hold 8 GB.
    client = await serve(make_emulator(journal_header_bytes=1000))
    pad = {f"X-Pad-{i}": "a" * 300 for i in range(20)}
    vendor = Vendor(client, "har-huge", "key")
    await vendor.call("GET", "/status?" + "q=1&" * 600, headers=pad)
    await vendor.call("GET", "/status", headers={"X-Small": "b"})

    entries = (await _har(client, "?integration_id=har-huge"))["log"]["entries"]
    huge, small = entries[0]["request"], entries[1]["request"]
    kept = sum(len(h["name"]) + len(h["value"]) for h in huge["headers"])
    assert 0 < kept <= 1000
    assert not any(h["name"].startswith("X-Pad-19") for h in huge["headers"])  # the last ones went first
    assert re.fullmatch(r"\d+ more header\(s\) not kept: past journal_header_bytes", huge["comment"])
    assert len(huge["url"].split("?", 1)[1]) == 1000
    assert "comment" not in small and {"name": "X-Small", "value": "b"} in small["headers"]
