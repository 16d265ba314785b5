"""A verification is made a step of the loop at a time, and a crafted sequence's cost is bounded: a
hundred steps of "99+" over a full journal tried 5·10^7 matchers in one step of the loop (26 s while
every other client of the server waited)."""

from __future__ import annotations

from mock_sprinto.verify import MATCHES_PER_STEP, MAX_SEQUENCE_MATCHES, Request, parse, verify


def statuses(n: int) -> list[Request]:
    return [
        Request(i, f"req_{i}", "integration_status", 200, None, None, None, None, None, None) for i in range(1, n + 1)
    ]


def run(document: object, requests: list[Request]) -> tuple[int, list[str]]:
    """How many steps the verification took, and its failures' messages."""
    steps = verify(parse(document), requests)
    taken = 0
    try:
        while True:
            next(steps)
            taken += 1
    except StopIteration as done:
        return taken, [failure.message for failure in done.value]


def test_a_sequence_followed_in_thousands_of_ways_is_refused_within_its_bound() -> None:
    taken, failures = run({"sequence": [{"operation": "any", "repeat": "99+"}] * 100}, statuses(10_000))
    (message,) = failures
    assert "too many to follow through 10000 requests" in message and "make its steps more specific" in message
    assert taken >= MAX_SEQUENCE_MATCHES // MATCHES_PER_STEP  # the loop had its turns meanwhile


def test_counts_and_only_over_a_full_journal_take_steps_too() -> None:
    counts = [{"operation": "push_page", "at_least": 0}] * 100
    taken, failures = run({"counts": counts, "only": True}, statuses(10_000))
    assert failures == ["10000 unexpected request(s): " + "; ".join(r.line() for r in statuses(20)) + "; and 9980 more"]
    assert taken >= 100 * 10_000 // MATCHES_PER_STEP


def test_a_usual_sequence_is_followed_to_its_end() -> None:
    sequence = [{"operation": "integration_status", "repeat": "+"}]
    assert run({"sequence": sequence, "only": True}, statuses(10_000))[1] == []
