"""Long reads made a step at a time, and heavy control jobs made off the loop, so a server's other
clients are answered meanwhile.

A control read that judges or lists a busy integration's whole history (the judge's report, which
the dashboard asks for every second; a verification; the sessions or the activity of a full
journal) took 60-150 ms of one step of the event loop on a full journal, while every client of
every integration waited (issue 21: "no pause over 20 ms"). Such a read is written as a generator
that yields between its parts and returns its answer: the HTTP route runs it with ``stepped``,
giving the loop a turn at each yield, and every other caller (a test, ``serve``'s summary on
Ctrl-C, the pytest plugin) with ``finished``, all at once. What a stepped read judges is chosen in
its first step (the journal's rows, a snapshot of the sessions), so its answer is what it would
have been at that instant, whatever the loop answers meanwhile.

A job that is one pure computation over a large document (a state bundle checked and built, a HAR
judged: ~1-2 s for a full journal's) runs on a thread of its own instead (``off_loop``), one at a
time (``heavy_turn``, taken once the job's body is read: taken before, a client sending its body a
byte at a time held every later job, each queued one's body deadline starting only with its turn).
Few of those bodies are read or held at once (``heavy_bodies``), so the memory they hold stays
bounded while a slow uploader holds none of the others. Its Python gives the loop the GIL back every
few ms. Its long C calls are made in a child process when the document is large (``offload.py``:
orjson parsing 15 MB held the GIL ~110 ms on a slow machine); while it runs, the collector makes
young passes only and the GIL changes hands ten times as often (``_as_heavy_job``).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

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
    """The answer of ``steps``, the loop's other work given a turn after each step. One stepped read
    at a time (``_turn``): each holds what it judges (a full journal's entries, ~10,000), and many at
    once would hold that many copies, where reads made in one step held one."""
    async with _turn(_reading):
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            await asyncio.sleep(0)


_worker: ThreadPoolExecutor | None = None
_reading: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_heavy: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _turn(turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]) -> asyncio.Lock:
    """The running loop's lock among ``turns`` (a lock serves one loop: a server on another loop
    later gets its own)."""
    loop = asyncio.get_running_loop()
    turn = turns.get(loop)
    if turn is None:
        turn = turns[loop] = asyncio.Lock()
    return turn


def heavy_turn() -> asyncio.Lock:
    """The running loop's turn for heavy control jobs (``off_loop``): one at a time. Taken with the
    job's body in hand, so what holds it is the job (CPU), never a client's upload."""
    return _turn(_heavy)


# The large bodies of heavy jobs (over ``SMALL_HEAVY_BODY_BYTES`` on the wire, compressed, or of
# unknown length) read or held at once, from their first byte to their job's end: one in its job,
# one read meanwhile, so one client trickling its body holds up no one, and what they hold is at
# most two documents (up to ``max_state_bytes`` each, decoded), not one for each client waiting.
HEAVY_BODIES = 2
# A body this small, sent as it is, is read at once, with no place among ``HEAVY_BODIES``: a queue
# of them behind the heavy turn holds at most this much a connection (64 MiB at max_connections).
SMALL_HEAVY_BODY_BYTES = 64 * 1024
_bodies: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def heavy_bodies() -> asyncio.Semaphore:
    """The running loop's places for large bodies of heavy jobs (``HEAVY_BODIES``)."""
    loop = asyncio.get_running_loop()
    places = _bodies.get(loop)
    if places is None:
        places = _bodies[loop] = asyncio.Semaphore(HEAVY_BODIES)
    return places


async def off_loop(job: Callable[..., T], *args: Any) -> T:
    """``job(*args)`` on the heavy-job thread (one a process), the loop free meanwhile. ``job`` reads
    nothing the loop changes (it builds new objects from its arguments)."""
    return await asyncio.get_running_loop().run_in_executor(_heavy_worker(), _as_heavy_job, job, *args)


def _heavy_worker() -> ThreadPoolExecutor:
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(1, thread_name_prefix="mock-sprinto-control")
    return _worker


# How many items ``let_go`` frees at once: ~1 ms of a slow machine for a journal's rows.
LET_GO_ITEMS = 1_000


def let_go(items: list[Any]) -> None:
    """Free ``items``, which nothing else needs, on the heavy-job thread ``LET_GO_ITEMS`` at a time,
    without waiting: the loop answers between two deletions (a full journal's rows, freed at once,
    held it 8-9 ms on a slow machine). The list is emptied; ``items`` must not be used again."""
    if items:
        _heavy_worker().submit(_as_heavy_job, _delete_in_pieces, items)


def _delete_in_pieces(items: list[Any]) -> None:
    while items:
        del items[-LET_GO_ITEMS:]


# How often a thread holding the GIL is asked to hand it over while a heavy job runs (CPython's
# default is 5 ms). The loop gives the GIL up at each syscall and waits to get it back: behind a
# thread running Python, up to a whole interval each time, so a request of a few syscalls waited
# several times 5 ms (a ticker thread in the server saw ~80 gaps over 3 ms in one import of a full
# journal's bundle, 2-3 at 0.5 ms, the job no slower).
HEAVY_JOB_SWITCH_SECONDS = 0.0005


# While a heavy job runs, the collector makes young passes only: what the job builds is looked at
# once, ~700 objects at a time, and the plain tuples among it (a journal's rows) leave the collector
# for good; the older generations wait for the job's end (see ``_as_heavy_job``).
_NEVER = 1 << 30


def _as_heavy_job(job: Callable[..., T], *args: Any) -> T:
    """``job(*args)`` with young collections only and the GIL handed over every
    ``HEAVY_JOB_SWITCH_SECONDS``; both put back as they were after it (only this thread runs jobs,
    one at a time).

    The collector: a job builds millions of objects (a full journal's bundle), and each full
    collection it set off walked all of them with the GIL held: four of 20-120 ms in one import on a
    slow machine, every client of the server waiting. With the collector off instead, the one young
    collection of everything the job kept ran after it: 23-28 ms there, one C call. Young passes
    alone, each under 1 ms there, look at each new object once while the job runs (~40 ms in all,
    in ~400 pieces the GIL passes between); after the job, what is left for the next middle
    collection is the few thousand objects still tracked (~3 ms)."""
    thresholds = gc.get_threshold()
    interval = sys.getswitchinterval()
    gc.set_threshold(thresholds[0], _NEVER, _NEVER)
    sys.setswitchinterval(min(interval, HEAVY_JOB_SWITCH_SECONDS))
    try:
        return job(*args)
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
