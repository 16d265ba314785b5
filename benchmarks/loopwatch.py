"""The server with a watch on its event loop: ``python -m benchmarks.loopwatch FILE serve ...``.

Runs ``mock-sprinto`` (the words after FILE) with every loop callback timed, and writes the
longest ones to FILE (JSON) when the server exits. A callback is one step of the loop: a
request handler up to its next ``await``, a background slice, a transport's read; no other
client is served while it runs. Each is timed twice: wall time, and the CPU the loop's thread
spent in it (``time.thread_time``). On a machine whose cores are shared, a wall time far above
its CPU time is the thread waiting for a core (or for the GIL a worker holds), not the step's own
work; the CPU time is what the step itself costs every other client.

The garbage collector's passes are timed too (``gc.callbacks``): by generation, the longest ones,
and in each long step the share its collections took. A collection runs inside whichever step
allocated past the threshold, so a long step may be the collector's and not the code it names.

``kill -USR1 PID`` appends the loop's tasks to FILE.tasks.txt, counted by where each one waits
(a task waiting on a client long gone shows there; that is how issue 21's 100-minute soak found
aiohttp's lingering reads holding places under the connection cap). ``kill -USR2 PID`` appends the
objects the collector tracks, by type and generation, to FILE.objects.txt (what a full collection
walks).

With ``LOOPWATCH_GARBAGE=FILE`` in its environment (``python -m benchmarks.soak --garbage FILE``)
the collector keeps what it finds unreachable (``gc.DEBUG_SAVEALL``) and the watch writes to FILE,
at exit, what each generation's passes found, by kind (an exception by its message, a frame by its
function): the census of cycles that says what a long collection was freeing. A diagnostic only:
the garbage is never freed, so the server's memory grows with it.

For the soak (benchmarks/soak.py): issue 22 asks that no single request keeps the loop busy for
more than ~100 ms, and health-check latency alone cannot tell a long step from queueing.
"""

from __future__ import annotations

import asyncio.events
import atexit
import collections
import gc
import heapq
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from .servers import GcLog

# The longest steps reported (the server's start and stop among them: the soak leaves those out);
# section 10 asks for more (LOOPWATCH_KEPT), to find each control read's longest step among a fill's.
KEPT = int(os.environ.get("LOOPWATCH_KEPT", "20"))
# The longest collections reported: more, as start-up's (imports, before ``gc.freeze``) are long ones.
KEPT_COLLECTIONS = 200


class Watch:
    def __init__(self) -> None:
        self.steps = 0
        # A heap of (cpu, wall, at, what, gc): the KEPT longest steps, gc the collections' share (s).
        self.longest: list[tuple[float, float, float, str, float]] = []
        self.collections = GcLog()
        self.after_step: Callable[[], None] | None = None  # a diagnostic's look between two steps

    def install(self) -> Callable[[], None]:
        """Time every step and every collection from now on; returns what puts things back."""
        run = asyncio.events.Handle._run
        thread_time, perf_counter, now, longest = time.thread_time, time.perf_counter, time.time, self.longest
        collections = self.collections

        def timed(handle: asyncio.events.Handle) -> None:
            frame = _frame_of(handle)  # before the step: a request handler's coroutine may end in it
            collected, cpu, wall = collections.seconds, thread_time(), perf_counter()
            run(handle)
            cpu, wall = thread_time() - cpu, perf_counter() - wall
            if self.after_step is not None:
                self.after_step()
            self.steps += 1
            if len(longest) < KEPT:
                heapq.heappush(longest, (cpu, wall, now(), _what(handle, frame), collections.seconds - collected))
            elif cpu > longest[0][0]:
                heapq.heapreplace(longest, (cpu, wall, now(), _what(handle, frame), collections.seconds - collected))

        asyncio.events.Handle._run = timed  # type: ignore[method-assign,assignment]
        gc.callbacks.append(collections)

        def uninstall() -> None:
            asyncio.events.Handle._run = run  # type: ignore[method-assign]
            gc.callbacks.remove(collections)

        return uninstall

    def report(self) -> dict[str, Any]:
        steps = sorted(self.longest, reverse=True)
        pauses = self.collections.pauses()
        since_epoch = time.time() - time.monotonic()  # the log's ends are monotonic, the steps' wall clock
        return {
            "steps": self.steps,
            "longest": [
                {"cpu_ms": cpu * 1000, "wall_ms": wall * 1000, "ended_at": at, "what": what, "gc_ms": collected * 1000}
                for cpu, wall, at, what, collected in steps
            ],
            "collections": {
                "by_generation": [sum(1 for p in pauses if p[1] == generation) for generation in range(3)],
                "ms_by_generation": [sum(p[2] for p in pauses if p[1] == generation) * 1000 for generation in range(3)],
                "longest": [
                    {
                        "ms": seconds * 1000,
                        "cpu_ms": cpu * 1000,
                        "generation": generation,
                        "ended_at": end + since_epoch,
                        "collected": freed,
                    }
                    for end, generation, seconds, cpu, freed in sorted(pauses, key=lambda p: p[2], reverse=True)[
                        :KEPT_COLLECTIONS
                    ]
                ],
            },
        }


