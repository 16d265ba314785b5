"""Soak: many clients running whole sync lifecycles against one live server for a while.

    python -m benchmarks.soak [--duration 60] [--clients 50] [--rate-limit 40]   (make soak)

Each client owns an integration and loops: start a session, push pages (half of them gzip, some
first sent broken and resent fixed), sometimes walk away so the session expires, close with
apply, wait until it is processed, then compare the applied records with what was accepted.
The server runs with a per-integration rate limit, so clients are throttled and honour
Retry-After. Everything is on 127.0.0.1 and stops by itself.

Reported: requests (by status), 5xx (must be 0), lost pages (accepted but not applied: must be
0), sessions processed and expired, and the server's RSS at start, peak and end, with the sizes
of the journal and of what expired sessions still hold (both bounded). Exit status 1 when any
5xx, lost page, transport error or unbounded store is seen.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .common import API, ROOT, memory_kib

JOURNAL_SIZE = 5000
INACTIVITY = 3.0  # abandoned sessions expire within the run...
RETENTION = 6.0  # ...and their staged data is purged, so memory must stay flat
PROCESSING = 0.3
# Small retention caps, so a one-minute run reaches them and RSS must level off: what a run of
# hours does with the default caps (1000 sessions, 10000 activity items per integration).
SESSIONS_KEPT = 20
ACTIVITY_KEPT = 300


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    throttled_waits: int = 0
    pages_accepted: int = 0
    pages_rejected: int = 0
    pages_lost: int = 0
    records_mismatch: int = 0
    sessions_processed: int = 0
    sessions_abandoned: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def user(key: int, session_no: int) -> dict[str, Any]:
    return {
        "employeeId": f"E{key}",
        "firstName": "Soak",
        "lastName": f"S{session_no}",
        "workEmail": f"user{key}@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
    }


def rss_kib(pid: int) -> int:
    return memory_kib(pid=pid, missing=0)


class Client:
    """One integration's sync job, run in a loop until the deadline."""

    def __init__(self, index: int, base: str, http: aiohttp.ClientSession, tally: Tally, deadline: float) -> None:
        self.integration = f"soak-{index:03d}"
        self.headers = {"api-key": f"soak-key-{index}"}
        self.base = base
        self.http = http
        self.tally = tally
        self.deadline = deadline
        self.random = random.Random(index)

    async def call(self, method: str, path: str, *, retry_throttled: bool = True, **kwargs: Any) -> tuple[int, Any]:
        while True:
            try:
                async with self.http.request(method, self.base + path, **kwargs) as response:
                    status = response.status
                    text = await response.text()
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.tally.transport_errors += 1
                self.tally.problems.append(f"{method} {path}: {type(exc).__name__}: {exc}")
                return 0, None
            self.tally.statuses[status] += 1
            if status >= 500:
                self.tally.problems.append(f"{method} {path} → {status}: {text[:300]}")
            body = json.loads(text) if text else None
            if status == 429 and retry_throttled:
                self.tally.throttled_waits += 1
                await asyncio.sleep(float(retry_after or 1) * self.random.uniform(0.2, 1.0))
                continue
            return status, body

    def vendor(self, tail: str) -> str:
        return f"{API}/{self.integration}{tail}"

    async def push(self, session_id: str, page: dict[str, Any], *, gzip_it: bool) -> int:
        raw = json.dumps(page).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        if gzip_it:
            raw = gzip.compress(raw, mtime=0)
            headers["Content-Encoding"] = "gzip"
        status, _ = await self.call("POST", self.vendor(f"/sessions/{session_id}/entities"), data=raw, headers=headers)
        return status

    async def run(self) -> None:
        session_no = 0
        while time.monotonic() < self.deadline:
            session_no += 1
            status, session = await self.call("POST", self.vendor("/sessions"), headers=self.headers)
            if status == 409:  # a session we walked away from has not expired yet
                await asyncio.sleep(0.5)
                continue
            if status != 201:
                self.tally.problems.append(f"start → {status}")
                return
            session_id = session["id"]
            accepted_pages = 0
            expected: dict[str, dict[str, Any]] = {}
            next_key = 0
            for _ in range(self.random.randint(1, 5)):
                records = [user(next_key + i, session_no) for i in range(self.random.randint(1, 60))]
                next_key += len(records) // 2  # pages overlap by half: later records must win
                if self.random.random() < 0.15:  # a broken page first: rejected whole, then resent fixed
                    broken = [dict(r) for r in records]
                    broken[-1]["workEmail"] = "not-an-email"
                    if await self.push(session_id, {"entities": {"User": broken}}, gzip_it=False) != 400:
                        self.tally.problems.append("a broken page was not rejected")
                    self.tally.pages_rejected += 1
                zipped = self.random.random() < 0.5
                if await self.push(session_id, {"entities": {"User": records}}, gzip_it=zipped) != 202:
                    self.tally.problems.append("a valid page was not accepted")
                    continue
                accepted_pages += 1
                self.tally.pages_accepted += 1
                expected.update((r["employeeId"], r) for r in records)
            if self.random.random() < 0.05:  # walk away: the session expires and its data is purged
                self.tally.sessions_abandoned += 1
                continue
            status, _ = await self.call(
                "POST", self.vendor(f"/sessions/{session_id}/close"), json={"status": "apply"}, headers=self.headers
            )
            if status != 202:
                self.tally.problems.append(f"close → {status}")
                continue
            await self.verify(session_id, accepted_pages, expected)

    async def verify(self, session_id: str, accepted_pages: int, expected: dict[str, dict[str, Any]]) -> None:
        state = "processing"
        body: Any = None
        for _ in range(200):
            status, body = await self.call("GET", self.vendor(f"/sessions/{session_id}"), headers=self.headers)
            state = body.get("state") if status == 200 else "unknown"
            if state != "processing":
                break
            await asyncio.sleep(PROCESSING / 2)
        if state != "processed":
            self.tally.problems.append(f"session {session_id} ended {state}")
            return
        self.tally.sessions_processed += 1
        self.tally.pages_lost += max(0, accepted_pages - body["accepted_batches"])
        status, applied = await self.call("GET", f"/_mock/integrations/{self.integration}/records/User?limit=100000")
        if status != 200 or {r["employeeId"]: r for r in applied["records"]} != expected:
            self.tally.records_mismatch += 1
            self.tally.problems.append(f"applied records of {session_id} differ from the accepted pages")


