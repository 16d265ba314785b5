"""The load client: an aiohttp client in its own process, never in the server's.

``python -m benchmarks.load throughput --base URL --kind emulator|bare ...`` runs N workers,
each a closed loop (send a page, wait for the answer, send the next) on its own integration and
session, over one connection each. After a warm-up, it counts pages answered inside a fixed
window and records the latency of every request that started and ended inside it. It also
reads the server's CPU time (``/proc/<pid>/stat``) and its own at the window's edges, so the
figures say how much server CPU a page costs and whether the client itself was the limit.

``python -m benchmarks.load bomb ...`` sends gzip bombs while a bystander client pushes pages.

Each prints one JSON document. Load goes to 127.0.0.1 only; every loop is bounded in count
and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .common import API, gzipped, page_bytes, percentile, process_cpu_seconds, process_cpu_split

API_KEY = "bench-key"
REQUEST_TIMEOUT = 60.0
ROTATE_EVERY = 250  # pages per session before a worker discards it and starts another


def _check_local(base: str) -> None:
    if not base.startswith("http://127.0.0.1:"):
        raise SystemExit(f"load goes to 127.0.0.1 only, not {base!r}")


@dataclass
class Worker:
    """One simulated client: its integration, its current session, what it saw."""

    integration: str
    session: str = ""
    pages_in_session: int = 0
    done: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of 2xx pushes
    errors: int = 0
    first_error: str | None = None


class Client:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    def url(self, integration: str, tail: str) -> str:
        return f"{self.base}{API}/{integration}{tail}"

    async def start(self, worker: Worker) -> None:
        async with self.http.post(self.url(worker.integration, "/sessions"), headers={"api-key": API_KEY}) as r:
            body = await r.json(content_type=None)
            if r.status != 201:
                raise RuntimeError(f"start session answered {r.status}: {body}")
        worker.session = str(body["id"])
        worker.pages_in_session = 0

    async def reset(self, kind: str) -> None:
        """Start from an empty emulator (the bare server keeps nothing)."""
        if kind == "emulator":
            async with self.http.post(self.base + "/_mock/reset") as r:
                await r.read()

    async def rotate(self, worker: Worker, kind: str) -> None:
        """Every ``ROTATE_EVERY`` pages, discard the worker's emulator session and start another."""
        if worker.pages_in_session >= ROTATE_EVERY and kind == "emulator":
            await self.discard(worker)
            await self.start(worker)

    async def discard(self, worker: Worker) -> None:
        async with self.http.post(
            self.url(worker.integration, f"/sessions/{worker.session}/close"),
            headers={"api-key": API_KEY},
            json={"status": "discard"},
        ) as r:
            await r.read()
            if r.status != 202:
                raise RuntimeError(f"close answered {r.status}")

    async def push(self, worker: Worker, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        url = self.url(worker.integration, f"/sessions/{worker.session}/entities")
        async with self.http.post(url, data=body, headers=headers) as r:
            return r.status, await r.read()


def _headers(encoding: str) -> dict[str, str]:
    headers = {"api-key": API_KEY, "Content-Type": "application/json"}
    if encoding == "gzip":
        headers["Content-Encoding"] = "gzip"
    return headers


def _bodies(encoding: str, variants: int = 8) -> list[bytes]:
    plain = [page_bytes(1 + 100 * k) for k in range(variants)]
    return [gzipped(b) for b in plain] if encoding == "gzip" else plain


def _session(concurrency: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency + 2, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))


