"""Long reads made a step at a time, so a server's other clients are answered between the steps.

A control read that judges or lists a busy integration's whole history (the judge's report, which
the dashboard asks for every second; a verification; the sessions or the activity of a full
journal) took 60-150 ms of one step of the event loop on a full journal, while every client of
every integration waited (issue 21: "no pause over 20 ms"). Such a read is written as a generator
that yields between its parts and returns its answer: the HTTP route runs it with ``stepped``,
giving the loop a turn at each yield, and every other caller (a test, ``serve``'s summary on
Ctrl-C, the pytest plugin) with ``finished``, all at once. What a stepped read judges is chosen in
its first step (the journal's rows, a snapshot of the sessions), so its answer is what it would
have been at that instant, whatever the loop answers meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")
Steps = Generator[None, None, T]


def finished(steps: Steps[T]) -> T:
    """The answer of ``steps``, every step run now."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def stepped(steps: Steps[T]) -> T:
    """The answer of ``steps``, the loop's other work given a turn after each step."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        await asyncio.sleep(0)
