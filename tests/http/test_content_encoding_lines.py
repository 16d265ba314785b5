"""A Content-Encoding sent on two header lines is one list (RFC 9110 5.3): ``gzip`` and ``gzip``
means gzip twice, refused 415 as ``gzip, gzip`` on one line is. Read from its first line alone, a
page gzipped once was staged under ``gzip`` + ``br``, and ``identity`` + ``gzip`` was a misleading
400 about the body."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from ..helpers import Vendor, user


@pytest.mark.parametrize("lines", [("gzip", "gzip"), ("gzip", "br"), ("identity", "gzip"), ("gzip, gzip",)])
async def test_every_content_encoding_line_is_read(
    client: TestClient[Any, Any], vendor: Vendor, lines: tuple[str, ...]
) -> None:
    session = await vendor.start()
    body = gzip.compress(orjson.dumps({"entities": {"User": [user(1)]}}))
    headers = CIMultiDict(vendor.headers)
    headers["Content-Type"] = "application/json"
    for line in lines:
        headers.add("Content-Encoding", line)
    async with client.post(vendor.url(f"/sessions/{session['id']}/entities"), data=body, headers=headers) as response:
        answer = await response.json()
    assert (response.status, answer["code"]) == (415, "unsupported_content_encoding")
    assert ", ".join(lines) in answer["detail"]
    assert (await vendor.session(session["id"]))["accepted_batches"] == 0


async def test_one_gzip_line_is_still_gzip(client: TestClient[Any, Any], vendor: Vendor) -> None:
    session = await vendor.start()
    body = gzip.compress(orjson.dumps({"entities": {"User": [user(1)]}}))
    headers = {**vendor.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    async with client.post(vendor.url(f"/sessions/{session['id']}/entities"), data=body, headers=headers) as response:
        assert response.status == 202