async def throughput(
    base: str,
    kind: str,
    concurrency: int,
    encoding: str,
    duration: float,
    warmup: float,
    server_pid: int,
    max_requests: int,
    keep: bool = False,
) -> dict[str, Any]:
    """``keep``: what the server holds stays (no reset first), and every session is discarded at
    the end, so the same run repeated in one server shows what a server of some age does."""
    _check_local(base)
    bodies = _bodies(encoding)
    headers = _headers(encoding)
    tag = secrets.token_hex(3)
    workers = [Worker(f"bench-{tag}-{i}") for i in range(concurrency)]
    async with _session(concurrency) as http:
        client = Client(http, base)
        if not keep:
            await client.reset(kind)
        for worker in workers:
            await client.start(worker)
        issued = 0
        t0 = time.perf_counter()
        window_start = t0 + warmup
        window_end = window_start + duration
        marks: dict[str, float] = {}

        def snapshot(edge: str) -> None:
            marks["user" + edge], marks["sys" + edge] = process_cpu_split(server_pid)
            marks["client" + edge], marks["t" + edge] = time.process_time(), time.perf_counter()

        async def sample() -> None:
            await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
            snapshot("0")
            await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
            snapshot("1")

        async def run(worker: Worker, offset: int) -> None:
            nonlocal issued
            k = offset
            while time.perf_counter() < window_end and issued < max_requests:
                await client.rotate(worker, kind)
                issued += 1
                k += 1
                start = time.perf_counter()
                status, answer = await client.push(worker, bodies[k % len(bodies)], headers)
                end = time.perf_counter()
                worker.pages_in_session += 1
                if status == 202:
                    worker.done.append((start, end))
                else:
                    worker.errors += 1
                    if worker.first_error is None:
                        worker.first_error = f"{status}: {answer[:300]!r}"

        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(run(w, i) for i, w in enumerate(workers)))
        if "t1" not in marks:  # stopped early by max_requests: close the window now
            sampler.cancel()
            if "t0" not in marks:
                snapshot("0")
            snapshot("1")
        else:
            await sampler
        if keep and kind == "emulator":
            for worker in workers:
                await client.discard(worker)
    lo, hi = marks["t0"], marks["t1"]
    pages = sum(1 for w in workers for _, end in w.done if lo <= end <= hi)
    latencies = [(end - start) * 1000 for w in workers for start, end in w.done if start >= lo and end <= hi]
    seconds = hi - lo
    server_sys = marks["sys1"] - marks["sys0"]
    server_cpu = marks["user1"] - marks["user0"] + server_sys
    client_cpu = marks["client1"] - marks["client0"]
    errors = sum(w.errors for w in workers)
    return {
        "kind": kind,
        "encoding": encoding,
        "concurrency": concurrency,
        "bytes_per_page": len(bodies[0]),
        "seconds": seconds,
        "pages": pages,
        "pages_per_s": pages / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_page": server_cpu / pages * 1e6 if pages else float("nan"),
        "server_sys_us_per_page": server_sys / pages * 1e6 if pages else float("nan"),
        "client_cpu_share": client_cpu / seconds if seconds > 0 else 0.0,
        "server_cpu_share": server_cpu / seconds if seconds > 0 else 0.0,
        "errors": errors,
        "first_error": next((w.first_error for w in workers if w.first_error), None),
    }


