"""Issue 22: nothing stalls the loop. A large page's copies on the workers give the GIL up.

The event loop waits for the GIL at each of its syscalls; a worker copying a 24 MB page with the GIL
held keeps it waiting for the whole copy. Each test here failed on the code before its fix."""

from __future__ import annotations

import gzip
import io
import sys
from types import FrameType
from typing import Any

from mock_sprinto import judging
from mock_sprinto.http import body as body_module


def test_the_page_goes_down_the_judges_pipe_as_it_is() -> None:
    """Before: the page was pickled into one message with its settings, a copy of 24 MB made with
    the GIL held (the loop waited up to ~17 ms for it while floods were judged); the pipe's own
    writes give the GIL up."""
    writes: list[bytes] = []

    class Pipe(io.BytesIO):
        def write(self, data: Any) -> int:
            writes.append(data)
            return super().write(data)

    pipe = Pipe()
    raw = b'{"entities": {"Blob": [{"notes": "' + b"a" * 2_000_000 + b'"}]}}'
    judging._write(pipe, (("schemas",), "settings"), raw)
    assert any(data is raw for data in writes)  # handed to the pipe, not copied into a message
    pipe.seek(0)
    assert judging._read(pipe) == ((("schemas",), "settings"), raw)
    empty = io.BytesIO()
    judging._write(empty, ("verdict", "digest"))  # the child's answer has no bytes after it
    empty.seek(0)
    assert judging._read(empty) == (("verdict", "digest"), b"")


def test_a_large_decoded_page_is_put_together_by_one_bytes_join() -> None:
    """bytes.join copies a result over 1 MiB with the GIL released. Before: each decoded step was
    added to a bytearray, then the whole copied into bytes, both with the GIL held (~15 ms for a
    flooder's 24 MB page, which the loop waited for while a worker inflated it)."""
    joins: list[int] = []

    def watch(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") == "join" and getattr(arg, "__self__", None) == b"":
            joins.append(1)

    page = b'{"entities": {"Blob": [{"notes": "' + b"a" * 3_000_000 + b'"}]}}'
    wire = gzip.compress(page[:1_000_000], mtime=0) + gzip.compress(page[1_000_000:], mtime=0)  # two members
    sys.setprofile(watch)
    try:
        decoded = body_module.inflate(wire, "gzip", 10_000_000)
    finally:
        sys.setprofile(None)
    assert decoded == page and type(decoded) is bytes
    assert len(joins) == 1
