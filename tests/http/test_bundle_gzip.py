"""A state bundle whose gzip (or deflate) does not decode is a bundle that cannot be read: 400
``invalid_state`` saying the stream is damaged, whether it came with ``Content-Encoding: gzip`` (as
``mock-sprinto state import FILE.gz`` sends it) or as the file's bytes as they are; nothing changes.
A vendor page's corrupt gzip stays 400 ``malformed_body`` (the vendor contract)."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest

from mock_sprinto.http import create_app

from ..helpers import Control, Vendor, user

GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
PLAIN = {"Content-Type": "application/json"}


def truncated(data: bytes) -> bytes:
    """A .gz cut short: its stream ends before its last block and trailer (a half-copied file)."""
    return gzip.compress(data)[:-12]


def corrupt(data: bytes) -> bytes:
    """A .gz whose compressed blocks are garbage after a valid header."""
    whole = gzip.compress(data)
    return whole[:10] + b"\xff" * 16 + whole[26:]


async def _bundle(vendor: Vendor, control: Control) -> tuple[dict[str, Any], dict[str, Any]]:
    """An integration's bundle and the whole emulator's, after a session was started."""
    await vendor.start()
    return await control.get("/integrations/acme/state"), await control.get("/state")


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (truncated, "damaged gzip: the compressed data ends too soon"),
        (corrupt, "damaged gzip: "),
    ],
)
@pytest.mark.parametrize("scope", ["integration", "server"])
async def test_a_damaged_gzip_bundle_sent_with_content_encoding_is_invalid_state(
    vendor: Vendor, control: Control, damage: Any, says: str, scope: str
) -> None:
    one, everything = await _bundle(vendor, control)
    path, document = ("/_mock/integrations/acme/state", one) if scope == "integration" else ("/_mock/state", everything)
    before = await control.get("/state")
    async with control.client.put(path, data=damage(orjson.dumps(document)), headers=GZIP) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_state"), problem
    assert problem["detail"].startswith("the state bundle is refused, nothing was changed: damaged gzip"), problem
    assert says in problem["detail"] and problem["errors"][0].startswith(says), problem
    assert "send the compressed page alone" not in problem["detail"]  # a vendor page's advice: no bundle is one
    assert "setting" not in problem, problem  # no setting lets a damaged bundle in
    assert await control.get("/state") == before


def _junk_after(data: bytes) -> bytes:
    return gzip.compress(data) + b"junk"


def _too_many_members(data: bytes) -> bytes:
    return gzip.compress(data) + gzip.compress(b"") * 1_000


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (truncated, "the compressed data ends too soon"),
        (corrupt, "not valid gzip data (Error -3 while decompressing data: "),
        (_junk_after, "4 bytes of data after the end of its gzip stream (from byte "),
        (_too_many_members, "more than 1000 members; compress it as one"),
    ],
)
async def test_the_same_damaged_gz_is_refused_alike_with_or_without_content_encoding(
    vendor: Vendor, control: Control, damage: Any, said: str
) -> None:
    """In the same words too: a reviewer found three of four said otherwise with the header."""
    one, _ = await _bundle(vendor, control)
    damaged = damage(orjson.dumps(one))
    answers = []
    for headers in (GZIP, PLAIN):
        async with control.client.put("/_mock/integrations/acme/state", data=damaged, headers=headers) as response:
            problem = await response.json()
        answers.append((response.status, problem["code"], problem["detail"]))
    assert answers[0] == answers[1], answers
    assert answers[0][:2] == (400, "invalid_state"), answers
    assert answers[0][2].startswith(f"the state bundle is refused, nothing was changed: damaged gzip: {said}"), answers


async def test_a_damaged_deflate_bundle_is_invalid_state_too(vendor: Vendor, control: Control) -> None:
    one, _ = await _bundle(vendor, control)
    headers = {"Content-Type": "application/json", "Content-Encoding": "deflate"}
    async with control.client.put(
        "/_mock/integrations/acme/state", data=zlib.compress(orjson.dumps(one))[:-8], headers=headers
    ) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_state"), problem
    assert "damaged deflate: the compressed data ends too soon" in problem["detail"], problem


async def test_a_whole_gzip_bundle_with_content_encoding_is_still_imported(vendor: Vendor, control: Control) -> None:
    one, _ = await _bundle(vendor, control)
    async with control.client.put(
        "/_mock/integrations/acme/state", data=gzip.compress(orjson.dumps(one)), headers=GZIP
    ) as response:
        assert response.status == 200, await response.text()


@pytest.mark.parametrize(("damage", "reason"), [(truncated, "truncated"), (corrupt, "corrupt gzip")])
async def test_a_vendor_pages_corrupt_gzip_stays_malformed_body(vendor: Vendor, damage: Any, reason: str) -> None:
    session = await vendor.start()
    page = orjson.dumps({"entities": {"User": [user(1)]}})
    async with vendor.client.post(
        vendor.url(f"/sessions/{session['id']}/entities"),
        data=damage(page),
        headers={**GZIP, **vendor.headers},
    ) as response:
        problem = await response.json()
    assert (response.status, problem["code"], problem["reason"]) == (400, "malformed_body", reason), problem


async def test_a_plainly_served_app_still_says_how_to_serve_it(aiohttp_client: Any, emulator: Any) -> None:
    """aiohttp's own TestServer decodes bodies itself: a whole gzip bundle reaches the emulator decoded,
    and its failing to decode again is the server's to fix, not the bundle's (400 ``malformed_body``)."""
    client = await aiohttp_client(create_app(emulator))
    await Vendor(client).start()
    one = await Control(client).get("/integrations/acme/state")
    async with client.put(
        "/_mock/integrations/acme/state", data=gzip.compress(orjson.dumps(one)), headers=GZIP
    ) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "malformed_body"), problem
    assert "EmulatorRunner" in problem["detail"], problem


@pytest.mark.parametrize("headers", [GZIP, PLAIN], ids=["content-encoding", "as-they-are"])
async def test_junk_after_a_gzip_bundle_is_invalid_state_sent_either_way(
    vendor: Vendor, control: Control, headers: dict[str, str]
) -> None:
    """Only the first gzip member was read from a .gz sent as it is: junk after it was imported."""
    one, _ = await _bundle(vendor, control)
    whole = gzip.compress(orjson.dumps(one))
    before = await control.get("/state")
    async with control.client.put("/_mock/integrations/acme/state", data=whole + b"junk", headers=headers) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "invalid_state"), problem
    assert problem["detail"].startswith("the state bundle is refused, nothing was changed: damaged gzip: "), problem
    assert f"4 bytes of data after the end of its gzip stream (from byte {len(whole)})" in problem["detail"], problem
    assert await control.get("/state") == before


@pytest.mark.parametrize("headers", [GZIP, PLAIN], ids=["content-encoding", "as-they-are"])
async def test_a_bundle_of_several_gzip_members_is_imported_sent_either_way(
    vendor: Vendor, control: Control, headers: dict[str, str]
) -> None:
    """RFC 1952 allows several members (``cat a.gz b.gz``): sent as they are, only the first was read."""
    one, _ = await _bundle(vendor, control)
    raw = orjson.dumps(one)
    half = len(raw) // 2
    two = gzip.compress(raw[:half]) + gzip.compress(raw[half:]) + b"\x00" * 8
    async with control.client.put("/_mock/integrations/acme/state", data=two, headers=headers) as response:
        assert response.status == 200, await response.text()


@pytest.mark.parametrize(("path", "code"), [("/_mock/state", "invalid_state"), ("/_mock/judge", "invalid_har")])
async def test_a_document_sent_uncompressed_with_content_encoding_gzip_is_told_so(
    control: Control, path: str, code: str
) -> None:
    """The document may be fine and the header wrong: the refusal asks, where it said only that
    the gzip was damaged ("incorrect header check")."""
    method = control.client.put if path == "/_mock/state" else control.client.post
    async with method(path, data=b'{"format": "mock-sprinto-state"}', headers=GZIP) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, code), problem
    assert "incorrect header check" in problem["detail"], problem
    assert problem["detail"].endswith("; was the document sent uncompressed with 'Content-Encoding: gzip'?"), problem
