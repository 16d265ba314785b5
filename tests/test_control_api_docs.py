"""docs/control-api.md against the server: its route table names every control call the OpenAPI
document declares, and what it says of an integration not seen yet is what the server does."""

from __future__ import annotations

import re
from typing import Any

import yaml
from aiohttp.test_utils import TestClient

from .doctext import ROOT, pages

PAGE = "docs/control-api.md"
METHODS = ("get", "put", "post", "delete", "patch")


def route_table() -> list[str]:
    """The "call" cell of each row of the page's table of control calls."""
    text = pages()[PAGE]
    table = text[text.index("| what | call |") : text.index("\n\n", text.index("| what | call |"))]
    return [row.rsplit(" | ", 1)[1] for row in table.splitlines()[2:]]


def test_the_route_table_names_every_control_call_of_the_openapi_document() -> None:
    declared = yaml.safe_load((ROOT / "schemas" / "openapi.yaml").read_text(encoding="utf-8"))["paths"]
    cells = route_table()
    missing = []
    for path, operations in declared.items():
        if not path.startswith("/_mock"):
            continue
        shown = path.replace("{integration_id}", "{id}")
        mention = re.compile(re.escape(shown) + r"(?![\w/.{-])")
        holding = [cell for cell in cells if mention.search(cell)]
        for method in (m.upper() for m in operations if m in METHODS):
            if not any(re.search(rf"\b{method}\b", cell) for cell in holding):
                missing.append(f"{method} {shown}")
    # was: GET /_mock/state, POST /_mock/judge, POST .../verify, ... in the OpenAPI document only
    assert missing == []


def said_of_an_unknown_integration() -> str:
    text = pages()[PAGE]
    start = text.index("A control write naming an integration not seen yet")
    return text[start : text.index("\n\n", start)]


async def test_an_unknown_integration_is_created_by_the_writes_and_refused_by_the_reads_the_page_lists(
    client: TestClient[Any, Any],
) -> None:
    said = said_of_an_unknown_integration()
    creating, refusing = said.split("A read never creates one")
    known: set[str] = set()

    async def integrations() -> set[str]:
        async with client.get("/_mock/integrations") as response:
            return {i["id"] for i in (await response.json())["integrations"]}

    for n, (method, tail) in enumerate(
        re.findall(r"`(GET|POST) (?:\.\.\.|/_mock/integrations/\{id\})(/[a-z/]*)?`", refusing)
    ):
        integration = f"read{n}"
        async with client.request(method, f"/_mock/integrations/{integration}{tail or ''}") as response:
            body = await response.json()
            assert (response.status, body["code"]) == (404, "integration_not_found"), (method, tail)
    assert "overview (200, `exists: false`)" in refusing and "journal" in refusing
    async with client.get("/_mock/integrations/unseen/overview") as response:
        assert (response.status, (await response.json())["exists"]) == (200, False)
    async with client.get("/_mock/journal", params={"integration_id": "unseen"}) as response:
        assert (response.status, (await response.json())["entries"]) == (200, [])
    assert "a `DELETE` of it, its scenario or its settings is 204" in refusing
    for tail in ("", "/scenario", "/settings"):
        async with client.delete(f"/_mock/integrations/unseen{tail}") as response:
            assert response.status == 204, tail
    assert await integrations() == known  # no read (nor delete) made one

    bodies = {"/scenario": {"name": "x", "rules": []}, "/settings": {"processing_seconds": 0},
              "/clock/advance": {"seconds": 1}, "/clock/set": {"now": "2030-01-01T00:00:00Z"}}  # fmt: skip
    created = re.findall(r"`(PUT|POST) \.\.\.(/[a-z/]+)`", creating)
    assert {tail for _, tail in created} >= set(bodies), created
    for method, tail in created:
        if tail not in bodies:
            continue  # a state bundle, put back: docs/bundles.md
        integration = "made-by" + tail.replace("/", "-")
        async with client.request(method, f"/_mock/integrations/{integration}{tail}", json=bodies[tail]) as response:
            assert response.status < 500, (method, tail)
        known.add(integration)
    assert await integrations() == known
