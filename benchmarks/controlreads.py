"""Section 10, control reads on a busy integration: the longest step of the event loop each makes.

One integration fills the journal (``Scale.busy_requests`` requests: syncs of a start, five pages of
20 ``User`` records, a status read, an apply and a status read), then each control read a person
or a CI job makes of it is made twice. The server runs under ``benchmarks.loopwatch``, which times
every step of its loop; a step is time no other client is served. The baseline is the longest step
of a push in the same run. Issue 21's target, "no pause over 20 ms", is each read's verdict: a
report, an overview or a bundle made in one step held every client 60-230 ms on a full journal.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import ROOT, health_port, page_bytes, read_line_until
from .harness import Context, Part, Section, verdict

TARGET_MS = 20.0  # issue 21: no pause over 20 ms
INTEGRATION = "busy"
WARM = "warm-up"
ONE = f"/_mock/integrations/{INTEGRATION}"
EXPECTATIONS = json.dumps({"counts": [{"status": "5xx", "never": True}]}).encode()
# (what, method, path, body): what a person (the dashboard) or a CI job reads of a busy integration
READS: tuple[tuple[str, str, str, bytes | None], ...] = (
    ("its report", "GET", f"{ONE}/report", None),
    ("its overview (the dashboard, every second)", "GET", f"{ONE}/overview", None),
    ("a verification of its journal", "POST", f"{ONE}/verify", EXPECTATIONS),
    ("its sessions", "GET", f"{ONE}/sessions", None),
    ("its activity", "GET", f"{ONE}/activity", None),
    ("its state bundle", "GET", f"{ONE}/state", None),
    ("the server's state bundle", "GET", "/_mock/state", None),
    ("the journal as HAR", "GET", "/_mock/journal.har", None),
    ("the list of integrations", "GET", "/_mock/integrations", None),
)


def run(requests: int, scratch: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Fill, read, stop; the longest step (ms of CPU) of each read and of a push."""
    watch = scratch / "controlreads-loop.json"
    argv = [sys.executable, "-m", "benchmarks.loopwatch", str(watch), "serve", "--port", "0"]
    argv += ["--processing-seconds", "0", "--journal-size", str(max(requests, 100))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SPRINTO_")}
    env["LOOPWATCH_KEPT"] = str(4 * requests + 1000)  # every read's steps, among the fill's
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    try:
        port = health_port(read_line_until(process, "/_mock/health", timeout))
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        _fill(client, 9, WARM)  # each read once on a small integration first: its imports are not its cost
        for _what, method, path, body in READS:
            _call(client, method, path.replace(ONE, f"/_mock/integrations/{WARM}"), body)
        made = _fill(client, requests, INTEGRATION)
        for _what, method, path, body in READS:
            for _ in range(2):
                _call(client, method, path, body)
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    steps = json.loads(watch.read_text(encoding="utf-8"))["longest"]

    def longest(method: str, path: str) -> float:
        mark = f"_handle_request ({method} {path})"  # the whole path: one read's is not another's prefix
        return max((step["cpu_ms"] for step in steps if mark in step["what"]), default=0.0)

    pushes = [step["cpu_ms"] for step in steps if "(POST" in step["what"] and "/entities" in step["what"]]
    return {
        "requests": made,
        "push_ms": max(pushes),
        "reads": {what: longest(method, path.split("?")[0]) for what, method, path, _ in READS},
    }


def _call(client: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> Any:
    headers = {"api-key": "bench-key", "Content-Type": "application/json"}
    client.request(method, path, body=body, headers=headers)
    response = client.getresponse()
    data = response.read()
    if response.status >= 500:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data and path.startswith("/api/") else None


def _fill(client: http.client.HTTPConnection, requests: int, integration: str) -> int:
    vendor = f"/api/external/push/v1/integrations/{integration}"
    made = sync = 0
    while made < requests:
        session = _call(client, "POST", f"{vendor}/sessions", b"{}")["id"]
        for page in range(5):
            _call(client, "POST", f"{vendor}/sessions/{session}/entities", page_bytes(sync * 100 + page * 20, 20))
        _call(client, "GET", f"{vendor}/sessions/{session}")
        _call(client, "POST", f"{vendor}/sessions/{session}/close", b'{"status": "apply"}')
        _call(client, "GET", f"{vendor}/sessions/{session}")
        made += 9
        sync += 1
    return made


def section(context: Context) -> Section:
    out = Section(10, "control reads on a busy integration: the longest step of the loop each makes")
    found = run(context.scale.busy_requests, context.scratch)
    baseline = f"a push's longest step: {found['push_ms']:.1f} ms"
    for what, ms_cpu in found["reads"].items():
        out.add(
            f"{what}: longest loop step",
            f"{ms_cpu:.1f} ms of CPU",
            baseline,
            f"≤ {TARGET_MS:g} ms",
            verdict(ms_cpu <= TARGET_MS),
        )
    out.notes.append(
        f"one integration's {found['requests']:,} requests (syncs of a start, five 20-record User pages, a status "
        "read, an apply, a status read; the journal holds them all), then each read made twice, the server's loop "
        "timed step by step (benchmarks/loopwatch.py, CPU of the loop's thread). A step is time every other client "
        "waits; a read made a step at a time (mock_sprinto/steps.py) or streamed lets them in between."
    )
    return out


def sections(context: Context) -> Sequence[Section]:
    return [section(context)]


PART = Part((10,), ("control reads on a busy integration",), sections)
