"""An accepted page's note is sized by arithmetic; it must count what ``approx_bytes`` counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mock_sprinto.budget import approx_bytes
from mock_sprinto.store import accepted_details_bytes

names = st.text(min_size=1, max_size=70)
counts = st.dictionaries(names, st.integers(min_value=0, max_value=10**12), max_size=6)


@given(page=st.integers(min_value=1, max_value=10**12), counts=counts, request_id=st.text(max_size=140))
def test_the_arithmetic_counts_what_the_walk_counts(page: int, counts: dict[str, int], request_id: str) -> None:
    details = {"page": page, "counts_by_entity": counts, "request_id": request_id}
    assert accepted_details_bytes(page, counts, request_id) == approx_bytes(details)