def _frame_of(handle: asyncio.events.Handle) -> FrameType | None:
    """The frame of the coroutine a task's step runs (None for another callback)."""
    owner = getattr(getattr(handle, "_callback", None), "__self__", None)
    if isinstance(owner, asyncio.Task):
        frame: FrameType | None = getattr(owner.get_coro(), "cr_frame", None)
        return frame
    return None


def _what(handle: asyncio.events.Handle, frame: FrameType | None) -> str:
    """The callback, and for a task's step the coroutine it ran and, for aiohttp's request
    handler, which request."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coroutine = owner.get_coro()
        request: Any = frame.f_locals.get("request") if frame is not None else None
        asked = f" ({request.method} {request.path_qs[:100]})" if hasattr(request, "path_qs") else ""
        return f"task {getattr(coroutine, '__qualname__', coroutine)!s}{asked}"
    return repr(callback)[:160]


def _dump_tasks(target: str) -> None:
    """On SIGUSR1: every task the loop holds, grouped by where it waits (a task that waits
    forever keeps its connection in aiohttp's count after the client is gone)."""
    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:
        return
    waits: collections.Counter[str] = collections.Counter()
    for task in tasks:
        coroutine: Any = task.get_coro()
        outer = getattr(coroutine, "cr_frame", None)
        request: Any = outer.f_locals.get("request") if outer is not None else None
        asked = f" ({request.method} {request.path[:60]})" if hasattr(request, "path") else ""
        where = ""
        while coroutine is not None:
            frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
            if frame is not None:
                where = f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno} {frame.f_code.co_name}"
            coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
        waits[f"{where}{asked}"] += 1
    with open(target, "a", encoding="utf-8") as out:
        out.write(f"{time.strftime('%H:%M:%S')} {len(tasks)} tasks\n")
        for what, count in waits.most_common(25):
            out.write(f"  {count:6d}  {what}\n")


def _dump_objects(target: str) -> None:
    """On SIGUSR2: the objects the garbage collector tracks, counted by type and generation (what
    a full collection walks; ``gc.freeze()``'s start-up objects are not among them)."""
    by_type: collections.Counter[str] = collections.Counter()
    sizes = []
    for generation in range(3):
        tracked = gc.get_objects(generation)
        sizes.append(len(tracked))
        for each in tracked:
            by_type[f"{type(each).__module__}.{type(each).__qualname__} (generation {generation})"] += 1
        del tracked
    with open(target, "a", encoding="utf-8") as out:
        out.write(f"{time.strftime('%H:%M:%S')} tracked by generation: {sizes}; frozen {gc.get_freeze_count()}\n")
        for what, count in by_type.most_common(30):
            out.write(f"  {count:9d}  {what}\n")


