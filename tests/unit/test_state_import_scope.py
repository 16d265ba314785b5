"""``state import FILE`` reads a bundle's scope (and, of one integration, its id) to choose the
endpoint it PUTs to. It inflated and parsed the whole file for that, bounded only by a thousand
times its size: a gzip bomb after a real bundle (a second gzip member, read since bundles of
several members are) took the command to ~500 MB before the server refused the bundle by size. A
bundle is now read whole only up to ``SCOPE_PEEK_BYTES``; past it, its scope and id are read off
its first bytes, where an export writes them."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

from mock_sprinto.statecli import SCOPE_PEEK_BYTES, _scope_of


def _bundle(scope: str = "integration", padding: int = 0, *, sorted_keys: bool = False) -> bytes:
    integration = {"id": 'acme "one"', "api_key": "k", "sessions": [], "padding": " " * padding}
    document = {"format": "mock-sprinto-state", "version": 1, "scope": scope, "integrations": [integration]}
    return json.dumps(document, sort_keys=sorted_keys).encode()


def _spaces_gz(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    return b"".join([*(packer.compress(chunk) for _ in range(megabytes)), packer.flush()])


def test_a_bomb_after_a_bundle_is_not_inflated_to_choose_the_endpoint() -> None:
    payload = gzip.compress(_bundle(), mtime=0) + _spaces_gz(64)
    tracemalloc.start()
    try:
        assert _scope_of(payload) == ("integration", 'acme "one"')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * SCOPE_PEEK_BYTES, peak  # it inflated 64 MiB before (the first call imports bundle.py: ~4 MiB)


def test_a_bomb_alone_is_sent_unread_for_the_server_to_refuse() -> None:
    payload = _spaces_gz(64)
    tracemalloc.start()
    try:
        assert _scope_of(payload) == (None, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * SCOPE_PEEK_BYTES, peak


def test_a_large_bundle_is_read_off_its_first_bytes_plain_or_gzip() -> None:
    large = _bundle(padding=3 * SCOPE_PEEK_BYTES)
    assert _scope_of(large) == ("integration", 'acme "one"')
    assert _scope_of(gzip.compress(large)) == ("integration", 'acme "one"')
    assert _scope_of(_bundle("server", padding=3 * SCOPE_PEEK_BYTES)) == ("server", 'acme "one"')


def test_a_large_bundle_whose_keys_a_tool_sorted_is_read_whole() -> None:
    """Sorted, the integration's id comes after its api_key: not where an export writes it."""
    large = _bundle(padding=2 * SCOPE_PEEK_BYTES, sorted_keys=True)
    assert large.index(b'"api_key"') < large.index(b'"id"')
    assert _scope_of(large) == ("integration", 'acme "one"')
    assert _scope_of(gzip.compress(large)) == ("integration", 'acme "one"')


def test_a_small_bundle_is_read_whole_as_before() -> None:
    assert _scope_of(_bundle(sorted_keys=True)) == ("integration", 'acme "one"')
    assert _scope_of(gzip.compress(_bundle("server"))) == ("server", 'acme "one"')
    assert _scope_of(b"not json") == (None, None)
