"""A HAR posted to ``POST /_mock/judge`` with ``Content-Encoding: gzip`` (or deflate) that arrived
whole but whose stream does not decode is a HAR that cannot be read: 400 ``invalid_har`` saying the
stream is damaged, as a damaged state bundle is ``invalid_state`` (the same code in
``http/bundles.py``'s ``_large_body`` refuses both), not the vendor API's ``malformed_body`` with its
advice for a page. ``mock-sprinto judge FILE`` reads no ``.har.gz`` itself: a damaged one is told to
be gzip, in one line, never a traceback."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from mock_sprinto.cli import main
from mock_sprinto.exitcodes import USAGE_ERROR
from mock_sprinto.http import create_app

from ..helpers import Control, Vendor
from .test_bundle_gzip import corrupt, truncated

GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def trailed(data: bytes) -> bytes:
    """A whole gzip member, then bytes that begin no member (a tool appended to the file)."""
    return gzip.compress(data) + b"junk"


async def _har(vendor: Vendor, control: Control) -> bytes:
    await vendor.start()
    return orjson.dumps(await control.get("/journal.har?integration_id=acme"))


async def _judged(control: Control, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with control.client.post("/_mock/judge", data=body, headers=headers) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (truncated, "the HAR's gzip stream is damaged: the compressed data ends too soon"),
        (corrupt, "the HAR's gzip stream is damaged: not valid gzip data ("),
        (trailed, "the HAR's gzip stream is damaged: 4 bytes of data after the end of its gzip"),
    ],
)
async def test_a_damaged_gzip_har_is_invalid_har_saying_the_stream_is_damaged(
    vendor: Vendor, control: Control, damage: Any, says: str
) -> None:
    status, problem = await _judged(control, damage(await _har(vendor, control)), GZIP)
    assert (status, problem["code"]) == (400, "invalid_har"), problem
    assert problem["detail"].startswith(says), problem
    assert problem["errors"] == [problem["detail"]], problem
    assert "send the compressed page alone" not in problem["detail"]  # a vendor page's advice: no HAR is one
    assert "setting" not in problem, problem  # no setting makes a damaged stream readable


async def test_a_damaged_deflate_har_is_invalid_har_too(vendor: Vendor, control: Control) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "deflate"}
    status, problem = await _judged(control, zlib.compress(await _har(vendor, control))[:-8], headers)
    assert (status, problem["code"]) == (400, "invalid_har"), problem
    assert problem["detail"] == "the HAR's deflate stream is damaged: the compressed data ends too soon", problem


async def test_a_whole_gzip_har_is_still_judged(vendor: Vendor, control: Control) -> None:
    status, judged = await _judged(control, gzip.compress(await _har(vendor, control)), GZIP)
    assert status == 200 and judged["integrations"][0]["integration_id"] == "acme", judged


async def test_a_plainly_served_app_still_says_how_to_serve_it(aiohttp_client: Any, emulator: Any) -> None:
    """aiohttp's own TestServer decodes bodies itself: the server is to fix, not the HAR."""
    client = await aiohttp_client(create_app(emulator))
    await Vendor(client).start()
    har = orjson.dumps(await Control(client).get("/journal.har?integration_id=acme"))
    async with client.post("/_mock/judge", data=gzip.compress(har), headers=GZIP) as response:
        problem = await response.json()
    assert (response.status, problem["code"]) == (400, "malformed_body"), problem
    assert "EmulatorRunner" in problem["detail"], problem


@pytest.mark.parametrize("damage", [truncated, corrupt, trailed])
def test_the_judge_command_tells_a_damaged_har_gz_is_gzip_without_a_traceback(
    damage: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command reads no gzip itself (docs/judge-har.md): whole or damaged, a .har.gz is told to be
    gzip, one usage error (exit 2), as a whole one is."""
    path = tmp_path / "traffic.har.gz"
    path.write_bytes(damage(orjson.dumps({"log": {"version": "1.2", "entries": []}})))
    code = main(["judge", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (USAGE_ERROR, ""), (code, out, err)
    assert err == (
        f"mock-sprinto judge: error: {path}: the HAR is gzip-compressed: decompress it first (gunzip "
        "FILE.har.gz), or POST it to /_mock/judge with Content-Encoding: gzip\n"
    )
