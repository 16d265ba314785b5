"""``format_time`` formats the date and time of day once per second (issue 21); what it prints
must stay exactly what ``datetime.fromtimestamp`` reads from the float."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from mock_sprinto.clock import MAX_TIME, MIN_TIME, format_time, parse_time


def _by_datetime(ts: float) -> str:
    moment = datetime.fromtimestamp(min(max(ts, MIN_TIME), MAX_TIME), tz=timezone.utc)
    # isoformat, not strftime: strftime writes a year before 1000 without its zeros.
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + f".{moment.microsecond // 1000:03d}Z"


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(1.9999995)  # rounds up into the next second
@example(1.99999949)
@example(-0.0000005)
@example(1764844800.0005)
@example(MAX_TIME + 5)
@example(MIN_TIME - 5)
def test_a_time_prints_as_datetime_reads_it(ts: float) -> None:
    assert format_time(ts) == _by_datetime(ts)


@given(st.integers(min_value=0, max_value=2_000_000_000), st.integers(min_value=0, max_value=999_999))
def test_every_microsecond_of_a_second_prints_as_datetime_reads_it(second: int, micro: int) -> None:
    ts = second + micro / 1_000_000
    assert format_time(ts) == _by_datetime(ts)


def test_a_year_before_1000_keeps_its_four_digits() -> None:
    # RFC 3339 writes four digits of year; the clock may be set as far back as year 1.
    assert format_time(MIN_TIME) == "0001-01-01T00:00:00.000Z"
    assert format_time(-50_000_000_000.0) == "0385-07-25T07:06:40.000Z"


def test_any_number_of_digits_of_a_second_is_read() -> None:
    # RFC 3339 sets no number of digits; CPython 3.10's fromisoformat read only 3 or 6 (the
    # control plane's clock/set refused "0063-08-01T10:59:03.0Z" there).
    assert parse_time("2030-01-01T00:00:00.5Z") == parse_time("2030-01-01T00:00:00.500000Z") == 1893456000.5
    assert parse_time("2030-01-01T01:00:00.1234567+01:00") == 1893456000.123456
    assert format_time(parse_time("0063-08-01T10:59:03.0Z")) == "0063-08-01T10:59:03.000Z"