def start_server(rate_limit: float, burst: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "mock_sprinto",
        "serve",
        "--port",
        "0",
        "--rate-limit",
        str(rate_limit),
        "--rate-limit-burst",
        str(burst),
        "--inactivity-timeout-seconds",
        str(INACTIVITY),
        "--expired-retention-seconds",
        str(RETENTION),
        "--processing-seconds",
        str(PROCESSING),
        "--journal-size",
        str(JOURNAL_SIZE),
        "--max-sessions-kept",
        str(SESSIONS_KEPT),
        "--activity-log-size",
        str(ACTIVITY_KEPT),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"base URL\s+(http://127\.0\.0\.1:\d+)/", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise SystemExit(f"the server did not start: {process.stderr.read() if process.stderr else ''}")


async def soak(duration: float, clients: int, rate_limit: float, burst: int) -> int:
    process, base = start_server(rate_limit, burst)
    tally = Tally()
    samples: list[int] = []
    try:
        connector = aiohttp.TCPConnector(limit=clients * 2)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
            await asyncio.sleep(0.2)
            rss_start = rss_kib(process.pid)
            began = time.monotonic()
            deadline = began + duration
            jobs = [asyncio.create_task(Client(i, base, http, tally, deadline).run()) for i in range(clients)]

            async def sample() -> None:
                while time.monotonic() < deadline:
                    samples.append(rss_kib(process.pid))
                    await asyncio.sleep(1.0)

            sampler = asyncio.create_task(sample())
            await asyncio.gather(*jobs)
            await sampler
            elapsed = time.monotonic() - began
            # Let the last abandoned sessions expire and be purged, then look at what is held.
            await asyncio.sleep(INACTIVITY + RETENTION + 1)
            async with http.get(base + "/_mock/journal?limit=" + str(JOURNAL_SIZE)) as response:
                journal = await response.json()
            held = 0
            expired = 0
            for i in range(clients):
                async with http.get(f"{base}/_mock/integrations/soak-{i:03d}/sessions") as response:
                    for session in (await response.json())["sessions"]:
                        held += session["staged_bytes"]
                        expired += session["state"] == "expired"
            rss_end = rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        server_log = process.stderr.read() if process.stderr else ""

    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
    bounded = len(journal["entries"]) <= JOURNAL_SIZE and held == 0
    print(f"soak: {clients} clients for {elapsed:.0f}s against {base} (rate limit {rate_limit:g}/s, burst {burst})")
    print(f"  requests        {tally.requests} ({tally.requests / elapsed:.0f}/s); by status: {statuses}")
    print(f"  5xx             {tally.server_errors}")
    print(f"  transport errs  {tally.transport_errors}")
    print(f"  throttled       {tally.statuses[429]} answers of 429, each waited out (Retry-After)")
    print(f"  pages           {tally.pages_accepted} accepted, {tally.pages_rejected} rejected (broken on purpose)")
    print(
        f"  lost pages      {tally.pages_lost} (accepted but not applied); record mismatches {tally.records_mismatch}"
    )
    print(
        f"  sessions        {tally.sessions_processed} processed and verified, {tally.sessions_abandoned} abandoned "
        f"({expired} still listed as expired, holding {held} staged bytes)"
    )
    print(
        f"  journal         {len(journal['entries'])} kept of {journal['total_recorded']} recorded "
        f"(ring of {JOURNAL_SIZE})"
    )
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)] / 1024 for q in (1, 2, 3, 4)] if samples else []
    print(
        f"  server RSS      start {rss_start / 1024:.1f} MiB, peak {max(samples or [0]) / 1024:.1f} MiB, "
        f"end {rss_end / 1024:.1f} MiB; at each quarter of the run: " + " / ".join(f"{value:.1f}" for value in quarters)
    )
    print(f"  retention       {SESSIONS_KEPT} finished sessions, {ACTIVITY_KEPT} activity items kept per integration")
    failed = tally.server_errors or tally.pages_lost or tally.records_mismatch or tally.transport_errors or not bounded
    if "internal error" in server_log:
        failed = True
        print("  server log shows internal errors:\n" + server_log[-2000:])
    for problem in tally.problems[:10]:
        print(f"  problem: {problem}")
    print("  verdict         " + ("FAIL" if failed or tally.problems else "ok"))
    return 1 if failed or tally.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients, one integration each (50)")
    parser.add_argument("--rate-limit", type=float, default=10.0, help="requests/s per integration (10)")
    parser.add_argument("--burst", type=int, default=5, help="token bucket size (5)")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 3600 or not 0 < args.clients <= 500:
        parser.error("keep it bounded: 0 < duration <= 3600 s, 0 < clients <= 500")
    return asyncio.run(soak(args.duration, args.clients, args.rate_limit, args.burst))


if __name__ == "__main__":
    sys.exit(main())
