"""Emulator time: wall time plus offsets that only ever move forward.

The service reads time only through a Clock, so tests fast-forward expiry and processing by
moving the clock instead of sleeping. One tenant's offset never moves another tenant's time.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from datetime import datetime, timedelta
from typing import Protocol

from .codes import CLOCK_BACKWARDS, CLOCK_OUT_OF_RANGE, CLOCK_STEP_TOO_LARGE, INVALID_PARAMETER
from .errors import ApiError

# Ten years: enough for any retention test, small enough that timestamps stay printable.
MAX_STEP_SECONDS = 10 * 365 * 86400.0
# Timestamps are printed as RFC 3339 with a four-digit year: time never goes beyond this (or
# every response would fail to format its times), nor is a time before year 1 accepted.
MIN_TIME = -62_135_596_800.0  # 0001-01-01T00:00:00Z
MAX_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z


class _Turns(threading.local):
    """What the serving loop's selector wrapper (``http.server.time_loop_turns``) keeps of its turns,
    per thread (a pytest process may serve on several loops, each on its own thread)."""

    began: float | None = None  # perf_counter() when the current turn's select returned
    previous: float = 0.0  # how long the turn before it ran, select left out


LOOP_TURNS = _Turns()


def loop_busy_before() -> float | None:
    """Seconds the serving loop has been running since a request's bytes could have arrived: the
    whole turn before this one (bytes that came during it wait for this turn's select) and this
    turn so far. An upper bound on how long a request just let in waited its turn; None when the
    loop's turns are not timed (another loop than asyncio's selector loop)."""
    began = LOOP_TURNS.began
    return None if began is None else LOOP_TURNS.previous + (time.perf_counter() - began)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC."""
        ...


class SystemClock:
    """Wall time; looked up at call time so an in-process freezegun patch is honoured."""

    def now(self) -> float:
        return time.time()

    def stands_still(self) -> bool:
        """Whether freezegun's ``time.time`` is in force: an in-process emulator made under
        ``freeze_time`` reads the frozen time (as pytest.md shows), a manual clock in effect."""
        return str(getattr(time.time, "__module__", "")).startswith("freezegun")


class ManualClock:
    """Time that moves only when told to (tests, ``frozen_clock``)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


class OffsetClock:
    """A base clock plus a forward-only offset; never reports a time earlier than before."""

    def __init__(self, base: Clock) -> None:
        self._base = base
        # Wall time read here, without SystemClock's frame: a push reads its tenant's time six
        # times, through two offset clocks (benchmarks/ANALYSIS.md). ``time.time`` is still looked
        # up at each call, so freezegun's patch is honoured as SystemClock honours it.
        self._on_wall_time = type(base) is SystemClock
        self.offset = 0.0
        self._last = 0.0

    def now(self) -> float:
        # a tenant's offset on top of the global one
        current = (time.time() if self._on_wall_time else self._base.now()) + self.offset
        if current > MAX_TIME:
            current = MAX_TIME
        if current < self._last:
            # The base went backwards (NTP step, a test un-freezing time): hold still instead.
            return self._last
        self._last = current
        return current

    def stands_still(self) -> bool:
        """Whether the wall clock under this one is frozen (``SystemClock.stands_still``)."""
        base = self._base
        return isinstance(base, (OffsetClock, SystemClock)) and base.stands_still()

    def resume_at(self, when: float) -> None:
        """Stand at ``when`` from now on, earlier than before or not: a state bundle's clock, taken
        up by a fresh tenant's clock or by a wiped server (nothing read the later time since)."""
        self.offset += when - (self._base.now() + self.offset)
        self._last = min(when, MAX_TIME)

    def advance(self, seconds: float) -> float:
        check_step(seconds)
        current = self.now()
        if current + seconds > MAX_TIME:
            raise ApiError.of(
                CLOCK_OUT_OF_RANGE,
                f"the clock cannot pass {format_time(MAX_TIME)}; it is {format_time(current)}",
                now=format_time(current),
            )
        self.offset += seconds
        return self.now()

    def set(self, when: float) -> float:
        current = self.now()
        if when < current and format_time(when) == format_time(current):
            # The time the clock shows, cut to the millisecond, is where it stands: set to it (as a
            # test that read the clock does), it stays where it is rather than refusing 'backwards'.
            when = current
        if when < current:
            raise ApiError.of(
                CLOCK_BACKWARDS,
                f"the clock never moves backwards: {format_time(when)} is before {format_time(current)}",
                now=format_time(current),
            )
        if when - current > MAX_STEP_SECONDS:
            # 409, not 400: whether 'now' is acceptable depends on where the clock stands.
            raise ApiError.of(
                CLOCK_STEP_TOO_LARGE,
                f"the clock moves at most {MAX_STEP_SECONDS:.0f}s (ten years) a step: {format_time(when)} "
                f"is further ahead of {format_time(current)}",
                now=format_time(current),
            )
        return self.advance(when - current)


