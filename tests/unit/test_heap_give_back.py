"""When freed memory goes back to the OS: once enough was freed, and only when the process is quiet.

A trim hands every free heap page back, and what a busy server stages next faults its pages in
again: trimming at once cost ~10 % of a page's CPU under a steady ingest (issue 21). These tests
drive the quiet check with a fake CPU clock, so they do not depend on the machine's load."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator

import pytest

from mock_sprinto import budget
from mock_sprinto.service import Emulator


class FakeCpu:
    """The process's CPU seconds: ``busy`` makes every reading a whole second later than the last."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.busy = True

    def __call__(self) -> float:
        if self.busy:
            self.seconds += 1.0
        return self.seconds


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Each trim the budget makes, as the loop time it was made at (none really made)."""
    made: list[float] = []

    def record() -> None:
        made.append(asyncio.get_running_loop().time())

    monkeypatch.setattr(budget, "give_back_free_heap", record)
    monkeypatch.setattr(budget, "_freed", [0])
    monkeypatch.setattr(budget, "_waiting", [None])
    monkeypatch.setattr(budget, "_large_drop", [False])
    monkeypatch.setattr(budget, "TRIM_QUIET_SECONDS", 0.01)
    yield made


async def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the trim never came"
        await asyncio.sleep(0.005)


async def test_a_due_trim_waits_until_the_process_is_quiet(trims: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = FakeCpu()
    monkeypatch.setattr(budget, "_process_cpu", cpu)
    budget.freed(budget.TRIM_AFTER_BYTES)
    assert budget.trim_if_due() is True
    for _ in range(3):  # due again while one waits: still one trim
        budget.freed(budget.TRIM_AFTER_BYTES)
        budget.trim_if_due()
    await asyncio.sleep(0.1)  # ~10 checks, every one busy
    assert trims == []
    cpu.busy = False
    await wait_for(lambda: bool(trims))
    await asyncio.sleep(0.05)
    assert len(trims) == 1
    assert budget.trim_if_due() is False  # what was freed before the trim was handed back with it


async def test_a_server_never_quiet_still_gives_memory_back(
    trims: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "_process_cpu", FakeCpu())  # busy at every check
    monkeypatch.setattr(budget, "TRIM_MAX_WAIT_SECONDS", 0.1)
    began = asyncio.get_running_loop().time()
    budget.freed(budget.TRIM_AFTER_BYTES)
    budget.trim_if_due()
    await wait_for(lambda: bool(trims))
    assert trims[0] - began >= 0.1


def test_outside_an_event_loop_the_trim_is_made_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    monkeypatch.setattr(budget, "give_back_free_heap", lambda: made.append(1))
    monkeypatch.setattr(budget, "_freed", [0])
    budget.freed(budget.TRIM_AFTER_BYTES - 1)
    assert budget.trim_if_due() is False and made == []
    budget.freed(1)
    assert budget.trim_if_due() is True and made == [1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_serving_process_keeps_its_freed_heap_for_the_next_pages() -> None:
    """glibc's own thresholds are set (mallopt answers 1) where the C library has them."""
    import ctypes.util

    if "libc" not in (ctypes.util.find_library("c") or ""):
        pytest.skip("not glibc")
    assert budget.keep_heap_while_serving() is True


def test_serving_moves_start_up_out_of_the_collectors_walk_and_leaves_it_as_found() -> None:
    """While serving, what start-up made is frozen (no full collection walks it); once ``serve``
    returns, even on an error, the program around it (a test run) has its collector back."""
    import gc

    from mock_sprinto.cli import serving_process

    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), serving_process():
        assert gc.get_freeze_count() > 1000
        raise RuntimeError("the server stopped badly")
    assert gc.get_freeze_count() == 0


async def test_a_reset_on_a_running_server_gives_the_heap_back_once_quiet(
    trims: list[float], monkeypatch: pytest.MonkeyPatch, make_emulator: Callable[..., Emulator]
) -> None:
    """After the collection a reset schedules (its own request is garbage by then), not before:
    the next test's requests would otherwise fault in what the trim handed back."""
    from mock_sprinto import service

    monkeypatch.setattr(service, "RESET_SETTLE_SECONDS", 0.01)
    cpu = FakeCpu()
    monkeypatch.setattr(budget, "_process_cpu", cpu)
    emulator = make_emulator()
    emulator.authenticate("acme", "k")
    emulator.reset()
    assert trims == []
    await asyncio.sleep(0.1)
    assert trims == []  # busy
    cpu.busy = False
    await wait_for(lambda: bool(trims))


async def test_one_large_drop_gives_the_heap_back_at_once(trims: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    """A big apply's pages or a big integration deleted: more than glibc keeps anyway, and rare
    (1,000,000 applied records held 783 MiB of RSS until the process was quiet, 476 after a trim)."""
    monkeypatch.setattr(budget, "_process_cpu", FakeCpu())  # busy: only an at-once trim can come
    budget.freed(budget.TRIM_AT_ONCE_BYTES)
    assert budget.trim_if_due() is True
    assert len(trims) == 1
    for _ in range(8):  # small drops adding up to as much still wait for quiet
        budget.freed(budget.TRIM_AT_ONCE_BYTES // 8)
    budget.trim_if_due()
    await asyncio.sleep(0.05)
    assert len(trims) == 1