class GarbageCensus:
    """What the collector found unreachable, counted by generation and kind (``gc.callbacks``),
    and what a long young pass had to walk: a pass visits every reference its objects hold, so
    one large young container costs it the container's length. The survivors of a pass are looked
    at after the loop's step (``Watch.after_step``), in the generation they moved to: the
    collector's own lists must not be read from inside a collection, which runs inside whatever
    allocation set it off (a tuple being built, say)."""

    LONG_PASS = 0.005  # CPU seconds: a young pass this long has what survived it written down
    LARGEST = 5
    LONG_PASSES_KEPT = 200

    def __init__(self) -> None:
        self.seen = 0  # gc.garbage's entries already counted: it only grows under DEBUG_SAVEALL
        self.passes = [0, 0, 0]
        self.kinds: list[collections.Counter[str]] = [collections.Counter() for _ in range(3)]
        self._started = 0.0
        self._long: list[tuple[int, float]] = []  # young passes over LONG_PASS in this step
        self.long_steps = 0  # steps with a long young pass; the last LONG_PASSES_KEPT are written down
        self.long_passes: collections.deque[str] = collections.deque(maxlen=self.LONG_PASSES_KEPT)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        generation = info["generation"]
        if phase == "start":
            self._started = time.thread_time()
            return
        cpu = time.thread_time() - self._started
        self.passes[generation] += 1
        found = gc.garbage[self.seen :]
        self.seen = len(gc.garbage)
        self.kinds[generation].update(map(_kind, found))
        if generation < 2 and cpu > self.LONG_PASS and threading.current_thread() is threading.main_thread():
            self._long.append((generation, cpu))

    def after_step(self) -> None:
        if not self._long:
            return
        passes, self._long = self._long, []
        self.long_steps += 1
        generation = max(g for g, _ in passes)
        survivors = gc.get_objects(generation + 1)
        sized = heapq.nlargest(
            self.LARGEST, ((len(each), _kind(each)) for each in survivors if isinstance(each, (list, dict, set)))
        )
        what = ", ".join(f"{kind} of {length:,}" for length, kind in sized)
        took = ", ".join(f"generation {g} {cpu * 1000:.1f} ms" for g, cpu in passes)
        self.long_passes.append(
            f"{time.strftime('%H:%M:%S')} {took} CPU; generation {generation + 1} holds {len(survivors):,} "
            f"objects, the largest: {what}"
        )
        del survivors

    def write(self, target: str) -> None:
        with open(target, "w", encoding="utf-8") as out:
            for generation, kinds in enumerate(self.kinds):
                total = sum(kinds.values())
                out.write(f"generation {generation}: {self.passes[generation]} passes, {total} objects unreachable\n")
                for what, count in kinds.most_common(60):
                    out.write(f"  {count:9d}  {what}\n")
            out.write(f"young passes over {self.LONG_PASS * 1000:.0f} ms of CPU in the loop's thread: ")
            out.write(f"{self.long_steps} steps (the last {len(self.long_passes)} below)\n")
            for line in self.long_passes:
                out.write(f"  {line}\n")


def _kind(each: object) -> str:
    """An unreachable object's kind, told apart where the type alone says little."""
    if isinstance(each, BaseException):
        return f"{type(each).__qualname__}: {str(each)[:80]!r}"
    if isinstance(each, FrameType):
        code = each.f_code
        return f"frame {code.co_name} ({code.co_filename.rsplit('/', 2)[-1]}:{code.co_firstlineno})"
    if isinstance(each, type):
        return f"class {each.__module__}.{each.__qualname__}"
    named = getattr(each, "__qualname__", None) if callable(each) or hasattr(each, "cr_frame") else None
    kind = f"{type(each).__module__}.{type(each).__qualname__}"
    return f"{kind} {named}" if isinstance(named, str) else kind


def main() -> int:
    target, words = sys.argv[1], sys.argv[2:]
    watch = Watch()
    watch.install()
    if garbage_file := os.environ.get("LOOPWATCH_GARBAGE"):
        census = GarbageCensus()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.callbacks.append(census)
        watch.after_step = census.after_step
        atexit.register(census.write, garbage_file)

    def write() -> None:
        with open(target, "w", encoding="utf-8") as out:
            json.dump(watch.report(), out)

    atexit.register(write)
    signal.signal(signal.SIGUSR1, lambda *_: _dump_tasks(target + ".tasks.txt"))
    signal.signal(signal.SIGUSR2, lambda *_: _dump_objects(target + ".objects.txt"))
    from mock_sprinto.cli import main as serve

    return serve(words)


if __name__ == "__main__":
    sys.exit(main())