def check_step(seconds: float) -> None:
    if not (0 <= seconds <= MAX_STEP_SECONDS):
        raise ApiError.of(
            INVALID_PARAMETER,
            f"'seconds' must be between 0 and {MAX_STEP_SECONDS:.0f}, got {seconds!r}",
        )


def format_time(ts: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-01-01T00:00:00.000Z``. A time past the year 9999
    (an expiry or a retention far beyond the clock's end) prints as 9999-12-31T23:59:59.000Z.

    As ``datetime.fromtimestamp`` reads a float (microseconds rounded half to even), with the date
    and time of day formatted once per second: a request formats three or four times, and
    ``strftime`` each time was ~6 % of a start-session's CPU (issue 21)."""
    ts = min(max(ts, MIN_TIME), MAX_TIME)
    second = math.floor(ts)
    micro = round((ts - second) * 1_000_000)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    return f"{_second_of(second)}.{micro // 1000:03d}Z"


_EPOCH = datetime(1970, 1, 1)


@functools.lru_cache(maxsize=64)
def _second_of(second: int) -> str:
    # The fields written here, not by strftime: it writes a year before 1000 without its zeros
    # ("1-01-01", not RFC 3339's "0001-01-01"), and it leaves strings it makes in CPython's
    # type-attribute cache (an aware datetime's on every version, a naive one's on 3.13; issue 21:
    # ~100 strings, each made mid-run, kept 1 MiB pymalloc arenas alive after a reset).
    when = _EPOCH + timedelta(seconds=second)
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"


def forget_formatted_seconds() -> None:
    """Drop the cache of formatted seconds (``reset``: made during a run, between short-lived
    objects, its entries would keep otherwise empty pymalloc arenas alive)."""
    _second_of.cache_clear()


_FRACTION = re.compile(r"(?<=:\d\d)\.(\d+)")


def _six_digits(found: re.Match[str]) -> str:
    """A fraction of a second as microseconds: digits past the sixth dropped (as 3.11 and later do)."""
    return "." + (found.group(1) + "00000")[:6]


def parse_time(text: str) -> float:
    """Parse an RFC 3339 timestamp with an explicit offset; ValueError otherwise."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if "T" not in value and "t" not in value and " " not in value:
        raise ValueError("expected a date and a time")
    # RFC 3339 allows any number of digits of a second; CPython 3.10's fromisoformat only 3 or 6.
    value = _FRACTION.sub(_six_digits, value, count=1)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        # Python's own words name its internals ("offset must be a timedelta strictly between
        # -timedelta(hours=24)..."), which tell a client nothing about what to send.
        raise ValueError("a year of 4 digits, a real date and time, a UTC offset between -23:59 and +23:59") from None
    if moment.tzinfo is None:
        raise ValueError("expected a UTC offset such as 'Z' or '+00:00'")
    stamp = moment.timestamp()
    if not MIN_TIME <= stamp <= MAX_TIME:
        raise ValueError("out of range: the time must fall in the years 0001 to 9999 UTC")
    return stamp
