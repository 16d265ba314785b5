"""A ``.gz`` bundle read as its bytes (sent without ``Content-Encoding``, or given to ``serve --state``
or ``--persist``: ``bundle._gunzip``) follows the vendor door's rule for a gzip body
(``http/body.py``'s ``inflate``): several members one after another are read as one stream (RFC
1952), NUL padding after the last is ignored, and bytes after a member that begin no member are a
damaged gzip (400 ``invalid_state``). Only the first member was read, and anything after it ignored:
trailing junk was accepted, and a bundle of two members was refused as not JSON, while the same
bytes sent with ``Content-Encoding: gzip`` were refused and read. The size bound still holds across
members: a bomb is refused at ``max_state_bytes``, never inflated whole."""

from __future__ import annotations

import gzip
import subprocess
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from mock_sprinto import bundle
from mock_sprinto.coding import MAX_GZIP_MEMBERS
from mock_sprinto.errors import ApiError

from ..e2e.test_cli import CLI

DOCUMENT = {"format": "mock-sprinto-state", "version": 1, "scope": "integration", "note": "x" * 200}
RAW = orjson.dumps(DOCUMENT)


def decoded(data: bytes, limit: int = 1 << 20) -> Any:
    return bundle.decode(data, limit, 64)


def refusal(data: bytes, limit: int = 1 << 20) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decoded(data, limit)
    return caught.value


def members(data: bytes, cuts: int) -> bytes:
    """``data`` gzip-compressed as ``cuts`` members, one after another (as ``cat a.gz b.gz`` writes)."""
    size = -(-len(data) // cuts)
    return b"".join(gzip.compress(data[at : at + size]) for at in range(0, len(data), size))


@pytest.mark.parametrize("cuts", [2, 3, 17])
def test_several_members_are_read_as_one_stream(cuts: int) -> None:
    assert decoded(members(RAW, cuts)) == DOCUMENT


def test_nul_padding_after_the_last_member_is_ignored() -> None:
    assert decoded(gzip.compress(RAW) + b"\x00" * 512) == DOCUMENT


@pytest.mark.parametrize("junk", [b"junk", b"\n", b"\x00\x00x", b"\x1f"])
def test_bytes_after_a_member_that_begin_no_member_are_a_damaged_gzip(junk: bytes) -> None:
    whole = gzip.compress(RAW)
    error = refusal(whole + junk)
    said = f"damaged gzip: {len(junk)} bytes of data after the end of its gzip stream (from byte {len(whole)})"
    assert (error.status, error.code, error.extra["errors"]) == (400, "invalid_state", [said]), error.detail
    assert error.detail == f"the state bundle is refused, nothing was changed: {said}"


def test_a_member_after_the_first_that_is_cut_short_is_a_damaged_gzip() -> None:
    error = refusal(gzip.compress(RAW) + gzip.compress(b" ")[:-6])
    assert error.extra["errors"] == ["damaged gzip: the compressed data ends too soon"], error.detail


def test_a_corrupt_member_after_the_first_is_a_damaged_gzip() -> None:
    second = gzip.compress(b" " * 100)
    error = refusal(gzip.compress(RAW) + second[:10] + b"\xff" * 16 + second[26:])
    said = error.extra["errors"][0]
    assert error.code == "invalid_state" and said.startswith("damaged gzip: not valid gzip data (Error -3"), said


def test_more_members_than_the_vendor_door_reads_are_refused_as_it_refuses_them() -> None:
    empty = gzip.compress(b"")
    assert decoded(gzip.compress(RAW) + empty * (MAX_GZIP_MEMBERS - 1)) == DOCUMENT
    error = refusal(gzip.compress(RAW) + empty * MAX_GZIP_MEMBERS)
    assert error.code == "invalid_state", error.detail
    assert error.extra["errors"] == [f"damaged gzip: more than {MAX_GZIP_MEMBERS} members; compress it as one"], (
        error.detail
    )


@pytest.mark.parametrize("where", ["first", "second"])
def test_a_bomb_is_refused_by_size_in_any_member_before_it_is_inflated_whole(where: str) -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    mebibyte = b" " * (1 << 20)
    body = b"".join(bomb.compress(mebibyte) for _ in range(64)) + bomb.flush()  # 64 MiB in ~64 KB
    data = body if where == "first" else gzip.compress(RAW) + body
    limit = 1 << 20
    tracemalloc.start()
    try:
        error = refusal(data, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (error.status, error.code, error.setting) == (413, "payload_too_large", "max_state_bytes"), error.detail
    assert "once decoded" in error.detail
    assert peak < 16 * limit, peak  # what was inflated stopped near the bound: not 64 MiB


def test_serve_refuses_a_state_file_with_junk_after_its_gzip_before_serving(tmp_path: Path) -> None:
    damaged = tmp_path / "acme.state.json.gz"
    damaged.write_bytes(gzip.compress(RAW) + b"junk")
    result = subprocess.run(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", "0", "--state", str(damaged)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"mock-sprinto: error: state {damaged}: the state bundle is refused, nothing was changed: damaged gzip: 4 "
        "bytes of data after the end of its gzip stream"
    ) in result.stderr