async def bomb(
    base: str, kind: str, bomb_path: Path, bombs: int, quiet: float, server_pid: int, normal_pages: int
) -> dict[str, Any]:
    """Bombs back to back from one client while a bystander keeps pushing ordinary pages."""
    _check_local(base)
    payload = bomb_path.read_bytes()
    gzip_headers = _headers("gzip")
    plain_headers = _headers("plain")
    normal = gzipped(page_bytes(1))
    plain = page_bytes(1)
    tag = secrets.token_hex(3)
    bystander = Worker(f"bench-{tag}-bystander")
    bomber = Worker(f"bench-{tag}-bomber")
    async with _session(4) as http:
        client = Client(http, base)
        await client.reset(kind)
        await client.start(bystander)
        await client.start(bomber)
        # Baseline from the same client and server: an ordinary gzip page, answered 202.
        normal_ms: list[float] = []
        for _ in range(normal_pages):
            start = time.perf_counter()
            status, _ = await client.push(bomber, normal, gzip_headers)
            normal_ms.append((time.perf_counter() - start) * 1000)
            if status != 202:
                raise RuntimeError(f"an ordinary gzip page answered {status}")
        stop = asyncio.Event()
        samples: list[tuple[float, float, int]] = []

        async def keep_pushing() -> None:
            deadline = time.perf_counter() + quiet + bombs * REQUEST_TIMEOUT
            while not stop.is_set() and time.perf_counter() < deadline and len(samples) < 200_000:
                await client.rotate(bystander, kind)
                start = time.perf_counter()
                status, _ = await client.push(bystander, plain, plain_headers)
                samples.append((start, time.perf_counter(), status))
                bystander.pages_in_session += 1

        task = asyncio.create_task(keep_pushing())
        await asyncio.sleep(quiet)
        bomb_runs: list[tuple[float, float, int]] = []
        cpu0 = process_cpu_seconds(server_pid)
        for _ in range(bombs):
            start = time.perf_counter()
            try:
                async with http.post(
                    client.url(bomber.integration, f"/sessions/{bomber.session}/entities"),
                    data=payload,
                    headers=gzip_headers,
                ) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = -1
            bomb_runs.append((start, time.perf_counter(), status))
        cpu1 = process_cpu_seconds(server_pid)
        await asyncio.sleep(0.1)
        stop.set()
        await task
    first, last = bomb_runs[0][0], bomb_runs[-1][1]
    quiet_ms = [(e - s) * 1000 for s, e, _ in samples if e < first]
    during_ms = [(e - s) * 1000 for s, e, _ in samples if s < last and e > first]
    bomb_ms = [(e - s) * 1000 for s, e, _ in bomb_runs]
    return {
        "kind": kind,
        "bomb_wire_bytes": len(payload),
        "bombs": bombs,
        "bomb_statuses": sorted({status for _, _, status in bomb_runs}),
        "bomb_ms_median": percentile(bomb_ms, 50),
        "bomb_ms_max": max(bomb_ms),
        "server_cpu_ms_per_bomb": (cpu1 - cpu0) * 1000 / bombs,
        "normal_gzip_page_ms_median": percentile(normal_ms, 50),
        "bystander_quiet": _spread(quiet_ms),
        "bystander_during": _spread(during_ms),
        "bystander_errors": sum(1 for _, _, status in samples if status != 202),
    }


def _spread(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(latencies_ms),
        "p50_ms": percentile(latencies_ms, 50),
        "p99_ms": percentile(latencies_ms, 99),
        "max_ms": max(latencies_ms, default=float("nan")),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    sub = parser.add_subparsers(dest="mode", required=True)
    tp = sub.add_parser("throughput")
    bp = sub.add_parser("bomb")
    for each in (tp, bp):  # the server under load (see benchmarks.throughput.load_command)
        each.add_argument("--base", required=True)
        each.add_argument("--kind", choices=["emulator", "bare"], required=True)
        each.add_argument("--server-pid", type=int, required=True)
    tp.add_argument("--concurrency", type=int, default=16)
    tp.add_argument("--encoding", choices=["plain", "gzip"], default="plain")
    tp.add_argument("--duration", type=float, default=3.0)
    tp.add_argument("--warmup", type=float, default=0.5)
    tp.add_argument("--max-requests", type=int, default=200_000)
    tp.add_argument("--keep", action="store_true", help="no reset first; discard every session at the end")
    bp.add_argument("--bomb-file", type=Path, required=True)
    bp.add_argument("--bombs", type=int, default=10)
    bp.add_argument("--quiet", type=float, default=1.0)
    bp.add_argument("--normal-pages", type=int, default=20)
    args = parser.parse_args(argv)
    if args.mode == "throughput":
        result = asyncio.run(
            throughput(
                args.base,
                args.kind,
                args.concurrency,
                args.encoding,
                args.duration,
                args.warmup,
                args.server_pid,
                args.max_requests,
                args.keep,
            )
        )
    else:
        result = asyncio.run(
            bomb(args.base, args.kind, args.bomb_file, args.bombs, args.quiet, args.server_pid, args.normal_pages)
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
