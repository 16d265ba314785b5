"""A large document sent as pieces (``mock_sprinto.pieces``): rebuilt exactly, never parsed much at
once, and freed a chunk at a time."""

from __future__ import annotations

import copy
import gc
import sys
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_sprinto import pieces, steps

WHOLE = st.integers(-(2**63), 2**63 - 1)
SCALARS = st.none() | st.booleans() | WHOLE | st.floats(allow_nan=False) | st.text(max_size=30)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=8), inner, max_size=8),
    max_leaves=300,
)


@settings(max_examples=200, deadline=None)
@given(document=DOCUMENTS, chunk_bytes=st.integers(1, 400))
def test_a_split_document_joins_to_the_same_document(document: Any, chunk_bytes: int) -> None:
    kept = copy.deepcopy(document)
    split = pieces.split(document, chunk_bytes)
    joined = pieces.joined(split)
    assert orjson.dumps(joined.document) == orjson.dumps(kept)
    joined.let_go()
    assert joined.document is None


def test_no_chunk_is_much_longer_than_asked_unless_one_item_is() -> None:
    """A journal of 2,000 entries, each with a list of its own: every chunk holds what fits in
    4 KB, and an entry too long for one is sent with its long list emptied and split in its turn."""
    journal = [{"id": i, "headers": [["name", "value"]] * 3, "body": "x" * 100} for i in range(2_000)]
    journal[7]["headers"] = [["long", "y" * 50]] * 400  # ~24 KB: longer than a chunk by itself
    document = {"format": "f", "journal": journal}
    kept = copy.deepcopy(document)
    split = pieces.split(document, 4_096)
    assert len(split.skeleton) < 100
    assert [path for path, _ in split.lists] == [("journal",), ("journal", 7, "headers")]
    longest = max(len(chunk) for _, chunks in split.lists for chunk in chunks)
    assert longest <= 4_096 + 300  # one item's length past the limit at most
    assert pieces.joined(split).document == kept


def test_a_joined_document_is_freed_a_chunk_at_a_time() -> None:
    document = {"rows": [{"i": i, "tags": ["a", "b"]} for i in range(3_000)]}
    split = pieces.split(copy.deepcopy(document), 2_048)
    joined = pieces.joined(split)
    rows = joined.document["rows"]
    lengths: list[int] = []

    class Watched(list):  # type: ignore[type-arg]
        def __delitem__(self, index: Any) -> None:
            lengths.append(len(self))
            super().__delitem__(index)

    joined.document["rows"] = Watched(rows)
    del rows
    joined.let_go()
    assert len(lengths) == len(joined.slices[0][1]) > 20  # one deletion a chunk, not one of the whole
    assert lengths[0] == 3_000 and lengths[-1] < 100
    assert joined.document is None


def test_a_heavy_job_looks_at_what_it_builds_in_young_passes_and_puts_the_thresholds_back() -> None:
    """A job's full collections walked everything it built with the GIL held (20-120 ms each on a
    slow machine, four in a full journal's import); with the collector off instead, one young
    collection of all it kept ran after it, one C call of 23-28 ms there. Young passes only: the
    job's plain tuples (a journal's rows) are untracked while it runs, and nothing is left waiting."""
    before = gc.get_threshold()

    def build() -> tuple[list[tuple[int, str]], tuple[int, int, int], int]:
        rows = [(number, "x") for number in range(50_000)]  # a row: a tuple of plain values
        return rows, gc.get_threshold(), gc.get_count()[0]

    rows, during, waiting = steps._as_heavy_job(build)
    # looked at once, and let go by the collector (all but the last few hundred, not looked at yet)
    assert not any(map(gc.is_tracked, rows[:40_000:1_000]))
    assert waiting <= before[0]  # no young collection of everything waits for the job's end
    assert during[0] == before[0] and min(during[1:]) > 1_000_000  # the older generations wait
    assert gc.get_threshold() == before


def test_a_heavy_job_hands_the_gil_over_ten_times_as_often_and_puts_the_interval_back() -> None:
    """Behind a thread running Python, the loop waited up to 5 ms (CPython's interval) each time it
    took the GIL back after a syscall: ~80 waits over 3 ms in one import of a full journal's bundle."""
    before = sys.getswitchinterval()
    assert steps._as_heavy_job(sys.getswitchinterval) == steps.HEAVY_JOB_SWITCH_SECONDS < before
    assert sys.getswitchinterval() == before


def test_a_document_nested_past_the_split_depth_is_sent_whole_below_it() -> None:
    """Each level over a chunk: split all the way down, each level was serialized again (200
    levels: 200 times the document)."""
    document: Any = ["x" * 5_000]
    for _ in range(200):
        document = [document, "y"]
    kept = copy.deepcopy(document)
    split = pieces.split(document, 4_096)
    assert max(len(path) for path, _ in split.lists) < pieces.MAX_SPLIT_DEPTH
    assert pieces.joined(split).document == kept
